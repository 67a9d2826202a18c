#include "train/fit_config.h"

#include <cmath>

#include "core/addon.h"
#include "core/errors.h"
#include "core/options.h"
#include "nn/in_use.h"
#include "nn/layers.h"
#include "train/optim_api.h"
#include "train/schedule_api.h"

namespace skipnorm {

std::shared_ptr<data::Loader> loaderFromHandle(Napi::Env env, double handle);  // data/data_api.cc

namespace train {

namespace {

bool given(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

std::optional<Napi::Object> objectOption(const Napi::Object& o, const char* key) {
  if (!given(o, key)) return std::nullopt;
  if (!o.Get(key).IsObject()) throwTypeError(o.Env(), std::string("option '") + key + "' must be an object");
  return o.Get(key).As<Napi::Object>();
}

JacobianTracking jacobianFromJs(const Napi::Object& t, const std::shared_ptr<nn::Layer>& model) {
  JacobianTracking j;
  j.model = model;
  j.input = tensorOption(t, "input").detach();
  j.every = intOption(t, "every");
  // [[label, module name], ...]: the cuts TypeScript resolved ('stem', 'all').
  const Napi::Value cuts = t.Get("cuts");
  if (!cuts.IsArray()) throwTypeError(t.Env(), "trackJacobian.cuts must be an array of [label, module]");
  for (uint32_t i = 0; i < cuts.As<Napi::Array>().Length(); ++i) {
    const Napi::Value pair = cuts.As<Napi::Array>().Get(i);
    if (!pair.IsArray() || !pair.As<Napi::Array>().Get(0u).IsString() || !pair.As<Napi::Array>().Get(1u).IsString()) {
      throwTypeError(t.Env(), "trackJacobian.cuts must be an array of [label, module]");
    }
    j.cuts.emplace_back(pair.As<Napi::Array>().Get(0u).As<Napi::String>().Utf8Value(), pair.As<Napi::Array>().Get(1u).As<Napi::String>().Utf8Value());
  }
  TORCH_CHECK(!j.cuts.empty(), "trackJacobian needs at least one cut");
  j.request.train = boolOption(t, "train", true);
  j.request.float64 = boolOption(t, "float64", true);
  j.request.lanczosSteps = intOption(t, "lanczosSteps", 0);
  j.request.reportProgress = false;
  j.request.cudaGraph = boolOption(t, "cudaGraph", false);
  j.request.rowsPerPass = intOption(t, "rowsPerPass", 0);
  return j;
}

DiagnosticsTracking diagnosticsFromJs(const Napi::Object& t) {
  DiagnosticsTracking d;
  d.input = tensorOption(t, "input").detach();
  d.labels = tensorOption(t, "labels").detach();
  d.every = intOption(t, "every");
  d.request.train = boolOption(t, "train", true);
  d.request.lossFloor = numberOption(t, "lossFloor", 0);
  d.request.iterations = intOption(t, "hessianIterations", 0);
  d.request.tol = numberOption(t, "tol", 1e-6);
  return d;
}

std::vector<Hook> hooksFromJs(const Napi::Object& o) {
  std::vector<Hook> hooks;
  if (!given(o, "hooks")) return hooks;
  if (!o.Get("hooks").IsArray()) throwTypeError(o.Env(), "option 'hooks' must be an array of { kind, every }");
  Napi::Array a = o.Get("hooks").As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!a.Get(i).IsObject()) throwTypeError(o.Env(), "hooks must be objects { kind, every }");
    Napi::Object h = a.Get(i).As<Napi::Object>();
    hooks.push_back({enumOption<HookKind>(h, "kind", {{"parameterStats", HookKind::ParameterStats}, {"gradNorms", HookKind::GradNorms}}, HookKind::ParameterStats),
                     intOption(h, "every")});
  }
  return hooks;
}

}  // namespace

LossOptions lossFromJs(const Napi::Object& o) {
  return {enumOption<LossKind>(o, "loss", {{"cross-entropy", LossKind::CrossEntropy}, {"mse", LossKind::Mse}}, LossKind::CrossEntropy),
          numberOption(o, "labelSmoothing", 0)};
}

std::unique_ptr<BatchSource> dataFromJs(const Napi::Object& o, const nn::Layer& model, bool forEvaluation) {
  if (given(o, "loader")) {
    const auto params = model.parameters(true);
    const at::Device device = params.empty() ? at::Device(at::kCPU) : params.front().device();
    return std::make_unique<LoaderBatches>(loaderFromHandle(o.Env(), numberOption(o, "loader", -1)), device);
  }
  auto d = std::make_unique<TensorBatches>();
  // Detached aliases: the job never writes a gradient into the caller's tensors.
  d->input = tensorOption(o, "input").detach();
  d->labels = tensorOption(o, "labels").detach();
  TORCH_CHECK(d->input.dim() >= 1 && d->input.size(0) > 0, "the input must have at least one example");
  TORCH_CHECK(d->labels.dim() >= 1 && d->labels.size(0) == d->input.size(0), "input has ", d->input.size(0), " examples but labels has ",
              d->labels.dim() == 0 ? 0 : d->labels.size(0));
  d->size = intOption(o, "batchSize", 0);
  d->shuffle = !forEvaluation && boolOption(o, "shuffle", true);
  d->dropLast = !forEvaluation && boolOption(o, "dropLast", false);
  d->seed = static_cast<uint64_t>(intOption(o, "seed", 0));
  return d;
}

FitConfig fitConfigFromJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  FitConfig c;
  c.step.model = nn::moduleByHandle(o.Env(), numberOption(o, "model", -1), "model");
  c.step.optimizer = optimizerArg(info, 2);
  c.step.loss = lossFromJs(o);
  if (given(o, "clipGradNorm")) c.step.clipNorm = numberOption(o, "clipGradNorm", 0);
  switch (enumOption<int>(o, "autocast", {{"none", 0}, {"bfloat16", 1}, {"float16", 2}}, 0)) {
    case 1:
      c.step.autocast = at::kBFloat16;
      break;
    case 2:
      c.step.autocast = at::kHalf;
      break;
  }
  c.data = dataFromJs(o, *c.step.model, false);
  c.epochs = intOption(o, "epochs", 0);
  c.steps = intOption(o, "steps", 0);
  if (auto s = objectOption(o, "schedule")) c.schedule = scheduleFromJs(*s);
  c.scheduleUnit = enumOption<ScheduleUnit>(o, "scheduleUnit", {{"epoch", ScheduleUnit::Epoch}, {"step", ScheduleUnit::Step}}, ScheduleUnit::Epoch);
  c.progressEvery = intOption(o, "progressEvery", 1);
  c.channelsLast = boolOption(o, "channelsLast", false);
  c.scaler = {numberOption(o, "lossScale", 65536.0), intOption(o, "lossScaleGoodSteps", 0)};
  c.startStep = intOption(o, "startStep", 0);
  if (auto r = objectOption(o, "resumeEpochSums")) c.resumedSums = epochSumsFromJs(*r);
  if (auto k = objectOption(o, "checkpoint")) {
    c.checkpoint.dir = stringOption(*k, "dir", "");
    c.checkpoint.every = intOption(*k, "every");
    c.checkpoint.keep = intOption(*k, "keep", 3);
    c.checkpoint.run = stringOption(*k, "run", "{}");
  }
  c.hooks.hooks = hooksFromJs(o);
  if (auto t = objectOption(o, "trackJacobian")) c.hooks.jacobian = jacobianFromJs(*t, c.step.model);
  if (auto t = objectOption(o, "trackDiagnostics")) c.hooks.diagnostics = diagnosticsFromJs(*t);
  if (auto v = objectOption(o, "validation")) {
    c.validation = dataFromJs(*v, *c.step.model, true);
    c.validateEvery = intOption(*v, "every", 0);
  }
  c.hooks.weightHistograms = boolOption(o, "weightHistograms", false);
  c.hooks.trackFile = stringOption(o, "trackFile", "");
  c.hooks.postEvents = boolOption(o, "hookEvents", false);
  c.dataParallel = boolOption(o, "dataParallel", false);
  c.syncBatchNorm = boolOption(o, "syncBatchNorm", false);
  c.cudaGraph = boolOption(o, "cudaGraph", false);
  if (c.cudaGraph) {
    TORCH_CHECK(!c.dataParallel, "cudaGraph does not combine with distributed training");
    TORCH_CHECK(c.step.autocast != at::kHalf, "cudaGraph does not combine with float16 autocast (its loss scaling decides on the host every step): use bfloat16");
    TORCH_CHECK(dynamic_cast<Sgd*>(c.step.optimizer.get()) != nullptr, "cudaGraph supports the SGD optimiser (Adam's bias corrections change on the host every step)");
    for (const auto& m : c.step.model->modules(true)) {
      auto bn = std::dynamic_pointer_cast<nn::BatchNorm>(m);
      TORCH_CHECK(!bn || !bn->cumulativeAverage(), "cudaGraph cannot capture batch norm with momentum: null (its cumulative average reads a counter on the host every step)");
    }
  }
  // Invariants of the config TypeScript builds (a direct caller gets an error, not a crash).
  TORCH_CHECK(!c.step.clipNorm || (std::isfinite(*c.step.clipNorm) && *c.step.clipNorm > 0), "clipGradNorm must be a positive number");
  TORCH_CHECK(!c.syncBatchNorm || c.dataParallel, "syncBatchNorm needs data parallelism");
  TORCH_CHECK((c.epochs > 0) != (c.steps > 0), "give exactly one of epochs and steps (a positive integer)");
  TORCH_CHECK(c.progressEvery > 0 && c.startStep >= 0 && c.scaler.scale > 0, "fit: invalid config");
  for (const auto& h : c.hooks.hooks) TORCH_CHECK(h.every > 0, "a hook's 'every' must be positive");
  TORCH_CHECK(c.hooks.jacobian.every >= 0 && c.hooks.diagnostics.every >= 0 && c.checkpoint.every >= 0 && c.checkpoint.keep > 0, "fit: invalid config");
  TORCH_CHECK(c.validateEvery >= 0, "fit: invalid config");
  TORCH_CHECK(c.checkpoint.every == 0 || !c.checkpoint.dir.empty(), "fit: checkpoints need a folder");
  return c;
}

}  // namespace train

}  // namespace skipnorm
