#include "info/gpus.h"

#ifdef SKIPNORM_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace skipnorm {

std::vector<GpuDescription> gpuDescriptions(int count) {
  std::vector<GpuDescription> out;
#ifdef SKIPNORM_WITH_CUDA
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      cudaGetLastError();  // clear it: a device that cannot be described is left out, not fatal
      continue;
    }
    out.push_back({i, p.name, static_cast<uint64_t>(p.totalGlobalMem), p.major, p.minor, p.multiProcessorCount});
  }
#else
  (void)count;
#endif
  return out;
}

}  // namespace skipnorm
