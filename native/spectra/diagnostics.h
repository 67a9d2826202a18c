// Curvature and regularity at a batch as a function, for the diagnostics job and for tracking
// during training (native/train/fit.cc).
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "core/jobs.h"
#include "nn/layer.h"

namespace skipnorm {

struct DiagnosticsRequest {
  bool train = true;       // batch norm with batch statistics, as in training
  double lossFloor = 0;    // L* of the PL ratio
  int64_t iterations = 0;  // Hessian power iterations (0: no curvature)
  double tol = 1e-6;       // stop when the eigenvalue changes by less than this, relatively
};

struct DiagnosticsResult {
  double loss = 0, gradNormSquared = 0, plRatio = 0;
  std::vector<std::pair<std::string, double>> gradNorms;  // per parameter
  std::optional<double> topHessianEigenvalue;
  int64_t hessianIterations = 0;
};

// Leaves the model as it was (modes, running statistics, .grad); ctx may be null.
DiagnosticsResult diagnosticsOf(nn::Layer& model, const at::Tensor& input, const at::Tensor& labels, const DiagnosticsRequest& request, JobContext* ctx);

// { loss, gradNormSquared, plRatio, gradNorms, topHessianEigenvalue?, hessianIterations? }
Napi::Object diagnosticsToJs(Napi::Env env, const DiagnosticsResult& result);

}  // namespace skipnorm
