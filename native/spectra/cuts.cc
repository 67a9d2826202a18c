#include "spectra/cuts.h"

#include <c10/core/GradMode.h>
#include <c10/util/intrusive_ptr.h>
#include <napi.h>

#include <algorithm>
#include <unordered_map>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "nn/in_use.h"

namespace skipnorm {

namespace {

struct Candidate {
  std::string name;
  const nn::Layer* layer;
  bool container;  // listed only when its output is a tensor of its own
};

bool isHolder(const torch::nn::Module& m) { return m.name() == "ModuleList" || m.name() == "ModuleDict"; }

void expand(const torch::nn::Module& parent, const std::string& prefix, int64_t level, int64_t depth, std::vector<Candidate>& out) {
  for (const auto& item : parent.named_children()) {
    const std::string name = prefix.empty() ? item.key() : prefix + "." + item.key();
    const auto& child = *item.value();
    if (isHolder(child)) {
      expand(child, name, level, depth, out);
      continue;
    }
    const auto* layer = dynamic_cast<const nn::Layer*>(&child);
    if (layer == nullptr) continue;
    const bool open = layer->isContainer() && level < depth;
    if (open) expand(child, name, level + 1, depth, out);
    out.push_back({name, layer, open});
  }
}

using WeakImpl = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;

struct Calls {
  int64_t count = 0, order = -1;
  // The outputs' TensorImpls, held weakly: their memory is freed, but their addresses are not
  // reused while this lives, so an equal address is the same tensor.
  std::vector<WeakImpl> outputs;
};

}  // namespace

std::shared_ptr<nn::Layer> layerNamed(nn::Layer& model, const std::string& name) {
  TORCH_CHECK(!name.empty(), "a cut must be a module inside the model, not the model itself");
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    if (item.key() != name) continue;
    auto layer = std::dynamic_pointer_cast<nn::Layer>(item.value());
    TORCH_CHECK(layer, "the module '", name, "' is never called itself (it holds others): it cannot be a cut");
    return layer;
  }
  TORCH_CHECK(false, "the model has no module named '", name, "'");
}

CutProbe probeCuts(nn::Layer& model, const at::Tensor& input, int64_t depth, const std::vector<std::string>& asked) {
  TORCH_CHECK(depth >= 1, "depth must be at least 1");
  std::vector<std::shared_ptr<nn::Layer>> askedLayers;
  for (const auto& name : asked) askedLayers.push_back(layerNamed(model, name));
  std::unordered_map<const nn::Layer*, Calls> calls;
  int64_t returned = 0;
  at::Tensor output;
  {
    nn::ModeSnapshot modes(model);
    nn::BufferSnapshot buffers(model);
    model.eval();
    c10::NoGradGuard noGrad;
    nn::OutputHook hook([&](const nn::Layer& layer, const at::Tensor& out) {
      Calls& c = calls[&layer];
      if (c.count++ == 0) c.order = returned;
      ++returned;
      c.outputs.emplace_back(out.getIntrusivePtr());
      return out;
    });
    output = model(input);
  }
  const c10::TensorImpl* modelOutput = output.unsafeGetTensorImpl();
  // Whether a call of `layer` returned `impl` (or any output of another layer's, when `other`).
  auto returnedBy = [&](const nn::Layer* layer, const c10::TensorImpl* impl, bool other) {
    for (const auto& [l, c] : calls) {
      if ((l == layer) == other) continue;
      for (const auto& w : c.outputs) {
        if (w._unsafe_get_target() == impl) return true;
      }
    }
    return false;
  };
  CutProbe probe;
  std::vector<Candidate> candidates;
  expand(model, "", 1, depth, candidates);
  for (const auto& candidate : candidates) {
    auto it = calls.find(candidate.layer);
    if (it == calls.end() || it->second.count != 1) continue;
    const c10::TensorImpl* impl = it->second.outputs.front()._unsafe_get_target();
    if (impl == modelOutput || (candidate.container && returnedBy(candidate.layer, impl, true))) continue;
    probe.points.emplace_back(candidate.name, it->second.order);
  }
  std::stable_sort(probe.points.begin(), probe.points.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& layer : askedLayers) {
    CutRuns runs;
    auto it = calls.find(layer.get());
    if (it != calls.end()) runs = {it->second.count, returnedBy(layer.get(), modelOutput, false), it->second.order};
    probe.asked.push_back(runs);
  }
  return probe;
}

namespace {

// probeCuts(model, input, depth, asked: string[]) -> { points: [name, order][], asked: [calls, output, order][] }
Napi::Value ProbeCuts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = nn::moduleByHandle(env, numberArg(info, 0), "model");
  const at::Tensor& input = tensorArg(info, 1);
  const int64_t depth = intArg(info, 2);
  if (!info[3].IsArray()) throwTypeError(env, "the asked cuts must be an array of names");
  std::vector<std::string> asked;
  Napi::Array names = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    if (!names.Get(i).IsString()) throwTypeError(env, "the asked cuts must be an array of names");
    asked.push_back(names.Get(i).As<Napi::String>().Utf8Value());
  }
  const CutProbe probe = probeCuts(*model, input, depth, asked);
  Napi::Object out = Napi::Object::New(env);
  Napi::Array points = Napi::Array::New(env, probe.points.size());
  for (size_t i = 0; i < probe.points.size(); ++i) {
    Napi::Array point = Napi::Array::New(env, 2);
    point.Set(0u, Napi::String::New(env, probe.points[i].first));
    point.Set(1u, Napi::Number::New(env, static_cast<double>(probe.points[i].second)));
    points.Set(static_cast<uint32_t>(i), point);
  }
  out.Set("points", points);
  Napi::Array runs = Napi::Array::New(env, probe.asked.size());
  for (size_t i = 0; i < probe.asked.size(); ++i) {
    Napi::Array r = Napi::Array::New(env, 3);
    r.Set(0u, Napi::Number::New(env, static_cast<double>(probe.asked[i].calls)));
    r.Set(1u, Napi::Boolean::New(env, probe.asked[i].output));
    r.Set(2u, Napi::Number::New(env, static_cast<double>(probe.asked[i].order)));
    runs.Set(static_cast<uint32_t>(i), r);
  }
  out.Set("asked", runs);
  return out;
}

}  // namespace

void registerCuts(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "probeCuts", ProbeCuts); }

}  // namespace skipnorm
