// The later-layer Jacobian spectrum as a function, for the jacobianSpectrum job and for tracking
// during training (native/train/fit.cc).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/jobs.h"
#include "nn/layer.h"

namespace skipnorm {

struct JacobianRequest {
  // The module whose output is the cut, by dotted name (spectra/cuts.h): the Jacobian is that of
  // the model's output with respect to this output.
  std::string cut;
  bool train = true;
  bool float64 = true;
  int64_t lanczosSteps = 0;  // 0: exact
  bool reportProgress = true;
  // Exact, on a GPU: one vector-Jacobian product captured in a CUDA graph, replayed per row.
  bool cudaGraph = false;
  // Exact: rows of J per backward pass (copies of the batch stacked); 0: automatic (one on the
  // CPU; on a GPU, as many as fit a memory budget).
  int64_t rowsPerPass = 0;
};

struct JacobianSpectrumResult {
  at::Tensor values;  // descending, float64
  std::vector<int64_t> shape{0, 0};
};

// Leaves the model as it was (modes, running statistics, dtypes); ctx may be null.
JacobianSpectrumResult jacobianSpectrumOf(nn::Layer& model, const at::Tensor& input, const JacobianRequest& request, JobContext* ctx);

}  // namespace skipnorm
