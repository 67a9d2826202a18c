#include "train/graphed_step.h"

namespace skipnorm::train {

at::Device GraphedStep::checkedDevice(at::Device device) {
  TORCH_CHECK(device.is_cuda(), "cudaGraph needs the model on a CUDA device; its parameters are on ", device);
  return device;
}

GraphedStep::GraphedStep(at::Device device, Step step, int64_t warmupSteps, std::function<void()> beforeCapture)
    : graph_(checkedDevice(device)),
      step_(std::move(step)),
      beforeCapture_(std::move(beforeCapture)),
      warmupSteps_(std::max<int64_t>(1, warmupSteps)) {}  // lazily created state (momentum) must exist before capture

void GraphedStep::run(const at::Tensor& input, const at::Tensor& labels) {
  if (!input_.defined()) {
    TORCH_CHECK(input.device() == labels.device() && input.is_cuda(), "cudaGraph needs the batches on the model's CUDA device; they are on ", input.device());
    input_ = at::empty_like(input);
    labels_ = at::empty_like(labels);
  } else {
    TORCH_CHECK(input.sizes() == input_.sizes() && labels.sizes() == labels_.sizes() && input.scalar_type() == input_.scalar_type() &&
                    labels.scalar_type() == labels_.scalar_type() && input.device() == input_.device(),
                "cudaGraph replays one batch shape: this batch's input is ", input.sizes(), ", the captured one's ", input_.sizes(),
                " (use dropLast, or a batch size that divides the data)");
  }
  input_.copy_(input, /*non_blocking=*/true);
  labels_.copy_(labels, /*non_blocking=*/true);
  if (done_ < warmupSteps_) {
    step_(input_, labels_);
  } else {
    if (!graph_.captured() || stale_) {
      if (beforeCapture_) beforeCapture_();
      graph_.capture([&] { step_(input_, labels_); });
      stale_ = false;
    }
    graph_.replay();
  }
  ++done_;
}

GraphedTrainStep::GraphedTrainStep(StepSettings settings, at::Device device)
    : TrainStep(std::move(settings)),
      graph_(device, [this](const at::Tensor& x, const at::Tensor& y) { step(x, y); }, 3, [this] { s_.optimizer->zeroGrad(); }) {}

void GraphedTrainStep::run(const at::Tensor& input, const at::Tensor& labels, double lrFactor) {
  if (s_.optimizer->setLrFactor(lrFactor)) graph_.invalidate();
  graph_.run(input, labels);
}

// Without a read on the host, so that it can be captured.
void GraphedTrainStep::step(const at::Tensor& x, const at::Tensor& y) {
  s_.optimizer->zeroGrad();
  at::Tensor out = forward(x, /*autocastCache=*/false);
  at::Tensor l = computeLoss(s_.loss, out.to(at::kFloat), y);
  l.backward();
  if (s_.clipNorm) clipGradNorm(s_.optimizer->params(), *s_.clipNorm);
  s_.optimizer->step();
  record(l, out, y);
}

}  // namespace skipnorm::train
