#include "train/fit_hooks.h"

#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include <cerrno>
#include <cstring>

#include "core/json.h"

namespace skipnorm::train {

namespace {

// A hook event for JavaScript: { type: 'hook', name, step, cut?, values }.
Napi::Value hookEvent(Napi::Env env, const char* name, int64_t step, Napi::Value values, const std::string* cut = nullptr) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "hook");
  event.Set("name", name);
  event.Set("step", Napi::Number::New(env, static_cast<double>(step)));
  if (cut) event.Set("cut", *cut);
  event.Set("values", values);
  return event;
}

// The same event as a JSON line's start, up to the values.
std::string lineStart(const char* name, int64_t step, const std::string* cut = nullptr) {
  std::string line = "{\"type\":\"hook\",\"name\":\"";
  line += name;
  line += "\",\"step\":";
  json::appendInt(line, step);
  if (cut) {
    line += ",\"cut\":";
    json::appendString(line, *cut);
  }
  return line + ",\"values\":";
}

std::string diagnosticsJson(const DiagnosticsResult& d) {
  std::string out = "{\"loss\":";
  json::appendNumber(out, d.loss);
  out += ",\"gradNormSquared\":";
  json::appendNumber(out, d.gradNormSquared);
  out += ",\"plRatio\":";
  json::appendNumber(out, d.plRatio);
  out += ",\"gradNorms\":{";
  for (size_t i = 0; i < d.gradNorms.size(); ++i) {
    if (i > 0) out += ',';
    json::appendString(out, d.gradNorms[i].first);
    out += ':';
    json::appendNumber(out, d.gradNorms[i].second);
  }
  out += '}';
  if (d.topHessianEigenvalue) {
    out += ",\"topHessianEigenvalue\":";
    json::appendNumber(out, *d.topHessianEigenvalue);
    out += ",\"hessianIterations\":";
    json::appendInt(out, d.hessianIterations);
  }
  return out + "}";
}

}  // namespace

FitHooks::FitHooks(HookOptions options) : o_(std::move(options)) {}

FitHooks::~FitHooks() {
  if (file_) std::fclose(file_);
}

void FitHooks::open() {
  if (o_.trackFile.empty()) return;
  file_ = std::fopen(o_.trackFile.c_str(), "ae");
  TORCH_CHECK(file_ != nullptr, "fit: cannot write ", o_.trackFile, ": ", std::strerror(errno));
}

void FitHooks::append(const std::string& line) {
  if (!file_) return;
  const bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fputc('\n', file_) != EOF && std::fflush(file_) == 0;
  TORCH_CHECK(ok, "fit: cannot write ", o_.trackFile, ": ", std::strerror(errno));
}

std::vector<at::Tensor> FitHooks::tensors() const { return {o_.jacobian.input, o_.diagnostics.input, o_.diagnostics.labels}; }

// Per parameter: [||x||, <x, cos(0.7 i)>] in float64 (a compact fingerprint for parity checks).
void FitHooks::parameterStats(JobContext& ctx, const char* name, int64_t step, const std::vector<NamedTensor>& params, bool grads) {
  c10::NoGradGuard noGrad;
  auto stats = std::make_shared<std::vector<std::tuple<std::string, double, double>>>();
  for (const auto& [key, p] : params) {
    at::Tensor t = grads ? p.grad() : p;
    if (!t.defined()) continue;
    at::Tensor flat = t.detach().to(at::kCPU, at::kDouble).flatten();
    at::Tensor probe = at::arange(flat.numel(), at::TensorOptions().dtype(at::kDouble)).mul_(0.7).cos_();
    stats->emplace_back(key, flat.norm().item<double>(), flat.dot(probe).item<double>());
  }
  if (file_) {
    std::string line = lineStart(name, step) + "{";
    for (size_t i = 0; i < stats->size(); ++i) {
      const auto& [key, norm, dot] = (*stats)[i];
      if (i > 0) line += ',';
      json::appendString(line, key);
      line += ":[";
      json::appendNumber(line, norm);
      line += ',';
      json::appendNumber(line, dot);
      line += ']';
    }
    append(line + "}}");
  }
  if (!o_.postEvents) return;
  ctx.post([name, step, stats](Napi::Env env) -> Napi::Value {
    Napi::Object values = Napi::Object::New(env);
    for (const auto& [key, norm, dot] : *stats) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, norm));
      pair.Set(1u, Napi::Number::New(env, dot));
      values.Set(key, pair);
    }
    return hookEvent(env, name, step, values);
  });
}

