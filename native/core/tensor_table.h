// Owns every tensor that JavaScript holds. JavaScript sees a tensor as a number (a handle):
// a slot index in the low 32 bits and the slot's generation above, so a stale handle from a
// disposed tensor never reaches a tensor that reused its slot. Used on the JavaScript thread only.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace skipnorm {

struct MemoryStats {
  int64_t tensors = 0;
  int64_t bytes = 0;      // distinct storages of live tensors, all devices
  int64_t cpuBytes = 0;
  int64_t cudaBytes = 0;
};

class TensorTable {
 public:
  double add(at::Tensor tensor);
  // nullptr when the handle is stale (disposed) or was never issued.
  at::Tensor* find(double handle);
  bool release(double handle);
  MemoryStats stats() const;

 private:
  struct Slot {
    at::Tensor tensor;
    uint32_t generation = 0;
    bool live = false;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  int64_t live_ = 0;
};

}  // namespace skipnorm
