// N-API entry points of the module system: building layers from option objects, running a
// whole model forward in one call, parameters, buffers, modes, devices, state dicts, summaries.
#include <c10/core/GradMode.h>
#include <napi.h>

#include <unordered_map>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/options.h"
#include "nn/in_use.h"
#include "nn/layers.h"
#include "nn/residual.h"

namespace skipnorm {

namespace {

using nn::LayerPtr;
using nn::NamedLayers;

// ---- option objects ----------------------------------------------------------------------------

Napi::Value field(const Napi::Object& o, const char* key) { return o.Get(key); }

Addon& addon(Napi::Env env) { return addonOf(env); }

LayerPtr moduleArg(const Napi::CallbackInfo& info, size_t index) { return nn::moduleByHandle(info.Env(), numberArg(info, index)); }

LayerPtr moduleFromValue(Napi::Env env, Napi::Value v) {
  if (!v.IsNumber()) throwTypeError(env, "expected a module");
  return nn::moduleByHandle(env, v.As<Napi::Number>().DoubleValue(), "child module", /*refuseInUse=*/false);
}

// [[name, module], ...]
NamedLayers namedLayersField(const Napi::Object& o, const char* key) {
  Napi::Value v = field(o, key);
  NamedLayers out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throwTypeError(o.Env(), std::string("option '") + key + "' must be an array of [name, module] pairs");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 2 || !e.As<Napi::Array>().Get(0u).IsString()) {
      throwTypeError(o.Env(), std::string("option '") + key + "' must be an array of [name, module] pairs");
    }
    Napi::Array pair = e.As<Napi::Array>();
    out.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), moduleFromValue(o.Env(), pair.Get(1u)));
  }
  return out;
}

nn::PoolOptions poolOptions(const Napi::Object& o) {
  nn::PoolOptions p;
  p.kernel = intListOption(o, "kernel", {});
  if (p.kernel.size() != 2) throwTypeError(o.Env(), "option 'kernel' must be [h, w]");
  p.stride = intListOption(o, "stride", p.kernel);
  p.padding = intListOption(o, "padding", {0, 0});
  p.dilation = intListOption(o, "dilation", {1, 1});
  p.ceilMode = boolOption(o, "ceilMode", false);
  p.countIncludePad = boolOption(o, "countIncludePad", true);
  return p;
}

