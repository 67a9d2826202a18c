// Data-parallel training on the process group, as torch's DistributedDataParallel: parameters
// and buffers broadcast from rank 0 at the start, then every step's gradients averaged across
// ranks by c10d's own Reducer, which all-reduces buckets of gradients (1 MB first, then 25 MB) as
// the backward pass produces them, overlapping communication with computation.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

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
  // The Reducer warns, once, when find_unused_parameters finds none (we keep it on for models with
  // unused branches, such as a switched-off projection): that message is dropped, others pass.
  struct QuietUnusedWarning : c10::WarningHandler {
    c10::WarningHandler* next = nullptr;
    void process(const c10::Warning& warning) override;
  } quiet_;
  std::unique_ptr<c10::WarningUtils::WarningHandlerGuard> quietGuard_;
  int rank_ = 0, size_ = 1;
};

}  // namespace skipnorm::distributed
