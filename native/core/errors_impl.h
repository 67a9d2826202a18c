#pragma once

#include <c10/util/Exception.h>

namespace skipnorm {

template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* op, Fn&& fn) {
  setOpName(op);
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;  // already a JavaScript error (TypeError from argument checks, ...)
  } catch (...) {
    throw makeTorchError(info.Env(), opName(), currentExceptionMessage(std::current_exception()));
  }
}

}  // namespace skipnorm
