#include "train/batches.h"

namespace skipnorm::train {

std::pair<at::Tensor, at::Tensor> LoaderBatches::batchAt(int64_t epoch, int64_t index) {
  if (!ahead_) return transfer_.arrive(*transfer_.start(loader_->batch(epoch, index, cancelled)));
  const Key key{epoch, index};
  // Batches on their way before this one are not wanted; after it, only if asked in order.
  while (!moving_.empty() && moving_.front().first < key) moving_.pop_front();
  std::shared_ptr<DeviceTransfer::Moving> current;
  if (!moving_.empty() && moving_.front().first == key) {
    current = moving_.front().second;
    moving_.pop_front();
  } else {
    moving_.clear();
    current = transfer_.start(loader_->batch(epoch, index, cancelled));
  }
  // The next two, if the loader already has them: their copies overlap this step.
  Key next = moving_.empty() ? after(key) : after(moving_.back().first);
  while (moving_.size() < 2) {
    std::optional<data::Batch> b = loader_->batchIfReady(next.first, next.second);
    if (!b) break;
    moving_.emplace_back(next, transfer_.start(*b));
    next = after(next);
  }
  return transfer_.arrive(*current);
}

}  // namespace skipnorm::train
