// Synchronised batch norm: in training, the batch statistics of every rank's batch together, as
// torch.nn.SyncBatchNorm: per-channel sums and counts all-reduced in the forward pass, and the
// sums the input gradient needs all-reduced in the backward pass. Switched on for the current
// thread by a SyncBatchNormScope (fit with distributed.syncBatchNorm); BatchNorm layers check it.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace skipnorm::distributed {

class SyncBatchNormScope {
 public:
  SyncBatchNormScope();
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  bool previous_;
};

bool syncBatchNormActive();

// Training-mode batch norm over all ranks' batches; updates the running statistics (momentum
// `factor`, unbiased variance) with the global statistics.
at::Tensor syncBatchNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean, const at::Tensor& runningVar,
                         double factor, double eps);

}  // namespace skipnorm::distributed
