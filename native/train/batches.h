// Where fit and evaluate take their batches from: a batch for (epoch, index).
//   TensorBatches   in-memory tensors `input` [N, ...] and `labels` [N]: full batch, or seeded
//                   shuffled mini-batches
//   LoaderBatches   a native data loader (native/data/loader.h), prefetching on its own threads;
//                   batches move to the model's device (device_transfer.h), on a GPU up to two
//                   ahead of the step
#pragma once

#include <ATen/ATen.h>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "data/loader.h"
#include "data/order.h"
#include "train/device_transfer.h"

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
  LoaderBatches(std::shared_ptr<data::Loader> loader, at::Device device)
      : loader_(std::move(loader)), transfer_(device, loader_->options().channelsLast), ahead_(transfer_.overlaps() || loader_->options().uint8) {}
  int64_t examples() const override { return loader_->examplesPerEpoch(); }
  int64_t batchSize() const override { return loader_->batchSize(); }
  int64_t batchesPerEpoch() const override { return loader_->batchesPerEpoch(); }
  bool sharded() const override { return true; }
  std::pair<at::Tensor, at::Tensor> batchAt(int64_t epoch, int64_t index) override;

 private:
  using Key = std::pair<int64_t, int64_t>;
  Key after(Key k) const { return k.second + 1 == batchesPerEpoch() ? Key{k.first + 1, 0} : Key{k.first, k.second + 1}; }

  std::shared_ptr<data::Loader> loader_;
  DeviceTransfer transfer_;
  // Batches already on their way (up to two after the one asked for): started when the loader
  // has them, so the copies run while the steps before them compute.
  bool ahead_;
  std::deque<std::pair<Key, std::shared_ptr<DeviceTransfer::Moving>>> moving_;
};

}  // namespace skipnorm::train
