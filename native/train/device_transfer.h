// Loader batches on their way to the model's device. uint8 batches [n, H, W, C] are converted and
// normalised there by one kernel into the float batch, in the loader's layout. On a CUDA device
// the copy and the conversion run on a side stream, started while earlier steps compute; the
// step's stream waits for them through an event.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <utility>

#include "data/loader.h"

namespace skipnorm::train {

class DeviceTransfer {
 public:
  DeviceTransfer(at::Device device, bool channelsLast);
  ~DeviceTransfer();
  DeviceTransfer(const DeviceTransfer&) = delete;
  DeviceTransfer& operator=(const DeviceTransfer&) = delete;

  struct Moving;  // a batch on its way
  std::shared_ptr<Moving> start(const data::Batch& batch);
  // The batch's input and labels on the device, ready for work queued on the current stream.
  std::pair<at::Tensor, at::Tensor> arrive(Moving& moving);
  bool overlaps() const;  // whether start() runs beside the current stream (CUDA)

 private:
  struct Impl;
  at::Device device_;
  bool channelsLast_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skipnorm::train
