// N-API entry points of the optimisers: created over a module's parameters, in parameter groups,
// stepped from JavaScript (a hand-written loop) or by the native training loop (fit).
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

// A group's options: the fields it sets, the default group's for the rest.
train::SgdOptions sgdOptions(const Napi::Object& o, const train::SgdOptions& fallback) {
  train::SgdOptions s;
  s.lr = numberOption(o, "lr", fallback.lr);
  s.momentum = numberOption(o, "momentum", fallback.momentum);
  s.dampening = numberOption(o, "dampening", fallback.dampening);
  s.weightDecay = numberOption(o, "weightDecay", fallback.weightDecay);
  s.nesterov = boolOption(o, "nesterov", fallback.nesterov);
  return s;
}

train::AdamOptions adamOptions(const Napi::Object& o, const train::AdamOptions& fallback) {
  train::AdamOptions a = fallback;
  a.lr = numberOption(o, "lr", fallback.lr);
  a.beta1 = numberOption(o, "beta1", fallback.beta1);
  a.beta2 = numberOption(o, "beta2", fallback.beta2);
  a.eps = numberOption(o, "eps", fallback.eps);
  a.weightDecay = numberOption(o, "weightDecay", fallback.weightDecay);
  a.amsgrad = boolOption(o, "amsgrad", fallback.amsgrad);
  return a;
}

// options.paramGroups: [{ params: [name, ...], ...options }, ...] (the names already resolved).
std::vector<Napi::Object> groupObjects(const Napi::Object& o, train::GroupNames& names) {
  Napi::Env env = o.Env();
  std::vector<Napi::Object> out;
  Napi::Value v = o.Get("paramGroups");
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throwTypeError(env, "option 'paramGroups' must be an array");
  Napi::Array groups = v.As<Napi::Array>();
  for (uint32_t k = 0; k < groups.Length(); ++k) {
    Napi::Value g = groups.Get(k);
    Napi::Value params = g.IsObject() ? g.As<Napi::Object>().Get("params") : env.Undefined();
    if (!params.IsArray()) throwTypeError(env, "paramGroups[" + std::to_string(k) + "].params must be an array of parameter names");
    std::vector<std::string> list;
    Napi::Array a = params.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsString()) throwTypeError(env, "paramGroups[" + std::to_string(k) + "].params must be an array of parameter names");
      list.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    names.push_back(std::move(list));
    out.push_back(g.As<Napi::Object>());
  }
  return out;
}

// createOptimizer(kind: 'sgd' | 'adam' | 'adamw', module, options) -> handle
Napi::Value CreateOptimizer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = stringArg(info, 0);
  auto module = nn::moduleByHandle(env, numberArg(info, 1));
  Napi::Object o = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  train::GroupNames names;
  const std::vector<Napi::Object> groups = groupObjects(o, names);
  std::shared_ptr<train::Optimizer> optimizer;
  if (kind == "sgd") {
    std::vector<train::SgdOptions> options{sgdOptions(o, train::SgdOptions{})};
    for (const auto& g : groups) options.push_back(sgdOptions(g, options[0]));
    optimizer = std::make_shared<train::Sgd>(*module, options, names);
  } else if (kind == "adam" || kind == "adamw") {
    train::AdamOptions defaults;
    defaults.decoupled = kind == "adamw";
    defaults.weightDecay = defaults.decoupled ? 0.01 : 0;
    std::vector<train::AdamOptions> options{adamOptions(o, defaults)};
    for (const auto& g : groups) options.push_back(adamOptions(g, options[0]));
    optimizer = std::make_shared<train::Adam>(*module, options, names);
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
// optimizerLr(handle, lr?, group = 0) -> the group's learning rate; with lr, sets its base rate.
Napi::Value OptimizerLr(const Napi::CallbackInfo& info) {
  auto optimizer = optimizerArg(info, 0);
  const int64_t group = isMissing(info, 2) ? 0 : static_cast<int64_t>(numberArg(info, 2));
  if (group < 0 || group >= static_cast<int64_t>(optimizer->groupCount())) {
    throwTypeError(info.Env(), "parameter group " + std::to_string(group) + " does not exist (the optimizer has " + std::to_string(optimizer->groupCount()) + ")");
  }
  if (!isMissing(info, 1)) {
    double lr = numberArg(info, 1);
    if (!(lr >= 0)) throwTypeError(info.Env(), "the learning rate must be a non-negative number");
    optimizer->setBaseLr(lr, static_cast<size_t>(group));
  }
  return Napi::Number::New(info.Env(), optimizer->lr(static_cast<size_t>(group)));
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
// optimizerGroups(handle) -> [{ params: [name, ...], lr, initialLr, ...hyperparameters }, ...],
// the default group first; lr is the rate of the next step, initialLr the base a schedule multiplies.
Napi::Value OptimizerGroups(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto optimizer = optimizerArg(info, 0);
  Napi::Array out = Napi::Array::New(env, optimizer->groupCount());
  for (size_t g = 0; g < optimizer->groupCount(); ++g) {
    Napi::Object group = Napi::Object::New(env);
    Napi::Array names = Napi::Array::New(env);
    for (size_t i = 0; i < optimizer->params().size(); ++i) {
      if (optimizer->groupOf(i) == g) names.Set(names.Length(), Napi::String::New(env, optimizer->params()[i].first));
    }
    group.Set("params", names);
    for (const auto& [key, value] : optimizer->hyperparameters(g)) group.Set(key, Napi::Number::New(env, value));
    group.Set("initialLr", Napi::Number::New(env, optimizer->baseLr(g)));
    group.Set("lr", Napi::Number::New(env, optimizer->lr(g)));
    out.Set(static_cast<uint32_t>(g), group);
  }
  return out;
}
// optimizerConfig(handle) -> { kind, lr, ...hyperparameters } of the default group
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
  exportFunction(env, exports, "optimizerGroups", OptimizerGroups);
  exportFunction(env, exports, "releaseOptimizer", ReleaseOptimizer);
}

}  // namespace skipnorm
