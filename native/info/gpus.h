// The CUDA devices this process sees, described by the CUDA runtime (name, memory, compute
// capability). Empty in a CPU-only build or without a GPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skipnorm {

struct GpuDescription {
  int index = 0;
  std::string name;
  uint64_t memoryBytes = 0;
  int major = 0, minor = 0, multiprocessors = 0;
};

std::vector<GpuDescription> gpuDescriptions(int count);

}  // namespace skipnorm
