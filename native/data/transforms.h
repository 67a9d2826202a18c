// Per-example transforms in C++, with torchvision's semantics (parameters drawn from a per-example
// generator seeded by (seed, epoch, index), so results do not depend on thread scheduling):
//   randomResizedCrop(size, scale, ratio)  torchvision's RandomResizedCrop (10 tries, then centre)
//   resize(size | [h, w])                  shorter side to size (aspect kept), or exactly h x w;
//                                          bilinear with antialiasing, as PIL's
//   centerCrop(h, w)                       zero-padded when the image is smaller, as torchvision
//   randomCrop(h, w, padding)              zero padding, then a uniformly placed crop
//   horizontalFlip(p)
//   normalize(mean, std)                   after scaling to [0, 1] (ToTensor)
// Output: float32 [C, H, W] in [0, 1], normalised when asked.
#pragma once

#include <ATen/ATen.h>

#include <random>
#include <vector>

#include "data/dataset.h"

namespace skipnorm::data {

using Rng = std::mt19937_64;

struct TransformStep {
  enum class Kind { RandomResizedCrop, Resize, CenterCrop, RandomCrop, HorizontalFlip, Normalize } kind;
  std::vector<int64_t> size;  // [h, w] (resize: [s] for the shorter side)
  double scale[2] = {0.08, 1.0};
  double ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  int64_t padding = 0;
  double p = 0.5;
  std::vector<double> mean, std;

  static TransformStep resize(std::vector<int64_t> size) { return {Kind::Resize, std::move(size)}; }
  static TransformStep centerCrop(int64_t h, int64_t w) { return {Kind::CenterCrop, {h, w}}; }
};

struct Pipeline {
  std::vector<TransformStep> steps;
  bool random() const;
  // The transformed image, uint8 [H, W, C] (every step but normalize). rng may be null when no
  // step is random.
  at::Tensor applyUint8(const Dataset& dataset, int64_t index, Rng* rng) const;
  // Writes the image as float [C, H, W] (scaled to [0, 1], normalised) into `out`.
  void toFloat(const at::Tensor& image, float* out) const;
  const TransformStep* normalizeStep() const;
};

// The per-example generator of (seed, epoch, index).
Rng exampleRng(uint64_t seed, int64_t epoch, int64_t index);

// Bilinear resize with antialiasing (PIL's filter when shrinking) of uint8 [H, W, C].
at::Tensor resizeImage(const at::Tensor& image, int64_t height, int64_t width);

}  // namespace skipnorm::data
