// Where fit and evaluate take their batches from: a batch for (epoch, index).
//   TensorBatches   in-memory tensors `input` [N, ...] and `labels` [N]: full batch, or seeded
//                   shuffled mini-batches
//   LoaderBatches   a native data loader (native/data/loader.h), prefetching on its own threads;
//                   its uint8 batches are converted and normalised on the model's device
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <vector>

#include "data/loader.h"
#include "data/order.h"

namespace skipnorm::train {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t examples() const = 0;
  virtual int64_t batchSize() const = 0;
  virtual int64_t batchesPerEpoch() const = 0;
  virtual std::pair<at::Tensor, at::Tensor> batchAt(int64_t epoch, int64_t index) = 0;
  // Whether batches are already this rank's share (a loader sharded by rank).
  virtual bool sharded() const { return false; }
  // The in-memory tensors it reads (JavaScript may not write to them while a job runs).
  virtual std::vector<at::Tensor> tensors() const { return {}; }
  // Polled while waiting for a batch (a loader's): true ends the wait with JobCancelled.
  std::function<bool()> cancelled;
};

class TensorBatches : public BatchSource {
 public:
  at::Tensor input, labels;
  int64_t size = 0;  // 0: full batch
  bool shuffle = true, dropLast = false;
  uint64_t seed = 0;

  int64_t examples() const override { return input.size(0); }
  std::vector<at::Tensor> tensors() const override { return {input, labels}; }
  int64_t batchSize() const override { return size == 0 ? examples() : std::min(size, examples()); }
  int64_t batchesPerEpoch() const override { return dropLast ? examples() / batchSize() : (examples() + batchSize() - 1) / batchSize(); }
  std::pair<at::Tensor, at::Tensor> batchAt(int64_t epoch, int64_t index) override {
    const int64_t start = index * batchSize(), end = std::min(examples(), start + batchSize());
    if (!shuffle || size == 0) return {input.slice(0, start, end), labels.slice(0, start, end)};
    if (epoch != orderEpoch_) {
      order_ = data::epochOrder(examples(), seed, epoch);
      orderEpoch_ = epoch;
    }
    at::Tensor idx = order_.slice(0, start, end);
    return {input.index_select(0, idx.to(input.device())), labels.index_select(0, idx.to(labels.device()))};
  }

 private:
  at::Tensor order_;
  int64_t orderEpoch_ = -1;
};

class LoaderBatches : public BatchSource {
 public:
  explicit LoaderBatches(std::shared_ptr<data::Loader> loader, at::Device device) : loader_(std::move(loader)), device_(device) {}
  int64_t examples() const override { return loader_->examplesPerEpoch(); }
  int64_t batchSize() const override { return loader_->batchSize(); }
  int64_t batchesPerEpoch() const override { return loader_->batchesPerEpoch(); }
  bool sharded() const override { return true; }
  std::pair<at::Tensor, at::Tensor> batchAt(int64_t epoch, int64_t index) override {
    data::Batch b = loader_->batch(epoch, index, cancelled);
    at::Tensor labels = b.labels.to(device_, /*non_blocking=*/true);
    if (b.input.scalar_type() != at::kByte) return {b.input.to(device_, /*non_blocking=*/true), labels};
    // uint8 [n, H, W, C] crosses to the device (asynchronously from pinned memory), where one
    // kernel converts and normalises it into the float batch, in the loader's layout.
    const at::Tensor pixels = b.input.to(device_, /*non_blocking=*/true).permute({0, 3, 1, 2});
    const int64_t c = pixels.size(1);
    const auto floats = at::TensorOptions().dtype(at::kFloat);
    const at::Tensor scale = at::tensor(b.scale, floats).view({1, c, 1, 1}).to(device_, /*non_blocking=*/true);
    const at::Tensor shift = at::tensor(b.shift, floats).view({1, c, 1, 1}).to(device_, /*non_blocking=*/true);
    const auto format = loader_->options().channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    at::Tensor input = at::empty(pixels.sizes(), floats.device(device_).memory_format(format));
    at::addcmul_out(input, shift, pixels, scale);
    return {input, labels};
  }

 private:
  std::shared_ptr<data::Loader> loader_;
  at::Device device_;
};

}  // namespace skipnorm::train
