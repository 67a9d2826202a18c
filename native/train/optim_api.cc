// N-API entry points of the optimisers: created over a module's parameters, stepped from
// JavaScript (a hand-written loop) or by the native training loop (fit).
#include <napi.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "core/options.h"
#include "nn/in_use.h"
#include "train/optim_api.h"

namespace skipnorm {

namespace {

// createOptimizer(kind: 'sgd' | 'adam' | 'adamw', module, options) -> handle
Napi::Value CreateOptimizer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = stringArg(info, 0);
  auto module = nn::moduleByHandle(env, numberArg(info, 1));
  Napi::Object o = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  std::shared_ptr<train::Optimizer> optimizer;
  if (kind == "sgd") {
    train::SgdOptions s;
    s.lr = numberOption(o, "lr", s.lr);
    s.momentum = numberOption(o, "momentum", 0);
    s.dampening = numberOption(o, "dampening", 0);
    s.weightDecay = numberOption(o, "weightDecay", 0);
    s.nesterov = boolOption(o, "nesterov", false);
    optimizer = std::make_shared<train::Sgd>(*module, s);
  } else if (kind == "adam" || kind == "adamw") {
    train::AdamOptions a;
    a.decoupled = kind == "adamw";
    a.lr = numberOption(o, "lr", a.lr);
    a.beta1 = numberOption(o, "beta1", a.beta1);
    a.beta2 = numberOption(o, "beta2", a.beta2);
    a.eps = numberOption(o, "eps", a.eps);
    a.weightDecay = numberOption(o, "weightDecay", a.decoupled ? 0.01 : 0);
    a.amsgrad = boolOption(o, "amsgrad", false);
    optimizer = std::make_shared<train::Adam>(*module, a);
  } else {
    throwTypeError(env, "unknown optimizer '" + kind + "': expected sgd, adam or adamw");
  }
  Addon& addon = addonOf(env);
  double handle = addon.nextModuleHandle++;
  addon.optimizers.emplace(handle, optimizer);
  return Napi::Number::New(env, handle);
}

Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  optimizerArg(info, 0)->step();
  return info.Env().Undefined();
}
Napi::Value OptimizerZeroGrad(const Napi::CallbackInfo& info) {
  optimizerArg(info, 0)->zeroGrad();
  return info.Env().Undefined();
}
Napi::Value OptimizerLr(const Napi::CallbackInfo& info) {
  auto optimizer = optimizerArg(info, 0);
  if (!isMissing(info, 1)) {
    double lr = numberArg(info, 1);
    if (!(lr >= 0)) throwTypeError(info.Env(), "the learning rate must be a non-negative number");
    optimizer->setBaseLr(lr);
  }
  return Napi::Number::New(info.Env(), optimizer->lr());
}
Napi::Value OptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = optimizerArg(info, 0)->state();
  Napi::Array out = Napi::Array::New(env, state.size());
  for (size_t i = 0; i < state.size(); ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, state[i].first));
    pair.Set(1u, wrapTensor(env, state[i].second.detach().clone()));
    out.Set(static_cast<uint32_t>(i), pair);
  }
  return out;
}
// optimizerLoadState(handle, [[name, tensor], ...], checkOnly?)
Napi::Value OptimizerLoadState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto optimizer = optimizerArg(info, 0);
  if (!info[1].IsArray()) throwTypeError(env, "the optimizer state must be an array of [name, tensor] pairs");
  Napi::Array pairs = info[1].As<Napi::Array>();
  std::vector<train::NamedTensor> state;
  for (uint32_t i = 0; i < pairs.Length(); ++i) {
    Napi::Value v = pairs.Get(i);
    if (!v.IsArray()) throwTypeError(env, "the optimizer state must be an array of [name, tensor] pairs");
    Napi::Array pair = v.As<Napi::Array>();
    Napi::Value name = pair.Get(0u), handle = pair.Get(1u);
    if (!name.IsString() || !handle.IsNumber()) throwTypeError(env, "the optimizer state must be an array of [name, tensor] pairs");
    at::Tensor* t = addonOf(env).tensors.find(handle.As<Napi::Number>().DoubleValue());
    if (t == nullptr) throw makeTorchError(env, opName(), "a tensor of the optimizer state was disposed");
    state.emplace_back(name.As<Napi::String>().Utf8Value(), *t);
  }
  optimizer->loadState(state, /*apply=*/isMissing(info, 2) || !boolArg(info, 2));
  return env.Undefined();
}
// optimizerConfig(handle) -> { kind, lr, ...hyperparameters }
Napi::Value OptimizerConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto optimizer = optimizerArg(info, 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("kind", Napi::String::New(env, optimizer->kind()));
  for (const auto& [key, value] : optimizer->hyperparameters()) out.Set(key, Napi::Number::New(env, value));
  return out;
}
Napi::Value ReleaseOptimizer(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), addonOf(info.Env()).optimizers.erase(numberArg(info, 0)) > 0);
}

}  // namespace

std::shared_ptr<train::Optimizer> optimizerArg(const Napi::CallbackInfo& info, size_t index) {
  auto& optimizers = addonOf(info.Env()).optimizers;
  auto it = optimizers.find(numberArg(info, index));
  if (it == optimizers.end()) throw makeTorchError(info.Env(), opName(), "the optimizer was disposed (use after dispose)");
  checkNotInUse(info.Env(), it->second.get(), "optimizer");
  // Its parameters may belong to a model another job holds (a layer shared between models).
  for (const auto& [name, p] : it->second->params()) checkTensorNotInUse(info.Env(), p);
  return it->second;
}

void registerOptimizers(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "createOptimizer", CreateOptimizer);
  exportFunction(env, exports, "optimizerStep", OptimizerStep);
  exportFunction(env, exports, "optimizerZeroGrad", OptimizerZeroGrad);
  exportFunction(env, exports, "optimizerLr", OptimizerLr);
  exportFunction(env, exports, "optimizerState", OptimizerState);
  exportFunction(env, exports, "optimizerLoadState", OptimizerLoadState);
  exportFunction(env, exports, "optimizerConfig", OptimizerConfig);
  exportFunction(env, exports, "releaseOptimizer", ReleaseOptimizer);
}

}  // namespace skipnorm
