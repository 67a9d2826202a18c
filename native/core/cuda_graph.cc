#include "core/cuda_graph.h"

#include <optional>

#ifdef SKIPNORM_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace skipnorm {

#ifdef SKIPNORM_WITH_CUDA

struct CudaGraph::Impl {
  c10::cuda::CUDAStream side;
  std::optional<c10::cuda::CUDAStreamGuard> guard;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  explicit Impl(c10::cuda::CUDAStream s) : side(s) {}
};

CudaGraph::CudaGraph(at::Device device) {
  TORCH_CHECK(device.is_cuda(), "CUDA graphs need a CUDA device, not ", device);
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
  // After everything already queued on the caller's stream (one wait per graph's life).
  c10::cuda::getCurrentCUDAStream(index).synchronize();
  impl_ = std::make_unique<Impl>(c10::cuda::getStreamFromPool(false, index));
  impl_->guard.emplace(impl_->side);
}

CudaGraph::~CudaGraph() {
  try {
    impl_->side.synchronize();
  } catch (...) {
  }
  impl_->guard.reset();
}

void CudaGraph::capture(const std::function<void()>& fn) {
  impl_->graph.reset();
  auto g = std::make_unique<at::cuda::CUDAGraph>();
  // Thread-local capture: other threads (a data loader's, say) may keep using CUDA meanwhile.
  g->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
  try {
    fn();
  } catch (...) {
    try {
      g->capture_end();
    } catch (...) {
    }
    throw;
  }
  g->capture_end();
  impl_->graph = std::move(g);
}

void CudaGraph::replay() {
  TORCH_CHECK(impl_->graph, "CudaGraph::replay before a capture");
  impl_->graph->replay();
}

bool CudaGraph::captured() const { return impl_->graph != nullptr; }

#else  // a CPU-only LibTorch

struct CudaGraph::Impl {};

CudaGraph::CudaGraph(at::Device) {
  TORCH_CHECK(false, "cudaGraph needs a CUDA build of skipnorm: this addon was built against a LibTorch without CUDA");
}
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) {}
void CudaGraph::replay() {}
bool CudaGraph::captured() const { return false; }

#endif

}  // namespace skipnorm
