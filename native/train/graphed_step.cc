#include "train/graphed_step.h"

#include "core/cuda_graph.h"

namespace skipnorm::train {

struct GraphedStep::Impl {
  Step step;
  std::function<void()> beforeCapture;
  int64_t warmupSteps = 0, done = 0, captures = 0;
  CudaGraph graph;
  at::Tensor input, labels;  // static: each batch is copied in before the step runs
  bool stale = false;
  explicit Impl(at::Device device) : graph(device) {}
};

GraphedStep::GraphedStep(at::Device device, Step step, int64_t warmupSteps, std::function<void()> beforeCapture) {
  TORCH_CHECK(device.is_cuda(), "cudaGraph needs the model on a CUDA device; its parameters are on ", device);
  impl_ = std::make_unique<Impl>(device);
  impl_->step = std::move(step);
  impl_->beforeCapture = std::move(beforeCapture);
  impl_->warmupSteps = std::max<int64_t>(1, warmupSteps);  // lazily created state (momentum) must exist before capture
}

GraphedStep::~GraphedStep() = default;

void GraphedStep::run(const at::Tensor& input, const at::Tensor& labels) {
  Impl& s = *impl_;
  if (!s.input.defined()) {
    TORCH_CHECK(input.device() == labels.device() && input.is_cuda(), "cudaGraph needs the batches on the model's CUDA device; they are on ", input.device());
    s.input = at::empty_like(input);
    s.labels = at::empty_like(labels);
  } else {
    TORCH_CHECK(input.sizes() == s.input.sizes() && labels.sizes() == s.labels.sizes() && input.scalar_type() == s.input.scalar_type() &&
                    labels.scalar_type() == s.labels.scalar_type() && input.device() == s.input.device(),
                "cudaGraph replays one batch shape: this batch's input is ", input.sizes(), ", the captured one's ", s.input.sizes(),
                " (use dropLast, or a batch size that divides the data)");
  }
  s.input.copy_(input, /*non_blocking=*/true);
  s.labels.copy_(labels, /*non_blocking=*/true);
  if (s.done < s.warmupSteps) {
    s.step(s.input, s.labels);
  } else {
    if (!s.graph.captured() || s.stale) {
      if (s.beforeCapture) s.beforeCapture();
      s.graph.capture([&] { s.step(s.input, s.labels); });
      s.stale = false;
      ++s.captures;
    }
    s.graph.replay();
  }
  ++s.done;
}

void GraphedStep::invalidate() { impl_->stale = true; }
bool GraphedStep::captured() const { return impl_->graph.captured(); }
int64_t GraphedStep::captures() const { return impl_->captures; }

}  // namespace skipnorm::train
