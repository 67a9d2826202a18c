#include "core/tensor_table.h"

#include <cmath>
#include <unordered_set>

namespace skipnorm {

namespace {
constexpr double kSlotSpan = 4294967296.0;  // 2^32
constexpr uint32_t kGenerationMask = (1u << 20) - 1;  // keeps handles below 2^52: exact doubles
}  // namespace

double TensorTable::add(at::Tensor tensor) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  slot.tensor = std::move(tensor);
  slot.live = true;
  ++live_;
  return static_cast<double>(slot.generation) * kSlotSpan + static_cast<double>(index);
}

at::Tensor* TensorTable::find(double handle) {
  if (!(handle >= 0 && handle < 4503599627370496.0) || std::trunc(handle) != handle) return nullptr;  // < 2^52, integral
  const auto raw = static_cast<uint64_t>(handle);
  const auto index = static_cast<uint32_t>(raw & 0xffffffffu);
  const auto generation = static_cast<uint32_t>(raw >> 32);
  if (index >= slots_.size()) return nullptr;
  Slot& slot = slots_[index];
  if (!slot.live || slot.generation != generation) return nullptr;
  return &slot.tensor;
}

bool TensorTable::release(double handle) {
  at::Tensor* tensor = find(handle);
  if (tensor == nullptr) return false;
  const auto index = static_cast<uint32_t>(static_cast<uint64_t>(handle) & 0xffffffffu);
  Slot& slot = slots_[index];
  slot.tensor.reset();
  slot.live = false;
  slot.generation = (slot.generation + 1) & kGenerationMask;
  free_.push_back(index);
  --live_;
  return true;
}

MemoryStats TensorTable::stats() const {
  MemoryStats s;
  s.tensors = live_;
  std::unordered_set<const void*> seen;
  for (const Slot& slot : slots_) {
    if (!slot.live || !slot.tensor.defined() || !slot.tensor.has_storage()) continue;
    const c10::StorageImpl* storage = slot.tensor.storage().unsafeGetStorageImpl();
    if (!seen.insert(storage).second) continue;
    const auto nbytes = static_cast<int64_t>(storage->nbytes());
    s.bytes += nbytes;
    if (slot.tensor.is_cuda()) s.cudaBytes += nbytes;
    else s.cpuBytes += nbytes;
  }
  return s;
}

}  // namespace skipnorm
