// What fit does between steps besides training: hooks every N steps (per-parameter statistics or
// gradient norms), tracking of a fixed batch (the Jacobian spectrum, curvature diagnostics), each
// measured on the training thread. Results go to JavaScript as hook events (only when it listens)
// and, as JSON lines, to the run's track file, which the job appends itself (the event loop never
// writes it; a line is written before the step after it starts, so nothing queues).
#pragma once

#include <ATen/ATen.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/jobs.h"
#include "nn/layers.h"
#include "spectra/diagnostics.h"
#include "spectra/jacobian.h"
#include "train/optimizer.h"

namespace skipnorm::train {

enum class HookKind { ParameterStats, GradNorms };

struct Hook {
  HookKind kind = HookKind::ParameterStats;
  int64_t every = 1;
};

struct JacobianTracking {
  std::shared_ptr<nn::Layer> model;  // set when tracking
  at::Tensor input;
  int64_t every = 0;  // 0: not tracked
  JacobianRequest request;  // its cut is set from `cuts` in turn
  // (label, module name) of each cut, measured in this order; the label ('stem' or the name)
  // goes with the values.
  std::vector<std::pair<std::string, std::string>> cuts;
};

struct DiagnosticsTracking {
  at::Tensor input, labels;
  int64_t every = 0;  // 0: not tracked
  DiagnosticsRequest request;
};

struct HookOptions {
  std::vector<Hook> hooks;
  JacobianTracking jacobian;
  DiagnosticsTracking diagnostics;
  bool weightHistograms = false;  // a histogram of every parameter at each epoch's end (for TensorBoard)
  std::string trackFile;     // JSON lines, appended; empty: none
  bool postEvents = false;   // JavaScript listens to hook events
};

class FitHooks {
 public:
  explicit FitHooks(HookOptions options);
  ~FitHooks();
  FitHooks(const FitHooks&) = delete;
  FitHooks& operator=(const FitHooks&) = delete;

  // Opens the track file (on the job's thread, when the run starts).
  void open();
  // After a step: the hooks due (per-parameter statistics or gradient norms), then, after the
  // step's progress report, the tracking due (spectrum, diagnostics).
  void parameterHooks(JobContext& ctx, int64_t step, const Optimizer& optimizer);
  void tracking(JobContext& ctx, int64_t step, nn::Layer& model);
  // At an epoch's end, when asked for: each parameter's histogram (TensorBoard's buckets).
  void weightHistograms(JobContext& ctx, int64_t step, const Optimizer& optimizer);
  // The tensors it reads (JavaScript may not write them while the job runs).
  std::vector<at::Tensor> tensors() const;

 private:
  void parameterStats(JobContext& ctx, const char* name, int64_t step, const std::vector<NamedTensor>& params, bool grads);
  void append(const std::string& line);

  HookOptions o_;
  std::FILE* file_ = nullptr;
};

}  // namespace skipnorm::train