LayerPtr buildLayer(const std::string& kind, const Napi::Object& o) {
  if (kind == "Linear") return std::make_shared<nn::Linear>(intOption(o, "in"), intOption(o, "out"), boolOption(o, "bias", true));
  if (kind == "Conv2d") {
    nn::Conv2dOptions c;
    c.in = intOption(o, "in");
    c.out = intOption(o, "out");
    c.kernel = intListOption(o, "kernel", {});
    if (c.kernel.size() != 2) throwTypeError(o.Env(), "option 'kernel' must be [h, w]");
    c.stride = intListOption(o, "stride", {1, 1});
    Napi::Value padding = field(o, "padding");
    if (padding.IsString()) c.paddingMode = padding.As<Napi::String>().Utf8Value();
    else c.padding = intListOption(o, "padding", {0, 0});
    c.dilation = intListOption(o, "dilation", {1, 1});
    c.groups = intOption(o, "groups", 1);
    c.bias = boolOption(o, "bias", true);
    return std::make_shared<nn::Conv2d>(c);
  }
  if (kind == "Conv1d") {
    nn::Conv1dOptions c;
    c.in = intOption(o, "in");
    c.out = intOption(o, "out");
    c.kernel = intOption(o, "kernel");
    c.stride = intOption(o, "stride", 1);
    Napi::Value padding = field(o, "padding");
    if (padding.IsString()) c.paddingMode = padding.As<Napi::String>().Utf8Value();
    else c.padding = intOption(o, "padding", 0);
    c.dilation = intOption(o, "dilation", 1);
    c.groups = intOption(o, "groups", 1);
    c.bias = boolOption(o, "bias", true);
    return std::make_shared<nn::Conv1d>(c);
  }
  if (kind == "Embedding") {
    Napi::Value padding = field(o, "paddingIdx");
    std::optional<int64_t> paddingIdx = padding.IsUndefined() || padding.IsNull() ? std::nullopt : std::optional<int64_t>(intOption(o, "paddingIdx"));
    return std::make_shared<nn::Embedding>(intOption(o, "count"), intOption(o, "dim"), paddingIdx);
  }
  if (kind == "BatchNorm1d" || kind == "BatchNorm2d") {
    Napi::Value m = field(o, "momentum");
    std::optional<double> momentum = m.IsNull() ? std::nullopt : std::optional<double>(numberOption(o, "momentum", 0.1));
    return std::make_shared<nn::BatchNorm>(kind == "BatchNorm1d" ? 1 : 2, intOption(o, "features"), numberOption(o, "eps", 1e-5),
                                           momentum, boolOption(o, "affine", true), boolOption(o, "trackRunningStats", true));
  }
  if (kind == "LayerNorm") return std::make_shared<nn::LayerNorm>(intListOption(o, "shape", {}), numberOption(o, "eps", 1e-5), boolOption(o, "affine", true));
  if (kind == "GroupNorm") {
    return std::make_shared<nn::GroupNorm>(intOption(o, "groups"), intOption(o, "channels"), numberOption(o, "eps", 1e-5), boolOption(o, "affine", true));
  }
  if (kind == "LeakyReLU") return std::make_shared<nn::LeakyReLU>(numberOption(o, "negativeSlope", 0.01));
  if (kind == "Softmax" || kind == "LogSoftmax") return std::make_shared<nn::Softmax>(intOption(o, "dim"), kind == "LogSoftmax");
  if (kind == "Dropout") return std::make_shared<nn::Dropout>(numberOption(o, "p", 0.5));
  if (kind == "AvgPool2d") return std::make_shared<nn::AvgPool2d>(poolOptions(o));
  if (kind == "MaxPool2d") return std::make_shared<nn::MaxPool2d>(poolOptions(o));
  if (kind == "AdaptiveAvgPool2d") return std::make_shared<nn::AdaptiveAvgPool2d>(intListOption(o, "size", {1, 1}));
  if (kind == "Flatten") return std::make_shared<nn::Flatten>(intOption(o, "start", 1), intOption(o, "end", -1));
  if (kind == "ChannelPad") return std::make_shared<nn::ChannelPad>(intOption(o, "before"), intOption(o, "after"));
  if (kind == "IdentityLike") {
    int64_t stride = intOption(o, "stride", 1);
    return std::make_shared<nn::IdentityLike>(intOption(o, "kernel", stride), stride, numberOption(o, "scale", static_cast<double>(stride)),
                                              intOption(o, "before", 0), intOption(o, "after", 0));
  }
  if (kind == "Sequential") return std::make_shared<nn::Sequential>(namedLayersField(o, "children"));
  if (kind == "Residual") {
    nn::ResidualParts parts;
    parts.pre = namedLayersField(o, "pre");
    parts.branch = namedLayersField(o, "branch");
    parts.post = namedLayersField(o, "post");
    NamedLayers projection = namedLayersField(o, "projection");
    NamedLayers identityLike = namedLayersField(o, "identityLike");
    if (!projection.empty()) std::tie(parts.projectionName, parts.projection) = projection[0];
    if (!identityLike.empty()) std::tie(parts.identityLikeName, parts.identityLike) = identityLike[0];
    Napi::Value from = field(o, "shortcutFrom");
    parts.shortcutFromPre = from.IsString() && from.As<Napi::String>().Utf8Value() == "pre";
    Napi::Value kind = field(o, "shortcut");
    if (!kind.IsString()) throwTypeError(o.Env(), "option 'shortcut' must be a string");
    return std::make_shared<nn::Residual>(std::move(parts), nn::parseShortcutKind(kind.As<Napi::String>().Utf8Value()));
  }
  return std::make_shared<nn::Activation>(kind);  // ReLU, GELU, ...; unknown kinds throw there
}

// createModule(kind, options) -> handle
Napi::Value CreateModule(const Napi::CallbackInfo& info) {
  std::string kind = stringArg(info, 0);
  Napi::Object options = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(info.Env());
  return nn::newModuleHandle(info.Env(), buildLayer(kind, options));
}

Napi::Value ReleaseModule(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), addon(info.Env()).modules.erase(numberArg(info, 0)) > 0);
}

// forward(module, x) -> y
Napi::Value Forward(const Napi::CallbackInfo& info) {
  LayerPtr layer = moduleArg(info, 0);
  return wrapTensor(info.Env(), (*layer)(tensorArg(info, 1)));
}

Napi::Value NamedTensors(Napi::Env env, const torch::OrderedDict<std::string, at::Tensor>& dict) {
  Napi::Array out = Napi::Array::New(env, dict.size());
  uint32_t i = 0;
  for (const auto& item : dict) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, item.key()));
    pair.Set(1u, wrapTensor(env, item.value()));
    out.Set(i++, pair);
  }
  return out;
}

Napi::Value NamedParameters(const Napi::CallbackInfo& info) { return NamedTensors(info.Env(), moduleArg(info, 0)->named_parameters(true)); }
Napi::Value NamedBuffers(const Napi::CallbackInfo& info) { return NamedTensors(info.Env(), moduleArg(info, 0)->named_buffers(true)); }

