// A training step captured once in a CUDA graph (core/cuda_graph.h) and replayed, for steps whose
// shapes never change (full-batch and fixed-batch training): one graph launch replaces the step's
// hundreds of kernel launches, so small models stop being bound by the host. Follows
// torch.cuda.graphs' recipe: warm-up steps on a side stream, capture on that stream, inputs copied
// into static tensors before each replay. The step must not synchronise with the host.
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "core/cuda_graph.h"
#include "train/train_step.h"

namespace skipnorm::train {

class GraphedStep {
 public:
  // The step on the static inputs; what it leaves in tensors it keeps is rewritten by each replay.
  using Step = std::function<void(const at::Tensor& input, const at::Tensor& labels)>;

  // Switches this thread to a side stream of `device` until destruction (all work of the loop
  // then runs in order on it); `warmupSteps` eager steps come before the capture, and
  // `beforeCapture` runs just before it (fit sets gradients to none there, so that backward
  // allocates them from the graph's memory pool, as torch.cuda.graphs' recipe does).
  GraphedStep(at::Device device, Step step, int64_t warmupSteps, std::function<void()> beforeCapture);

  // One training step on (input, labels): eager while warming up, then captured once and
  // replayed. Every call must have the first call's shapes, dtypes and device.
  void run(const at::Tensor& input, const at::Tensor& labels);
  // The captured step is stale (a host-side value it baked in, like the learning rate, changed):
  // capture again at the next run.
  void invalidate() { stale_ = true; }

 private:
  static at::Device checkedDevice(at::Device device);

  CudaGraph graph_;
  Step step_;
  std::function<void()> beforeCapture_;
  int64_t warmupSteps_, done_ = 0;
  at::Tensor input_, labels_;  // static: each batch is copied in before the step runs
  bool stale_ = false;
};

// fit's step with cudaGraph: the eager step (float16's host-side loss scaling excluded) captured
// after 3 warm-up steps; what it leaves on the device (the last step's loss and correct counts,
// the epoch's sums) is rewritten by each replay. A changed learning rate captures it again (the
// rate is baked into the captured update).
class GraphedTrainStep : public TrainStep {
 public:
  GraphedTrainStep(StepSettings settings, at::Device device);
  void run(const at::Tensor& input, const at::Tensor& labels, double lrFactor) override;

 private:
  void step(const at::Tensor& input, const at::Tensor& labels);
  GraphedStep graph_;
};

}  // namespace skipnorm::train
