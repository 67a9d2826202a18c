// NCCL's c10d backend, for data parallelism between GPUs. Only a CUDA build whose CMake found
// nccl.h (and the CUDA library headers ProcessGroupNCCL.hpp includes) has it: SKIPNORM_WITH_NCCL.
#include "distributed/group.h"

#ifdef SKIPNORM_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace skipnorm::distributed {

c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, std::chrono::milliseconds timeout) {
#ifdef SKIPNORM_WITH_NCCL
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
#else
  (void)store, (void)rank, (void)size, (void)timeout;
  TORCH_CHECK(false, "backend 'nccl' needs a CUDA build of skipnorm with NCCL (nccl.h found at build time); this one has ",
#ifdef SKIPNORM_WITH_CUDA
              "CUDA but no NCCL headers"
#else
              "no CUDA"
#endif
              ": use backend 'gloo'");
#endif
}

void shutdownNcclBackend(c10d::Backend& backend, bool abort) {
#ifdef SKIPNORM_WITH_NCCL
  auto& nccl = static_cast<c10d::ProcessGroupNCCL&>(backend);
  if (abort) nccl.abort();
  else nccl.shutdown();
#else
  (void)backend, (void)abort;
#endif
}

}  // namespace skipnorm::distributed
