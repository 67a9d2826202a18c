// Autocast of the forward pass on the batch's device, as torch.autocast(device, dtype), for the
// scope's lifetime. Without the cache of cast weights when capturing a CUDA graph
// (torch.cuda.graphs' advice).
#pragma once

#include <ATen/autocast_mode.h>

namespace skipnorm::train {

class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, at::ScalarType dtype, bool cache = true)
      : device_(device),
        previous_(at::autocast::is_autocast_enabled(device)),
        previousCache_(at::autocast::is_autocast_cache_enabled()),
        previousDtype_(at::autocast::get_autocast_dtype(device)) {
    at::autocast::set_autocast_dtype(device_, dtype);
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::set_autocast_cache_enabled(cache);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, previous_);
    at::autocast::set_autocast_cache_enabled(previousCache_);
    at::autocast::set_autocast_dtype(device_, previousDtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool previous_, previousCache_;
  at::ScalarType previousDtype_;
};

}  // namespace skipnorm::train
