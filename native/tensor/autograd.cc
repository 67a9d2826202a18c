// Autograd: leaves that require gradients, backward, gradients, detaching, and grad mode.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>  // Node (grad_fn->name()); not included by autograd.h in every release

#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorArg(info, 0).requires_grad());
}
// setRequiresGrad(x, flag): in place on x, like requires_grad_().
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  at::Tensor& x = tensorArg(info, 0);
  checkTensorNotInUse(info.Env(), x);
  x.set_requires_grad(boolArg(info, 1));
  return info.Env().Undefined();
}
// grad(x) -> handle or null
Napi::Value Grad(const Napi::CallbackInfo& info) {
  const at::Tensor& grad = tensorArg(info, 0).grad();
  if (!grad.defined()) return info.Env().Null();
  return wrapTensor(info.Env(), grad);
}
// setGrad(x, g|null)
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  setOpName("grad");
  at::Tensor& x = tensorArg(info, 0);
  checkTensorNotInUse(info.Env(), x);
  x.mutable_grad() = isMissing(info, 1) ? at::Tensor() : tensorArg(info, 1);
  return info.Env().Undefined();
}
// backward(y, gradient|null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  const at::Tensor& y = tensorArg(info, 0);
  checkLeavesNotInUse(info.Env(), y);  // backward writes the leaves' .grad
  at::Tensor gradient = optionalTensorArg(info, 1).value_or(at::Tensor());
  y.backward(gradient, boolArg(info, 2), boolArg(info, 3));
  return info.Env().Undefined();
}
// autogradGrad(outputs, inputs, gradOutputs|null, retainGraph, createGraph, allowUnused) -> handles (null where unused)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  setOpName("grad");
  Napi::Env env = info.Env();
  std::vector<at::Tensor> outputs = tensorListArg(info, 0);
  std::vector<at::Tensor> inputs = tensorListArg(info, 1);
  std::vector<at::Tensor> gradOutputs = isMissing(info, 2) ? std::vector<at::Tensor>{} : tensorListArg(info, 2);
  bool createGraph = boolArg(info, 4);
  std::optional<bool> retainGraph = isMissing(info, 3) ? std::nullopt : std::optional<bool>(boolArg(info, 3));
  auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retainGraph, createGraph, boolArg(info, 5));
  Napi::Array out = Napi::Array::New(env, grads.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), grads[i].defined() ? wrapTensor(env, grads[i]) : env.Null());
  }
  return out;
}
Napi::Value Detach(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), tensorArg(info, 0).detach()); }
Napi::Value IsLeaf(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tensorArg(info, 0).is_leaf()); }
Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  tensorArg(info, 0).retain_grad();
  return info.Env().Undefined();
}
Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  const auto& fn = tensorArg(info, 0).grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}
// setGradEnabled(flag) -> the previous setting (grad mode is per thread, as in PyTorch)
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(boolArg(info, 0));
  return Napi::Boolean::New(info.Env(), previous);
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

}  // namespace

void registerAutograd(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "requiresGrad", RequiresGrad);
  exportFunction(env, exports, "requiresGrad_", SetRequiresGrad);
  exportFunction(env, exports, "grad", Grad);
  exportFunction(env, exports, "setGrad", SetGrad);
  exportFunction(env, exports, "backward", Backward);
  exportFunction(env, exports, "autogradGrad", AutogradGrad);
  exportFunction(env, exports, "detach", Detach);
  exportFunction(env, exports, "isLeaf", IsLeaf);
  exportFunction(env, exports, "retainGrad", RetainGrad);
  exportFunction(env, exports, "gradFnName", GradFnName);
  exportFunction(env, exports, "setGradEnabled", SetGradEnabled);
  exportFunction(env, exports, "isGradEnabled", IsGradEnabled);
}

}  // namespace skipnorm
