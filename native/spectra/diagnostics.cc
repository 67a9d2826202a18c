// Curvature and regularity at a batch (docs/paper.md, section 1):
//   curvature   the top Hessian eigenvalue (largest in magnitude) of the loss by power iteration
//               with Hessian-vector products (double backward through the model)
//   regularity  the PL ratio ||grad L||^2 / (L - L*), L* = 0 for cross-entropy unless given
//   gradients   the gradient norm of every parameter
// Batch norm is in train mode by default, as in training; running statistics and modes are
// restored afterwards, and the parameters' .grad is left untouched.
#include "spectra/diagnostics.h"

#include <c10/core/GradMode.h>
#include <optional>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "nn/fused_batch_norm.h"
#include "nn/in_use.h"
#include "nn/layers.h"

namespace skipnorm {

namespace {

double dot(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i].to(at::kDouble) * b[i].to(at::kDouble)).sum().item<double>();
  return s;
}

void normalise(std::vector<at::Tensor>& x) {
  const double n = std::sqrt(dot(x, x));
  for (auto& t : x) t = t / n;
}

}  // namespace

DiagnosticsResult diagnosticsOf(nn::Layer& model, const at::Tensor& input, const at::Tensor& labels, const DiagnosticsRequest& request, JobContext* ctx) {
  nn::ModeSnapshot modes(model);
  nn::BufferSnapshot buffers(model);
  c10::AutoGradMode enable(true);
  model.train(request.train);
  DiagnosticsResult result;
  std::vector<at::Tensor> params;
  for (const auto& item : model.named_parameters(true)) {
    if (item.value().requires_grad()) params.push_back(item.value());
  }
  const bool curvature = request.iterations > 0;
  // Hessian-vector products differentiate this forward's graph twice: no fused operations in it.
  std::optional<nn::FusionOff> unfused;
  if (curvature) unfused.emplace();
  at::Tensor out = model(input);
  at::Tensor loss = at::cross_entropy_loss(out, labels, std::nullopt, at::Reduction::Mean, -100, 0.0);
  result.loss = loss.item<double>();
  TORCH_CHECK(std::isfinite(result.loss), "the loss is not finite (", result.loss, "): are there NaN weights or inputs?");
  auto grads = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/curvature, /*create_graph=*/curvature, /*allow_unused=*/true);
  size_t index = 0;
  for (const auto& item : model.named_parameters(true)) {
    if (!item.value().requires_grad()) continue;
    at::Tensor& g = grads[index++];
    if (!g.defined()) g = at::zeros_like(item.value());
    const double norm = g.detach().to(at::kDouble).norm().item<double>();
    result.gradNorms.emplace_back(item.key(), norm);
    result.gradNormSquared += norm * norm;
  }
  TORCH_CHECK(result.loss > request.lossFloor, "the PL ratio needs a loss above its floor L* (", request.lossFloor, "); the loss is ", result.loss);
  result.plRatio = result.gradNormSquared / (result.loss - request.lossFloor);
  if (!curvature) return result;

  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
  std::vector<at::Tensor> v;
  for (auto& p : params) v.push_back(at::randn(p.sizes(), gen, p.options().device(at::kCPU)).to(p.device()));
  normalise(v);
  double previous = 0, eigenvalue = 0;
  for (int64_t it = 0; it < request.iterations; ++it) {
    if (ctx) ctx->checkCancelled();
    at::Tensor gv = at::zeros({}, loss.options());
    for (size_t i = 0; i < grads.size(); ++i) gv = gv + (grads[i] * v[i]).sum();
    auto hv = torch::autograd::grad({gv}, params, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < hv.size(); ++i) hv[i] = hv[i].defined() ? hv[i].detach() : at::zeros_like(params[i]);
    eigenvalue = dot(v, hv);  // Rayleigh quotient of the unit vector v
    result.hessianIterations = it + 1;
    v = hv;
    normalise(v);
    if (it > 0 && std::abs(eigenvalue - previous) <= request.tol * std::abs(eigenvalue)) break;
    previous = eigenvalue;
  }
  result.topHessianEigenvalue = eigenvalue;
  return result;
}

Napi::Object diagnosticsToJs(Napi::Env env, const DiagnosticsResult& result) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, result.loss));
  out.Set("gradNormSquared", Napi::Number::New(env, result.gradNormSquared));
  out.Set("plRatio", Napi::Number::New(env, result.plRatio));
  Napi::Object norms = Napi::Object::New(env);
  for (const auto& [name, norm] : result.gradNorms) norms.Set(name, Napi::Number::New(env, norm));
  out.Set("gradNorms", norms);
  if (result.topHessianEigenvalue) {
    out.Set("topHessianEigenvalue", Napi::Number::New(env, *result.topHessianEigenvalue));
    out.Set("hessianIterations", Napi::Number::New(env, static_cast<double>(result.hessianIterations)));
  }
  return out;
}

namespace {

class DiagnosticsJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  at::Tensor input, labels;
  DiagnosticsRequest request;
  nn::InUseMarks marks;

  DiagnosticsJob() : Job("diagnostics") {}
  void settled() override { marks.release(); }

  void run(JobContext& ctx) override { result_ = diagnosticsOf(*model, input, labels, request, &ctx); }

  Napi::Value result(Napi::Env env) override { return diagnosticsToJs(env, result_); }

 private:
  DiagnosticsResult result_;
};

// diagnostics(model, input, labels, train, lossFloor, iterations, tol) -> [promise, jobId]
Napi::Value Diagnostics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = nn::moduleByHandle(env, numberArg(info, 0), "model");
  auto job = std::make_unique<DiagnosticsJob>();
  job->model = model;
  job->input = tensorArg(info, 1);
  job->labels = tensorArg(info, 2);
  job->request.train = boolArg(info, 3);
  job->request.lossFloor = numberArg(info, 4);
  job->request.iterations = intArg(info, 5);
  job->request.tol = numberArg(info, 6);
  job->marks.mark(env, *job->model);
  job->marks.markTensor(env, job->input);
  job->marks.markTensor(env, job->labels);
  return submitJob(env, std::move(job), env.Undefined());
}

}  // namespace

void registerDiagnostics(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "diagnostics", Diagnostics); }

}  // namespace skipnorm
