#include "train/device_transfer.h"

#include <optional>

#ifdef SKIPNORM_WITH_CUDA
#include <c10/core/Event.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace skipnorm::train {

namespace {

// The float batch on the device: uint8 pixels cross as they are (a quarter of the bytes; from
// pinned memory, asynchronously) and addcmul writes shift + pixels * scale in the loader's layout.
at::Tensor inputOnDevice(const data::Batch& b, at::Device device, bool channelsLast) {
  if (b.input.scalar_type() != at::kByte) return b.input.to(device, /*non_blocking=*/true);
  const at::Tensor pixels = b.input.to(device, /*non_blocking=*/true).permute({0, 3, 1, 2});
  const int64_t c = pixels.size(1);
  const auto floats = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor scale = at::tensor(b.scale, floats).view({1, c, 1, 1}).to(device, /*non_blocking=*/true);
  const at::Tensor shift = at::tensor(b.shift, floats).view({1, c, 1, 1}).to(device, /*non_blocking=*/true);
  at::Tensor input = at::empty(pixels.sizes(), floats.device(device).memory_format(channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
  at::addcmul_out(input, shift, pixels, scale);
  return input;
}

}  // namespace

struct DeviceTransfer::Moving {
  at::Tensor input, labels;
#ifdef SKIPNORM_WITH_CUDA
  std::optional<c10::Event> ready;
#endif
};

#ifdef SKIPNORM_WITH_CUDA
struct DeviceTransfer::Impl {
  c10::cuda::CUDAStream side;
};
#else
struct DeviceTransfer::Impl {};
#endif

DeviceTransfer::DeviceTransfer(at::Device device, bool channelsLast) : device_(device), channelsLast_(channelsLast) {
#ifdef SKIPNORM_WITH_CUDA
  if (device_.is_cuda()) {
    const c10::DeviceIndex index = device_.has_index() ? device_.index() : c10::cuda::current_device();
    impl_ = std::make_unique<Impl>(Impl{c10::cuda::getStreamFromPool(false, index)});
  }
#endif
}

DeviceTransfer::~DeviceTransfer() = default;

bool DeviceTransfer::overlaps() const { return impl_ != nullptr; }

std::shared_ptr<DeviceTransfer::Moving> DeviceTransfer::start(const data::Batch& batch) {
  auto m = std::make_shared<Moving>();
#ifdef SKIPNORM_WITH_CUDA
  if (impl_) {
    c10::cuda::CUDAStreamGuard guard(impl_->side);
    m->input = inputOnDevice(batch, device_, channelsLast_);
    m->labels = batch.labels.to(device_, /*non_blocking=*/true);
    m->ready.emplace(c10::DeviceType::CUDA);
    m->ready->record(impl_->side);
    return m;
  }
#endif
  m->input = inputOnDevice(batch, device_, channelsLast_);
  m->labels = batch.labels.to(device_, /*non_blocking=*/true);
  return m;
}

std::pair<at::Tensor, at::Tensor> DeviceTransfer::arrive(Moving& m) {
#ifdef SKIPNORM_WITH_CUDA
  if (m.ready) {
    // The step's stream waits for the side stream's work; the caching allocator learns that the
    // tensors made on the side stream are used on this one (not reused before it is done).
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(impl_->side.device_index());
    m.ready->block(current);
    m.input.record_stream(current);
    m.labels.record_stream(current);
    m.ready.reset();
  }
#endif
  return {m.input, m.labels};
}

}  // namespace skipnorm::train
