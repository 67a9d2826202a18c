// Refusing calls from JavaScript that would race with a running job: the job marks what it holds
// (native/nn/in_use.h: modules, optimiser, storages of parameters, buffers and data tensors) in its
// environment's Addon::inUse, and these checks throw a TorchError naming the conflict.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

namespace skipnorm {

// Throws when a running job holds this object (a module, an optimiser).
void checkNotInUse(Napi::Env env, const void* object, const char* what);
// Throws when a running job holds this tensor or its storage (calls that write to a tensor, or to
// its gradient, check it).
void checkTensorNotInUse(Napi::Env env, const at::Tensor& tensor);
// The same for every leaf a backward pass from `root` would write a gradient to.
void checkLeavesNotInUse(Napi::Env env, const at::Tensor& root);

}  // namespace skipnorm
