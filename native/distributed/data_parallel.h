// Data-parallel training on the process group, as torch's DistributedDataParallel: parameters
// and buffers broadcast from rank 0 at the start, then every step's gradients averaged across
// ranks by c10d's own Reducer, which all-reduces buckets of gradients (1 MB first, then 25 MB) as
// the backward pass produces them, overlapping communication with computation.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "nn/layer.h"

namespace c10d {
class Reducer;
}

namespace skipnorm::distributed {

class DataParallel {
 public:
  // Collective: every rank must construct it at the same point.
  explicit DataParallel(nn::Layer& model);
  ~DataParallel();
  void beforeForward();
  // The Reducer finds the parameters this output does not reach (their gradients count as zero).
  void beforeBackward(const at::Tensor& output);
  int rank() const { return rank_; }
  int worldSize() const { return size_; }

 private:
  std::unique_ptr<c10d::Reducer> reducer_;
  int rank_ = 0, size_ = 1;
};

}  // namespace skipnorm::distributed
