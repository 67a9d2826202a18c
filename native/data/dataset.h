// Datasets: images (uint8 [H, W, C]) and integer labels, read from the formats users have.
//   TensorDataset   in-memory images [N, H, W, C] (MNIST idx, CIFAR binaries, the bundled digits,
//                   the user's own tensors)
//   FolderDataset   one subfolder per class of JPEG and PNG files, decoded on demand
//   PackedDataset   a `skipnorm data pack` file: pre-resized images, memory-mapped
// Reading an example is thread-safe: loaders call it from many threads at once.
#pragma once

#include <ATen/ATen.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/jobs.h"
#include "data/image.h"

namespace skipnorm::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t label(int64_t index) const = 0;
  // The pixels of example `index`, with a plan possibly just the planned region: a view of the
  // dataset's own memory, or of pixels decoded into `buffer` (the caller's, reused). Throws
  // CorruptImage for a file that cannot be decoded.
  virtual ImageView pixels(int64_t index, const CropPlan& plan, PixelBuffer& buffer) const = 0;
  // The same as a new tensor uint8 [H, W, C].
  at::Tensor image(int64_t index, const CropPlan& plan) const {
    PixelBuffer buffer;
    return toTensor(pixels(index, plan, buffer));
  }
  // Where example `index` comes from, for error messages.
  virtual std::string describe(int64_t index) const { return "example " + std::to_string(index); }

  std::string format;
  int64_t classes = 0;
  std::vector<std::string> classNames;  // empty where classes are just numbers
  bool skipCorrupt = false;             // a corrupt example is skipped and counted, not an error
};

class TensorDataset : public Dataset {
 public:
  // images uint8 [N, H, W, C] contiguous, labels int64 [N] in [0, classes).
  TensorDataset(at::Tensor images, at::Tensor labels, int64_t classes, std::string format);
  int64_t size() const override { return images_.size(0); }
  int64_t label(int64_t index) const override { return labels_[index]; }
  ImageView pixels(int64_t index, const CropPlan& plan, PixelBuffer&) const override;
  const at::Tensor& images() const { return images_; }

 private:
  at::Tensor images_;
  at::Tensor labelTensor_;
  const int64_t* labels_;
};

// Some examples of another dataset, in the given order (e.g. a seeded subset for short runs).
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<Dataset> parent, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t label(int64_t index) const override { return parent_->label(indices_[index]); }
  ImageView pixels(int64_t index, const CropPlan& plan, PixelBuffer& buffer) const override { return parent_->pixels(indices_[index], plan, buffer); }
  std::string describe(int64_t index) const override { return parent_->describe(indices_[index]); }

 private:
  std::shared_ptr<Dataset> parent_;
  std::vector<int64_t> indices_;
};

// MNIST idx files (plain or gzip) in root: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz],
// also under root/MNIST/raw as torchvision keeps them.
std::shared_ptr<Dataset> openMnist(const std::string& root, bool train);
// CIFAR binary batches in root or root/cifar-{10,100}-batches-bin / cifar-100-binary.
std::shared_ptr<Dataset> openCifar10(const std::string& root, bool train);
std::shared_ptr<Dataset> openCifar100(const std::string& root, bool train, bool coarse);
// One subfolder of root per class (sorted by name), JPEG and PNG files in it, found recursively.
std::shared_ptr<Dataset> openFolder(const std::string& root, bool skipCorrupt);
// A packed file (packed.cc).
std::shared_ptr<Dataset> openPacked(const std::string& file);

// Resize-shorter-side + center-crop every image to height x width and write a packed file
// atomically (packed.cc), reporting progress to the job; returns the examples skipped.
int64_t writePacked(const Dataset& dataset, const std::string& file, int64_t height, int64_t width, int threads, JobContext& ctx);

}  // namespace skipnorm::data