Napi::Value NumParameters(const Napi::CallbackInfo& info) {
  int64_t n = 0;
  for (const auto& p : moduleArg(info, 0)->parameters(true)) n += p.numel();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// zeroGrad(module): drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
  for (auto& p : moduleArg(info, 0)->parameters(true)) p.mutable_grad().reset();
  return info.Env().Undefined();
}

Napi::Value SetTraining(const Napi::CallbackInfo& info) {
  moduleArg(info, 0)->train(boolArg(info, 1));
  return info.Env().Undefined();
}
Napi::Value IsTraining(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), moduleArg(info, 0)->is_training()); }

// moduleTo(module, device|null, dtype|null): like PyTorch's Module.to, a dtype applies only to
// floating-point parameters and buffers (num_batches_tracked stays int64).
Napi::Value ModuleTo(const Napi::CallbackInfo& info) {
  LayerPtr layer = moduleArg(info, 0);
  std::optional<at::Device> device = isMissing(info, 1) ? std::nullopt : std::optional<at::Device>(deviceArg(info, 1));
  std::optional<at::ScalarType> dtype = optionalDtypeArg(info, 2);
  TORCH_CHECK(!dtype || at::isFloatingType(*dtype), "a module moves only to floating-point dtypes, not ", dtypeName(*dtype));
  c10::NoGradGuard noGrad;
  auto convert = [&](at::Tensor& t) {
    at::TensorOptions options = t.options();
    if (device) options = options.device(*device);
    if (dtype && at::isFloatingType(t.scalar_type())) options = options.dtype(*dtype);
    t.set_data(t.to(options));
    if (t.grad().defined()) t.mutable_grad() = t.grad().to(options);  // as PyTorch's Module._apply
  };
  for (auto& p : layer->parameters(true)) convert(p);
  for (auto& b : layer->buffers(true)) convert(b);
  return info.Env().Undefined();
}

// namedModules(module) -> [[name, kind, description], ...] including the module itself ('')
Napi::Value NamedModules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto modules = moduleArg(info, 0)->named_modules("", true);
  Napi::Array out = Napi::Array::New(env, modules.size());
  uint32_t i = 0;
  for (const auto& item : modules) {
    auto* layer = dynamic_cast<nn::Layer*>(item.value().get());
    Napi::Array row = Napi::Array::New(env, 3);
    row.Set(0u, Napi::String::New(env, item.key()));
    row.Set(1u, Napi::String::New(env, item.value()->name()));
    row.Set(2u, Napi::String::New(env, layer ? layer->describe() : ""));
    out.Set(i++, row);
  }
  return out;
}

// loadState(module, [[name, tensor], ...], strict) -> { missing, unexpected, mismatched, loaded }
// Checks every key and shape first and copies only when the load is allowed (strict: no problem
// at all; not strict: no shape mismatch), so a failed load leaves the module untouched.
Napi::Value LoadState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LayerPtr layer = moduleArg(info, 0);
  if (!info[1].IsArray()) throwTypeError(env, "the state dict must be an array of [name, tensor] pairs");
  bool strict = boolArg(info, 2);
  std::unordered_map<std::string, at::Tensor> given;
  Napi::Array pairs = info[1].As<Napi::Array>();
  TensorTable& table = addon(env).tensors;
  for (uint32_t i = 0; i < pairs.Length(); ++i) {
    Napi::Array pair = pairs.Get(i).As<Napi::Array>();
    at::Tensor* t = table.find(pair.Get(1u).As<Napi::Number>().DoubleValue());
    if (t == nullptr) throw makeTorchError(env, opName(), "a tensor of the state dict was disposed");
    given.emplace(pair.Get(0u).As<Napi::String>().Utf8Value(), *t);
  }
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& item : layer->named_parameters(true)) targets.emplace_back(item.key(), item.value());
  for (const auto& item : layer->named_buffers(true)) targets.emplace_back(item.key(), item.value());
  Napi::Array missing = Napi::Array::New(env), unexpected = Napi::Array::New(env), mismatched = Napi::Array::New(env);
  std::unordered_map<std::string, bool> known;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  for (auto& [name, target] : targets) {
    known[name] = true;
    auto it = given.find(name);
    const bool counter = name == "num_batches_tracked" || (name.size() > 20 && name.compare(name.size() - 20, 20, ".num_batches_tracked") == 0);
    if (it == given.end() && counter) {
      continue;  // PyTorch keeps the module's own count when a (version-less) state dict lacks it
    } else if (it == given.end()) {
      missing.Set(missing.Length(), Napi::String::New(env, name));
    } else if (it->second.sizes() != target.sizes()) {
      std::ostringstream text;
      text << name << ": expected shape " << target.sizes() << ", got " << it->second.sizes();
      mismatched.Set(mismatched.Length(), Napi::String::New(env, text.str()));
    } else {
      copies.emplace_back(target, it->second);
    }
  }
  for (const auto& [name, tensor] : given) {
    if (!known.count(name)) unexpected.Set(unexpected.Length(), Napi::String::New(env, name));
  }
  // As in PyTorch, a shape mismatch fails even a non-strict load.
  const bool clean = missing.Length() == 0 && unexpected.Length() == 0 && mismatched.Length() == 0;
  const bool load = clean || (!strict && mismatched.Length() == 0);
  if (load) {
    c10::NoGradGuard noGrad;
    for (auto& [target, source] : copies) target.copy_(source);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("missing", missing);
  out.Set("unexpected", unexpected);
  out.Set("mismatched", mismatched);
  out.Set("loaded", Napi::Boolean::New(env, load));
  return out;
}

