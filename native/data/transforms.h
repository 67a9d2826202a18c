// Per-example transforms in C++, with torchvision's semantics (parameters drawn from a per-example
// generator seeded by (seed, epoch, index), so results do not depend on thread scheduling):
//   randomResizedCrop(size, scale, ratio)  torchvision's RandomResizedCrop (10 tries, then centre)
//   resize(size | [h, w])                  shorter side to size (aspect kept), or exactly h x w;
//                                          bilinear with antialiasing, as PIL's
//   centerCrop(h, w)                       zero-padded when the image is smaller, as torchvision
//   randomCrop(h, w, padding)              zero padding, then a uniformly placed crop
//   horizontalFlip(p)
//   normalize(mean, std)                   after scaling to [0, 1] (ToTensor)
// Output: float32 [C, H, W] (or [H, W, C] for channels-last batches) in [0, 1], normalised when
// asked. The geometric steps work on views (a crop moves a pointer, a flip is a flag read when the
// example is stored), resizes write into buffers the thread reuses: no tensor is made per example.
#pragma once

#include <ATen/ATen.h>

#include <random>
#include <vector>

#include "data/convert.h"
#include "data/dataset.h"
#include "data/resample.h"

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

// What one thread reuses from example to example.
struct Scratch {
  PixelBuffer decoded;  // a decoded file
  PixelBuffer work[2];  // resized or padded pixels, alternately
  ResampleScratch resample;
  // The work buffer that does not hold `view` (the next step's output).
  PixelBuffer& other(const ImageView& view) { return work[0].holds(view.data) ? work[1] : work[0]; }
  void trim();
};

// An example after the geometric steps: its pixels, to be read mirrored when flipped.
struct Example {
  ImageView view;
  bool flipped = false;
};

struct Pipeline {
  std::vector<TransformStep> steps;
  bool random() const;
  // Every step but normalize. rng may be null when no step is random. The view lives in the
  // dataset's memory or in `scratch` until the next call with it.
  Example run(const Dataset& dataset, int64_t index, Rng* rng, Scratch& scratch) const;
  // The same as a new tensor uint8 [H, W, C].
  at::Tensor applyUint8(const Dataset& dataset, int64_t index, Rng* rng) const;
  // Writes the example as float (scaled to [0, 1], normalised) into `out`: [C, H, W], or
  // [H, W, C] when channelsLast.
  void store(const Example& example, float* out, bool channelsLast) const;
  // Writes the example's pixels as they are, uint8 [H, W, C] (mirrored when flipped).
  void storeBytes(const Example& example, uint8_t* out) const;
  // What store() applies per channel: value * scale + shift (ToTensor's 1/255, then normalize).
  RowScale rowScale(int64_t channels) const;
  const TransformStep* normalizeStep() const;
};

// The per-example generator of (seed, epoch, index).
Rng exampleRng(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace skipnorm::data
