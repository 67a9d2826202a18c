#include "train/graphed_step.h"

#include <optional>

#ifdef SKIPNORM_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace skipnorm::train {

#ifdef SKIPNORM_WITH_CUDA

struct GraphedStep::Impl {
  Step step;
  std::function<void()> beforeCapture;
  int64_t warmupSteps = 0, done = 0, captures = 0;
  c10::cuda::CUDAStream side;
  std::optional<c10::cuda::CUDAStreamGuard> guard;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  at::Tensor input, labels;  // static: each batch is copied in before the step runs
  bool stale = false;

  Impl(c10::cuda::CUDAStream s) : side(s) {}

  void capture() {
    graph.reset();
    if (beforeCapture) beforeCapture();
    auto g = std::make_unique<at::cuda::CUDAGraph>();
    // Thread-local capture: the data loader's threads may keep using CUDA meanwhile.
    g->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    try {
      step(input, labels);
    } catch (...) {
      try {
        g->capture_end();
      } catch (...) {
      }
      throw;
    }
    g->capture_end();
    graph = std::move(g);
    stale = false;
    ++captures;
  }
};

GraphedStep::GraphedStep(at::Device device, Step step, int64_t warmupSteps, std::function<void()> beforeCapture) {
  TORCH_CHECK(device.is_cuda(), "cudaGraph needs the model on a CUDA device; its parameters are on ", device);
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
  // Capture cannot happen on the legacy default stream: the whole loop runs on a side stream,
  // after everything already queued on the caller's (the model's transfers). One wait per fit.
  c10::cuda::getCurrentCUDAStream(index).synchronize();
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, index);
  impl_ = std::make_unique<Impl>(side);
  impl_->step = std::move(step);
  impl_->beforeCapture = std::move(beforeCapture);
  impl_->warmupSteps = std::max<int64_t>(1, warmupSteps);  // lazily created state (momentum) must exist before capture
  impl_->guard.emplace(side);
}

GraphedStep::~GraphedStep() {
  // The loop's work is finished before the caller's stream (and JavaScript) touches the
  // parameters, gradients and optimiser state again, and before the graph goes.
  try {
    impl_->side.synchronize();
  } catch (...) {
  }
  impl_->guard.reset();
}

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
    if (!s.graph || s.stale) s.capture();
    s.graph->replay();
  }
  ++s.done;
}

void GraphedStep::invalidate() { impl_->stale = true; }
bool GraphedStep::captured() const { return impl_->graph != nullptr; }
int64_t GraphedStep::captures() const { return impl_->captures; }

#else  // a CPU-only LibTorch

struct GraphedStep::Impl {};

GraphedStep::GraphedStep(at::Device, Step, int64_t, std::function<void()>) {
  TORCH_CHECK(false, "cudaGraph needs a CUDA build of skipnorm: this addon was built against a LibTorch without CUDA");
}
GraphedStep::~GraphedStep() = default;
void GraphedStep::run(const at::Tensor&, const at::Tensor&) {}
void GraphedStep::invalidate() {}
bool GraphedStep::captured() const { return false; }
int64_t GraphedStep::captures() const { return 0; }

#endif

}  // namespace skipnorm::train
