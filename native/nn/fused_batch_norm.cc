#include "nn/fused_batch_norm.h"

#include <torch/csrc/autograd/custom_function.h>

#include <atomic>

#include "nn/layers.h"

#ifdef SKIPNORM_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "nn/fused_batch_norm_kernels.h"
#endif

namespace skipnorm::nn {

namespace {

std::atomic<FusionMode> g_mode{FusionMode::Auto};
std::atomic<int64_t> g_calls{0};
thread_local bool t_fusionOff = false;

bool fusableType(at::ScalarType t) { return t == at::kFloat || t == at::kHalf || t == at::kBFloat16; }

at::Tensor perChannel(const at::Tensor& v) { return v.view({1, -1, 1, 1}); }

// What the backward reads: the input, the output (with a residual), the bias and the statistics.
struct Saved {
  at::Tensor x, y, scale, bias, mean, invstd;
};

// (x - mean) * scale + bias from the centred input x - mean, in float, as the kernels compute it.
at::Tensor normalised(const at::Tensor& centred, const Saved& s) { return centred * perChannel(s.scale) + perChannel(s.bias); }

// ---- the same formulas with ATen operations (the CPU path of mode always) ------------------------

void referenceForward(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean,
                      const at::Tensor& runningVar, double momentum, double eps, Saved& s) {
  const double rows = static_cast<double>(x.numel() / x.size(1));
  const at::Tensor xf = x.to(at::kFloat);
  const std::vector<int64_t> dims{0, 2, 3};
  // In double, as the kernels add their partial sums.
  auto [var, meanDouble] = at::var_mean(xf.to(at::kDouble), dims, /*correction=*/0, /*keepdim=*/false);
  const at::Tensor mean = meanDouble.to(at::kFloat);
  s.mean = mean;
  s.invstd = (var + eps).rsqrt().to(at::kFloat);
  s.scale = weight * s.invstd;
  s.bias = bias;
  at::Tensor pre = normalised(xf - perChannel(s.mean), s);
  // Rounded to the input's type before a residual is added, as the kernel does.
  if (residual.defined()) pre = pre.to(x.scalar_type()).to(at::kFloat) + residual.to(at::kFloat);
  s.y = at::relu(pre).to(x.scalar_type());
  if (runningMean.defined()) {
    runningMean.mul_(1 - momentum).add_(mean, momentum);
    runningVar.mul_(1 - momentum).add_(var * (rows > 1 ? rows / (rows - 1) : 1.0), momentum);
  }
}

// Gradients {dx, dz (or undefined), dweight, dbias}.
std::vector<at::Tensor> referenceBackward(const at::Tensor& dy, const Saved& s, bool residual) {
  const double rows = static_cast<double>(s.x.numel() / s.x.size(1));
  const std::vector<int64_t> dims{0, 2, 3};
  const at::Tensor xf = s.x.to(at::kFloat);
  const at::Tensor centred = xf - perChannel(s.mean);
  // The mask from the output as the forward wrote it (recomputed without a residual).
  const at::Tensor out = residual ? s.y : at::relu(normalised(centred, s)).to(s.x.scalar_type());
  const at::Tensor g = at::where(out <= 0, at::zeros({}, xf.options()), dy.to(at::kFloat));
  const at::Tensor sumG = g.sum(dims), sumGX = (g * centred).sum(dims);
  const at::Tensor dweight = s.invstd * sumGX;
  const at::Tensor meanG = sumG / rows, coefX = s.invstd * dweight / rows;
  const at::Tensor dx = (perChannel(s.scale) * (g - perChannel(meanG) - centred * perChannel(coefX))).to(s.x.scalar_type());
  return {dx, residual ? g.to(s.x.scalar_type()) : at::Tensor(), dweight, sumG};
}

// ---- CUDA ----------------------------------------------------------------------------------------

#ifdef SKIPNORM_WITH_CUDA
kernels::ElementType elementType(const at::Tensor& t) {
  if (t.scalar_type() == at::kHalf) return kernels::ElementType::Float16;
  if (t.scalar_type() == at::kBFloat16) return kernels::ElementType::BFloat16;
  return kernels::ElementType::Float32;
}

void checkKernel(const char* error, const char* what) { TORCH_CHECK(error == nullptr, "fused batch norm (", what, "): CUDA error: ", error); }

float* dataOrNull(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

at::Tensor workspaceFor(const at::Tensor& x) {
  const int64_t channels = x.size(1);
  return at::empty({static_cast<int64_t>(kernels::workspaceFloats(x.numel() / channels, channels))}, x.options().dtype(at::kFloat));
}

void cudaForward(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean,
                 const at::Tensor& runningVar, double momentum, double eps, Saved& s) {
  c10::cuda::CUDAGuard guard(x.device());
  void* stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const auto floats = x.options().dtype(at::kFloat);
  s.mean = at::empty({channels}, floats);
  s.invstd = at::empty({channels}, floats);
  s.scale = at::empty({channels}, floats);
  s.bias = bias;
  at::Tensor workspace = workspaceFor(x);
  checkKernel(kernels::batchNormStatistics(elementType(x), x.data_ptr(), rows, channels, weight.data_ptr<float>(), dataOrNull(runningMean),
                                           dataOrNull(runningVar), momentum, eps, s.mean.data_ptr<float>(), s.invstd.data_ptr<float>(),
                                           s.scale.data_ptr<float>(), workspace.data_ptr<float>(), stream),
              "statistics");
  s.y = at::empty_like(x, at::MemoryFormat::ChannelsLast);
  checkKernel(kernels::normReLUForward(elementType(x), x.data_ptr(), residual.defined() ? residual.data_ptr() : nullptr, s.mean.data_ptr<float>(),
                                       s.scale.data_ptr<float>(), bias.data_ptr<float>(), s.y.data_ptr(), rows, channels, stream),
              "forward");
}

std::vector<at::Tensor> cudaBackward(const at::Tensor& gradOut, const Saved& s, bool residual) {
  c10::cuda::CUDAGuard guard(s.x.device());
  void* stream = c10::cuda::getCurrentCUDAStream(s.x.device().index()).stream();
  const int64_t channels = s.x.size(1), rows = s.x.numel() / channels;
  const at::Tensor dy = gradOut.to(s.x.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor dx = at::empty_like(s.x, at::MemoryFormat::ChannelsLast);
  at::Tensor dz = residual ? at::empty_like(s.x, at::MemoryFormat::ChannelsLast) : at::Tensor();
  at::Tensor dweight = at::empty({channels}, s.scale.options()), dbias = at::empty({channels}, s.scale.options());
  at::Tensor workspace = workspaceFor(s.x);
  checkKernel(kernels::normReLUBackward(elementType(s.x), dy.data_ptr(), s.x.data_ptr(), residual ? s.y.data_ptr() : nullptr, s.scale.data_ptr<float>(),
                                        s.bias.data_ptr<float>(), s.mean.data_ptr<float>(), s.invstd.data_ptr<float>(), dweight.data_ptr<float>(),
                                        dbias.data_ptr<float>(), dx.data_ptr(), residual ? dz.data_ptr() : nullptr, workspace.data_ptr<float>(), rows,
                                        channels, stream),
              "backward");
  return {dx, dz, dweight, dbias};
}
#endif

void runForward(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean,
                const at::Tensor& runningVar, double momentum, double eps, Saved& s) {
  s.x = x;
#ifdef SKIPNORM_WITH_CUDA
  if (x.is_cuda()) return cudaForward(x, residual, weight, bias, runningMean, runningVar, momentum, eps, s);
#endif
  referenceForward(x, residual, weight, bias, runningMean, runningVar, momentum, eps, s);
}

std::vector<at::Tensor> runBackward(const at::Tensor& dy, const Saved& s, bool residual) {
#ifdef SKIPNORM_WITH_CUDA
  if (s.x.is_cuda()) return cudaBackward(dy, s, residual);
#endif
  return referenceBackward(dy, s, residual);
}

// What the forward needs besides the differentiable inputs.
struct Settings {
  at::Tensor runningMean, runningVar;  // undefined without running statistics
  double momentum = 0.1, eps = 1e-5;
};

at::Tensor forwardAndSave(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                          const at::Tensor& bias, const Settings& settings) {
  Saved s;
  runForward(x, residual, weight, bias, settings.runningMean, settings.runningVar, settings.momentum, settings.eps, s);
  // The output is kept only where the backward reads the ReLU's mask from it.
  ctx->save_for_backward({x, residual.defined() ? s.y : at::Tensor(), s.scale, s.bias, s.mean, s.invstd});
  return s.y;
}

// {dx, dz, dweight, dbias}
std::vector<at::Tensor> gradients(torch::autograd::AutogradContext* ctx, const torch::autograd::variable_list& grads, bool residual) {
  // Grad mode is on in a backward only when it builds a graph (create_graph): the kernels' results
  // would carry no history, and a second derivative would silently miss this operation.
  TORCH_CHECK(!at::GradMode::is_enabled(),
              "fused batch norm + ReLU has no second derivative: turn the fusion off (sn.cuda.fusedBatchNorm('off')) before differentiating twice");
  auto saved = ctx->get_saved_variables();
  const Saved s{saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]};
  return runBackward(grads[0], s, residual);
}

// Two autograd functions, with and without the residual: an autograd function's tensor inputs
// must all be defined.
struct NormReLUFunction : public torch::autograd::Function<NormReLUFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, Settings settings) {
    return forwardAndSave(ctx, x, at::Tensor(), weight, bias, settings);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto g = gradients(ctx, grads, false);
    return {g[0], g[2], g[3], at::Tensor()};
  }
};

struct NormAddReLUFunction : public torch::autograd::Function<NormAddReLUFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                            const at::Tensor& bias, Settings settings) {
    return forwardAndSave(ctx, x, residual, weight, bias, settings);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto g = gradients(ctx, grads, true);
    return {g[0], g[1], g[2], g[3], at::Tensor()};
  }
};

}  // namespace

