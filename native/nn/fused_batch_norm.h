// Training-mode batch norm fused with the ReLU after it, and with a residual addition between
// them where the model has one:
//   y = relu(weight * (x - mean) / sqrt(var + eps) + bias [+ z])
// with batch statistics, the running statistics updated exactly as PyTorch's BatchNorm2d does.
// In CUDA builds it runs on our own kernels (nn/fused_batch_norm_kernels.h) for channels-last
// float32, float16 and bfloat16 input; the models' containers (Sequential, Residual) and traced
// graphs take this path by themselves where the pattern occurs (fuseNormReLU).
//
// Modes (fusedBatchNormMode): auto, the default, fuses CUDA tensors only, so the CPU path is the
// unfused one; off never fuses; always fuses CPU tensors too, through the same formulas written
// with ATen operations, so that the rewrite and the backward's algebra can be checked anywhere.
#pragma once

#include <ATen/ATen.h>

#include "nn/layer.h"

namespace skipnorm::nn {

enum class FusionMode { Auto, Off, Always };

void setFusedBatchNormMode(FusionMode mode);
FusionMode fusedBatchNormMode();

// How many fused operations have run in this process (to see that a model takes the fused path).
int64_t fusedBatchNormCalls();

// While one exists, this thread does not fuse: for a forward whose graph is differentiated twice
// (curvature: Hessian-vector products), since the fused operation has no second derivative.
class FusionOff {
 public:
  FusionOff();
  ~FusionOff();
  FusionOff(const FusionOff&) = delete;
  FusionOff& operator=(const FusionOff&) = delete;
  static bool active();

 private:
  bool previous_;
};

// Whether fusion may happen on this thread at all: the mode allows it, no FusionOff is alive,
// and no layer-by-layer observer (shape recording, an output hook: a cut) needs the layers' own
// outputs.
bool fusionEnabledHere();

// Whether the fused path takes these tensors under the current mode: 4-d float32, float16 or
// bfloat16 input, channels-last on CUDA (any layout on the CPU in mode always), float32
// per-channel parameters on its device, a residual of the input's shape, type and layout.
bool fusedPathTakes(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean,
                    const at::Tensor& runningVar);

// relu(norm(x) [+ residual]) when `norm` is a BatchNorm2d and `activation` a ReLU that the fused
// path takes for these tensors; an undefined tensor when it does not (then call them as usual).
at::Tensor fuseNormReLU(Layer& norm, const Layer& activation, const at::Tensor& x, const at::Tensor& residual);

// The fused operation itself, differentiable once (x, residual, weight and bias get gradients;
// a backward that builds a graph for a second derivative is refused). The running statistics, if
// defined, are updated with `momentum`.
at::Tensor fusedBatchNormReLU(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, const at::Tensor& bias,
                              const at::Tensor& runningMean, const at::Tensor& runningVar, double momentum, double eps);

}  // namespace skipnorm::nn
