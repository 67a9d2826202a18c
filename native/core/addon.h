// Per-environment state of the addon (one per Node.js environment: the main thread or a worker).
#pragma once

#include <napi.h>

#include "core/tensor_table.h"

namespace skipnorm {

struct Addon {
  TensorTable tensors;
  Napi::FunctionReference torchErrorClass;  // src/core/errors.ts TorchError
  Napi::FunctionReference abortErrorClass;  // src/core/errors.ts AbortError
  std::vector<at::Generator> generators;    // index = generator handle; undefined once disposed
};

inline Addon& addonOf(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

}  // namespace skipnorm
