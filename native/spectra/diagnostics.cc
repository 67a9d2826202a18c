// Curvature and regularity at a batch (PAPER.md section 1), as a job:
//   curvature   the top Hessian eigenvalue (largest in magnitude) of the loss by power iteration
//               with Hessian-vector products (double backward through the model)
//   regularity  the PL ratio ||grad L||^2 / (L - L*), L* = 0 for cross-entropy unless given
//   gradients   the gradient norm of every parameter
// Batch norm is in train mode by default, as in training; running statistics and modes are
// restored afterwards, and the parameters' .grad is left untouched.
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "nn/in_use.h"
#include "nn/layers.h"

namespace skipnorm {

namespace {

double dot(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i].to(at::kDouble) * b[i].to(at::kDouble)).sum().item<double>();
  return s;
}

class DiagnosticsJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  at::Tensor input, labels;
  bool train = true;
  double lossFloor = 0;
  int64_t iterations = 0;  // Hessian power iterations (0: no curvature)
  double tol = 1e-6;
  nn::InUseMarks marks;

  DiagnosticsJob() : Job("diagnostics") {}
  void settled() override { marks.release(); }

  void run(JobContext& ctx) override {
    nn::ModeSnapshot modes(*model);
    nn::BufferSnapshot buffers(*model);
    compute(ctx);
  }

  void compute(JobContext& ctx) {
    c10::AutoGradMode enable(true);
    model->train(train);
    std::vector<at::Tensor> params;
    for (const auto& item : model->named_parameters(true)) {
      if (item.value().requires_grad()) {
        params.push_back(item.value());
        names_.push_back(item.key());
      }
    }
    at::Tensor out = (*model)(input);
    at::Tensor loss = at::cross_entropy_loss(out, labels, std::nullopt, at::Reduction::Mean, -100, 0.0);
    loss_ = loss.item<double>();
    TORCH_CHECK(std::isfinite(loss_), "the loss is not finite (", loss_, "): are there NaN weights or inputs?");
    auto grads = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/true, /*create_graph=*/iterations > 0, /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) grads[i] = at::zeros_like(params[i]);
      gradNorms_.push_back(grads[i].detach().to(at::kDouble).norm().item<double>());
    }
    double g2 = 0;
    for (double n : gradNorms_) g2 += n * n;
    gradNormSquared_ = g2;
    TORCH_CHECK(loss_ > lossFloor, "the PL ratio needs a loss above its floor L* (", lossFloor, "); the loss is ", loss_);
    plRatio_ = g2 / (loss_ - lossFloor);
    if (iterations == 0) return;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
    std::vector<at::Tensor> v;
    for (auto& p : params) v.push_back(at::randn(p.sizes(), gen, p.options()));
    auto normalise = [](std::vector<at::Tensor>& x) {
      const double n = std::sqrt(dot(x, x));
      for (auto& t : x) t = t / n;
    };
    normalise(v);
    double previous = 0;
    for (int64_t it = 0; it < iterations; ++it) {
      ctx.checkCancelled();
      at::Tensor gv = at::zeros({}, loss.options());
      for (size_t i = 0; i < grads.size(); ++i) gv = gv + (grads[i] * v[i]).sum();
      auto hv = torch::autograd::grad({gv}, params, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
      for (size_t i = 0; i < hv.size(); ++i) {
        if (!hv[i].defined()) hv[i] = at::zeros_like(params[i]);
        hv[i] = hv[i].detach();
      }
      eigenvalue_ = dot(v, hv);  // Rayleigh quotient of the unit vector v
      iterationsDone_ = it + 1;
      v = hv;
      normalise(v);
      if (it > 0 && std::abs(eigenvalue_ - previous) <= tol * std::abs(eigenvalue_)) break;
      previous = eigenvalue_;
    }
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", Napi::Number::New(env, loss_));
    out.Set("gradNormSquared", Napi::Number::New(env, gradNormSquared_));
    out.Set("plRatio", Napi::Number::New(env, plRatio_));
    Napi::Object norms = Napi::Object::New(env);
    for (size_t i = 0; i < names_.size(); ++i) norms.Set(names_[i], Napi::Number::New(env, gradNorms_[i]));
    out.Set("gradNorms", norms);
    if (iterations > 0) {
      out.Set("topHessianEigenvalue", Napi::Number::New(env, eigenvalue_));
      out.Set("hessianIterations", Napi::Number::New(env, static_cast<double>(iterationsDone_)));
    }
    return out;
  }

 private:
  double loss_ = 0, gradNormSquared_ = 0, plRatio_ = 0, eigenvalue_ = 0;
  int64_t iterationsDone_ = 0;
  std::vector<std::string> names_;
  std::vector<double> gradNorms_;
};

// diagnostics(model, input, labels, train, lossFloor, iterations, tol) -> [promise, jobId]
Napi::Value Diagnostics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = nn::moduleByHandle(env, numberArg(info, 0), "model");
  auto job = std::make_unique<DiagnosticsJob>();
  job->model = model;
  job->input = tensorArg(info, 1);
  job->labels = tensorArg(info, 2);
  job->train = boolArg(info, 3);
  job->lossFloor = numberArg(info, 4);
  job->iterations = intArg(info, 5);
  job->tol = numberArg(info, 6);
  job->marks.mark(env, *job->model);
  return submitJob(env, std::move(job), env.Undefined());
}

}  // namespace

void registerDiagnostics(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "diagnostics", Diagnostics); }

}  // namespace skipnorm