void setFusedBatchNormMode(FusionMode mode) { g_mode.store(mode); }
FusionMode fusedBatchNormMode() { return g_mode.load(); }
int64_t fusedBatchNormCalls() { return g_calls.load(); }

FusionOff::FusionOff() : previous_(t_fusionOff) { t_fusionOff = true; }
FusionOff::~FusionOff() { t_fusionOff = previous_; }
bool FusionOff::active() { return t_fusionOff; }

bool fusionEnabledHere() {
  return fusedBatchNormMode() != FusionMode::Off && !FusionOff::active() && !OutputHook::installed() && !ShapeRecorder::installed();
}

bool fusedPathTakes(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean,
                    const at::Tensor& runningVar) {
  const FusionMode mode = fusedBatchNormMode();
  if (mode == FusionMode::Off || x.dim() != 4 || x.numel() == 0 || !fusableType(x.scalar_type())) return false;
  if (x.is_cuda()) {
#ifndef SKIPNORM_WITH_CUDA
    return false;
#endif
    if (!x.is_contiguous(at::MemoryFormat::ChannelsLast)) return false;
  } else if (!x.is_cpu() || mode != FusionMode::Always) {
    return false;
  }
  auto perChannelFloat = [&](const at::Tensor& t) {
    return t.defined() && t.scalar_type() == at::kFloat && t.device() == x.device() && t.dim() == 1 && t.size(0) == x.size(1) && t.is_contiguous();
  };
  if (!perChannelFloat(weight) || !perChannelFloat(bias)) return false;
  if (runningMean.defined() != runningVar.defined()) return false;
  if (runningMean.defined() && (!perChannelFloat(runningMean) || !perChannelFloat(runningVar))) return false;
  if (residual.defined()) {
    if (residual.sizes() != x.sizes() || residual.scalar_type() != x.scalar_type() || residual.device() != x.device()) return false;
    if (x.is_cuda() && !residual.is_contiguous(at::MemoryFormat::ChannelsLast)) return false;
  }
  return true;
}

at::Tensor fuseNormReLU(Layer& norm, const Layer& activation, const at::Tensor& x, const at::Tensor& residual) {
  if (!fusionEnabledHere()) return at::Tensor();
  auto* bn = dynamic_cast<BatchNorm*>(&norm);
  const auto* act = dynamic_cast<const Activation*>(&activation);
  if (bn == nullptr || act == nullptr || !act->isReLU()) return at::Tensor();
  return bn->fusedWithReLU(x, residual);
}

at::Tensor fusedBatchNormReLU(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias,
                              const at::Tensor& runningMean, const at::Tensor& runningVar, double momentum, double eps) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  Settings settings{runningMean, runningVar, momentum, eps};
  if (residual.defined()) return NormAddReLUFunction::apply(x, residual, weight, bias, settings);
  return NormReLUFunction::apply(x, weight, bias, settings);
}

}  // namespace skipnorm::nn
