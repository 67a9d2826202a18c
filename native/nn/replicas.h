// Copies of one batch stacked along the batch dimension, as the Jacobian probe's batched rows
// evaluate them (spectra/jacobian.cc): while a ReplicaScope is alive on a thread, layers that
// couple a batch's samples (batch norm in training) treat each copy as a batch of its own, so
// every copy sees exactly what the one batch would.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace skipnorm::nn {

class ReplicaScope {
 public:
  explicit ReplicaScope(int64_t copies);
  ~ReplicaScope();
  ReplicaScope(const ReplicaScope&) = delete;
  ReplicaScope& operator=(const ReplicaScope&) = delete;

 private:
  int64_t previous_;
};

// How many copies the current batch holds (1 outside a ReplicaScope).
int64_t replicaCount();

// Training-mode batch norm of `copies` stacked batches, each with its own statistics (the copies'
// channels become channels of their own); no running statistics are updated.
at::Tensor batchNormPerCopy(const at::Tensor& x, int64_t copies, const at::Tensor& weight, const at::Tensor& bias, double eps);

}  // namespace skipnorm::nn
