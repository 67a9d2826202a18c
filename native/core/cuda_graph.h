// CUDA graphs: work captured once and replayed with one launch. A CudaGraph switches the thread to
// a side stream of its device for its whole life (capture cannot happen on the legacy default
// stream, and everything around the replays must be ordered with them); the work it captures must
// not synchronise with the host (no .item()). Used by fit's graphed step (train/graphed_step.h)
// and by the graphed Jacobian probe (spectra/jacobian.cc).
//
// Only a CUDA build of LibTorch has CUDA graphs; elsewhere constructing one throws a TorchError.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>

namespace skipnorm {

class CudaGraph {
 public:
  // The side stream starts after the work already queued on the thread's current stream.
  explicit CudaGraph(at::Device device);
  // Waits for the side stream's work, then gives the thread its stream back.
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records fn's kernels (without running them), replacing an earlier capture. Tensors fn
  // allocates come from the graph's own memory pool and are rewritten by each replay.
  void capture(const std::function<void()>& fn);
  void replay();
  bool captured() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skipnorm
