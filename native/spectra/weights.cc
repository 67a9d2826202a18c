// Layer-wise weight spectra (PRODUCT.md capability 5), as a job:
//   Linear       all singular values of the (effective, if weight-normalised) weight
//   Conv2d       circular-exact: the operator's exact spectrum for stride-1 circular convolution
//                over an H x W input, through the FFT (Sedghi, Gupta and Long 2019): the union over
//                frequencies of the singular values of the cout x cin matrices of the kernel's 2-D
//                FFT. power: the k largest of the true operator (its padding, stride, dilation and
//                groups) by power iteration on AᵀA, with Aᵀ by a vector-Jacobian product.
//                reshape: the singular values of the weight as a cout x (cin k k) matrix.
//   BatchNorm    the per-channel gains |gamma| / sqrt(running_var + eps) of the eval-mode map
// Each layer's input size comes from one eval-mode forward pass of a zero input.
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

struct LayerSpectrum {
  std::string name, kind, method;
  at::Tensor values;
};

at::Tensor descending(const at::Tensor& t) { return std::get<0>(t.flatten().to(at::kDouble).sort(0, true)); }

// Sedghi et al.: K̂[u, v] = FFT2 of the kernel zero-padded to H x W; singular values of each
// cout x cin matrix K̂[:, :, u, v]. Frequencies are processed in chunks to bound memory.
at::Tensor circularSpectrum(const at::Tensor& weight, int64_t h, int64_t w, JobContext& ctx) {
  TORCH_CHECK(weight.size(2) <= h && weight.size(3) <= w, "circular-exact: the kernel (", weight.size(2), "x", weight.size(3),
              ") is larger than the input (", h, "x", w, ")");
  at::Tensor k = weight.detach().to(at::kDouble);
  at::Tensor transform = at::fft_fft2(k, std::vector<int64_t>{h, w}, std::vector<int64_t>{2, 3});  // [cout, cin, h, w]
  at::Tensor perFrequency = transform.permute({2, 3, 0, 1}).reshape({h * w, k.size(0), k.size(1)});
  std::vector<at::Tensor> parts;
  const int64_t chunk = std::max<int64_t>(1, 4'000'000 / std::max<int64_t>(1, k.size(0) * k.size(1)));
  for (int64_t start = 0; start < h * w; start += chunk) {
    ctx.checkCancelled();
    parts.push_back(at::linalg_svdvals(perFrequency.slice(0, start, std::min(h * w, start + chunk))).flatten());
  }
  return descending(at::cat(parts));
}

// The k largest singular values of x -> conv2d(x, W, ...) on inputs of shape `input`, by block power
// iteration (subspace iteration) on AᵀA with Rayleigh-Ritz, Aᵀ through autograd.
at::Tensor powerSpectrum(nn::Conv2d& conv, std::vector<int64_t> input, int64_t k, int64_t iterations, JobContext& ctx) {
  input[0] = 1;
  const auto& o = conv.options();
  at::Tensor w = conv.weight().detach().to(at::kDouble);
  auto apply = [&](const at::Tensor& x) {
    if (!o.paddingMode.empty()) return at::conv2d(x, w, std::nullopt, o.stride, o.paddingMode, o.dilation, o.groups);
    return at::conv2d(x, w, std::nullopt, o.stride, o.padding, o.dilation, o.groups);
  };
  const int64_t n = input[1] * input[2] * input[3];
  k = std::min(k, n);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  at::Tensor basis = std::get<0>(at::linalg_qr(at::randn({n, k}, gen, at::TensorOptions().dtype(at::kDouble))));
  at::Tensor values;
  auto gram = [&](const at::Tensor& v) {  // AᵀA v for each column of v
    std::vector<at::Tensor> columns;
    for (int64_t j = 0; j < v.size(1); ++j) {
      at::Tensor x = v.select(1, j).reshape(input).detach().requires_grad_(true);
      at::Tensor y = apply(x);
      at::Tensor ata = torch::autograd::grad({y}, {x}, {y.detach()})[0];
      columns.push_back(ata.reshape({-1}));
    }
    return at::stack(columns, 1);
  };
  for (int64_t it = 0; it < iterations; ++it) {
    ctx.checkCancelled();
    at::Tensor z = gram(basis);
    basis = std::get<0>(at::linalg_qr(z));
  }
  at::Tensor small = at::mm(basis.t(), gram(basis));  // Rayleigh-Ritz on the subspace
  values = at::linalg_eigvalsh((small + small.t()) / 2).clamp_min(0).sqrt();
  return descending(values);
}

class WeightSpectraJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  std::vector<int64_t> inputShape;  // [1, C, H, W]
  std::string method = "circular-exact";
  int64_t k = 1, iterations = 100;
  nn::InUseMarks marks;

  WeightSpectraJob() : Job("weightSpectra") {}
  void settled() override { marks.release(); }

  void run(JobContext& ctx) override {
    c10::NoGradGuard noGrad;
    // Each layer's input shape, from one eval-mode pass (modes restored after).
    std::unordered_map<const nn::Layer*, std::vector<int64_t>> inputs;
    {
      nn::ModeSnapshot modes(*model);
      model->eval();
      nn::ShapeRecorder recorder;
      (*model)(at::zeros(inputShape, model->parameters().empty() ? at::TensorOptions() : model->parameters()[0].options()));
      for (const auto& [layer, shape] : recorder.inputs()) inputs.emplace(layer, shape);
    }
    for (const auto& item : model->named_modules("", true)) {
      ctx.checkCancelled();
      const std::string& name = item.key();
      if (auto* linear = dynamic_cast<nn::Linear*>(item.value().get())) {
        results_.push_back({name, "Linear", "exact", descending(at::linalg_svdvals(linear->weight().detach().to(at::kDouble)))});
      } else if (auto* conv = dynamic_cast<nn::Conv2d*>(item.value().get())) {
        const auto& o = conv->options();
        auto seen = inputs.find(conv);
        const bool circularOk = o.stride[0] == 1 && o.stride[1] == 1 && o.dilation[0] == 1 && o.dilation[1] == 1 && o.groups == 1;
        if (method == "reshape") {
          results_.push_back({name, "Conv2d", "reshape", descending(at::linalg_svdvals(conv->weight().detach().to(at::kDouble).flatten(1)))});
        } else if (seen == inputs.end()) {
          continue;  // not reached by the forward pass
        } else if (method == "circular-exact" && circularOk) {
          const auto& in = seen->second;
          results_.push_back({name, "Conv2d", "circular-exact", circularSpectrum(conv->weight(), in[in.size() - 2], in[in.size() - 1], ctx)});
        } else {
          // Power iteration on the true operator: asked for, or a strided/dilated/grouped convolution.
          c10::AutoGradMode grad(true);
          results_.push_back({name, "Conv2d", "power", powerSpectrum(*conv, seen->second, k, iterations, ctx)});
        }
      } else if (auto* bn = dynamic_cast<nn::BatchNorm*>(item.value().get())) {
        results_.push_back({name, bn->kind(), "gain", descending(bn->channelGains())});
      }
      ctx.progress({{"layers", static_cast<double>(results_.size())}});
    }
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); ++i) {
      Napi::Object row = Napi::Object::New(env);
      row.Set("name", results_[i].name);
      row.Set("kind", results_[i].kind);
      row.Set("method", results_[i].method);
      row.Set("singularValues", wrapTensor(env, results_[i].values));
      out.Set(static_cast<uint32_t>(i), row);
    }
    return out;
  }

 private:
  std::vector<LayerSpectrum> results_;
};

// weightSpectra(model, inputShape [C, H, W], method, k, iterations, onProgress) -> [promise, jobId]
Napi::Value WeightSpectra(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = nn::moduleByHandle(env, numberArg(info, 0), "model");
  auto job = std::make_unique<WeightSpectraJob>();
  job->model = model;
  std::vector<int64_t> shape = intListArg(info, 1);
  if (shape.size() != 3) throwTypeError(env, "the input size must be [channels, height, width]");
  job->inputShape = {1, shape[0], shape[1], shape[2]};
  job->method = stringArg(info, 2);
  if (job->method != "circular-exact" && job->method != "power" && job->method != "reshape") {
    throwTypeError(env, "method must be 'circular-exact', 'power' or 'reshape'");
  }
  job->k = intArg(info, 3);
  job->iterations = intArg(info, 4);
  job->marks.mark(env, *job->model);
  return submitJob(env, std::move(job), info.Length() > 5 ? info[5] : env.Undefined());
}

}  // namespace

void registerWeightSpectra(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "weightSpectra", WeightSpectra); }

}  // namespace skipnorm