void FitHooks::parameterHooks(JobContext& ctx, int64_t step, const Optimizer& optimizer) {
  for (const auto& hook : o_.hooks) {
    if (step % hook.every != 0) continue;
    const bool grads = hook.kind == HookKind::GradNorms;
    parameterStats(ctx, grads ? "gradNorms" : "parameterStats", step, optimizer.params(), grads);
  }
}

void FitHooks::tracking(JobContext& ctx, int64_t step, nn::Layer& model) {
  auto& jacobian = o_.jacobian;
  for (size_t c = 0; jacobian.every > 0 && step % jacobian.every == 0 && c < jacobian.cuts.size(); ++c) {
    auto label = std::make_shared<std::string>(jacobian.cuts[c].first);
    jacobian.request.cut = jacobian.cuts[c].second;
    auto spectrum = std::make_shared<JacobianSpectrumResult>(jacobianSpectrumOf(*jacobian.model, jacobian.input, jacobian.request, &ctx));
    const at::Tensor& v = spectrum->values;
    if (file_) {
      std::string line = lineStart("jacobianSpectrum", step, label.get()) + "[";
      for (int64_t i = 0; i < v.numel(); ++i) {
        if (i > 0) line += ',';
        json::appendNumber(line, v.data_ptr<double>()[i]);
      }
      append(line + "]}");
    }
    if (o_.postEvents) {
      ctx.post([spectrum, step, label](Napi::Env env) -> Napi::Value {
        const at::Tensor& values = spectrum->values;
        Napi::Float64Array array = Napi::Float64Array::New(env, values.numel());
        std::memcpy(array.Data(), values.data_ptr<double>(), values.numel() * sizeof(double));
        return hookEvent(env, "jacobianSpectrum", step, array, label.get());
      });
    }
  }
  const auto& diagnostics = o_.diagnostics;
  if (diagnostics.every > 0 && step % diagnostics.every == 0) {
    auto d = std::make_shared<DiagnosticsResult>(diagnosticsOf(model, diagnostics.input, diagnostics.labels, diagnostics.request, &ctx));
    if (file_) append(lineStart("diagnostics", step) + diagnosticsJson(*d) + "}");
    if (o_.postEvents) ctx.post([d, step](Napi::Env env) -> Napi::Value { return hookEvent(env, "diagnostics", step, diagnosticsToJs(env, *d)); });
  }
}

}  // namespace skipnorm::train

namespace skipnorm::train {

namespace {

// TensorBoard's histogram of one tensor: `bins` equal buckets from its min to its max.
struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sumSquares = 0;
  std::vector<double> limits, counts;
};

Histogram histogramOf(const at::Tensor& t, int64_t bins) {
  at::Tensor flat = t.detach().flatten().to(at::kDouble);
  Histogram h;
  h.num = static_cast<double>(flat.numel());
  if (flat.numel() == 0) return h;
  // One read from the device for the five numbers.
  at::Tensor numbers = at::stack({flat.min(), flat.max(), flat.sum(), flat.square().sum()}).cpu();
  const double* n = numbers.data_ptr<double>();
  h.min = n[0], h.max = n[1], h.sum = n[2], h.sumSquares = n[3];
  if (!(h.max > h.min)) {  // constant (or NaN): one bucket holds everything
    h.limits = {h.max};
    h.counts = {h.num};
    return h;
  }
  at::Tensor counts = at::histc(flat, bins, h.min, h.max).cpu().contiguous();
  for (int64_t i = 0; i < bins; ++i) {
    h.limits.push_back(h.min + (h.max - h.min) * static_cast<double>(i + 1) / static_cast<double>(bins));
    h.counts.push_back(counts.data_ptr<double>()[i]);
  }
  return h;
}

}  // namespace

void FitHooks::weightHistograms(JobContext& ctx, int64_t step, const Optimizer& optimizer) {
  if (!o_.weightHistograms || !o_.postEvents) return;
  c10::NoGradGuard noGrad;
  auto all = std::make_shared<std::vector<std::pair<std::string, Histogram>>>();
  for (const auto& [key, p] : optimizer.params()) all->emplace_back(key, histogramOf(p, 30));
  ctx.post([step, all](Napi::Env env) -> Napi::Value {
    Napi::Object values = Napi::Object::New(env);
    auto array = [&env](const std::vector<double>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, v[i]));
      return a;
    };
    for (const auto& [key, h] : *all) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("min", h.min);
      o.Set("max", h.max);
      o.Set("num", h.num);
      o.Set("sum", h.sum);
      o.Set("sumSquares", h.sumSquares);
      o.Set("limits", array(h.limits));
      o.Set("counts", array(h.counts));
      values.Set(key, o);
    }
    return hookEvent(env, "weightHistograms", step, values);
  });
}

}  // namespace skipnorm::train