Napi::Value SetShortcut(const Napi::CallbackInfo& info) {
  auto residual = std::dynamic_pointer_cast<nn::Residual>(moduleArg(info, 0));
  if (!residual) throwTypeError(info.Env(), "only a Residual module has a shortcut");
  residual->setShortcut(nn::parseShortcutKind(stringArg(info, 1)));
  return info.Env().Undefined();
}

Napi::Value GetShortcut(const Napi::CallbackInfo& info) {
  auto residual = std::dynamic_pointer_cast<nn::Residual>(moduleArg(info, 0));
  if (!residual) throwTypeError(info.Env(), "only a Residual module has a shortcut");
  return Napi::String::New(info.Env(), nn::shortcutKindName(residual->shortcut()));
}

Napi::Value ApplyWeightNorm(const Napi::CallbackInfo& info) {
  auto affine = std::dynamic_pointer_cast<nn::Affine>(moduleArg(info, 0));
  if (!affine) throwTypeError(info.Env(), "weight normalisation applies to Linear, Conv1d and Conv2d");
  affine->applyWeightNorm();
  return info.Env().Undefined();
}

// summary(module, input) -> [[name, kind, description, outputShape, parameters], ...] in call order
Napi::Value Summary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LayerPtr layer = moduleArg(info, 0);
  std::unordered_map<const nn::Layer*, std::string> names;
  for (const auto& item : layer->named_modules("", true)) {
    if (auto* l = dynamic_cast<const nn::Layer*>(item.value().get())) names.emplace(l, item.key());
  }
  // Run in eval mode without gradients, so a summary never updates running statistics or draws
  // dropout masks; then restore each module's own mode.
  nn::ShapeRecorder recorder;
  {
    nn::ModeSnapshot modes(*layer);
    layer->eval();
    c10::NoGradGuard noGrad;
    (*layer)(tensorArg(info, 1));
  }
  Napi::Array out = Napi::Array::New(env);
  for (const auto& [l, shape] : recorder.records()) {
    int64_t params = 0;
    for (const auto& p : l->parameters(false)) params += p.numel();
    Napi::Array row = Napi::Array::New(env, 5);
    auto it = names.find(l);
    row.Set(0u, Napi::String::New(env, it == names.end() ? "?" : it->second));
    row.Set(1u, Napi::String::New(env, l->kind()));
    row.Set(2u, Napi::String::New(env, l->describe()));
    Napi::Array dims = Napi::Array::New(env, shape.size());
    for (size_t d = 0; d < shape.size(); ++d) dims.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(shape[d])));
    row.Set(3u, dims);
    row.Set(4u, Napi::Number::New(env, static_cast<double>(params)));
    out.Set(out.Length(), row);
  }
  return out;
}

}  // namespace

void registerModules(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "createModule", CreateModule);
  exportFunction(env, exports, "releaseModule", ReleaseModule);
  exportFunction(env, exports, "forward", Forward);
  exportFunction(env, exports, "namedParameters", NamedParameters);
  exportFunction(env, exports, "namedBuffers", NamedBuffers);
  exportFunction(env, exports, "numParameters", NumParameters);
  exportFunction(env, exports, "zeroGrad", ZeroGrad);
  exportFunction(env, exports, "setTraining", SetTraining);
  exportFunction(env, exports, "isTraining", IsTraining);
  exportFunction(env, exports, "moduleTo", ModuleTo);
  exportFunction(env, exports, "namedModules", NamedModules);
  exportFunction(env, exports, "loadState", LoadState);
  exportFunction(env, exports, "setShortcut", SetShortcut);
  exportFunction(env, exports, "getShortcut", GetShortcut);
  exportFunction(env, exports, "applyWeightNorm", ApplyWeightNorm);
  exportFunction(env, exports, "summary", Summary);
}

}  // namespace skipnorm
