// One training step of fit (forward, loss, backward, clipping, optimiser update), eager
// (train/eager_step.h) or captured in a CUDA graph (train/graphed_step.h). Both keep the step's
// results (loss, correct counts) and the epoch's sums on the device: the host reads them, one copy
// each time, only when a step or an epoch is reported, so the device runs ahead in between.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <memory>
#include <optional>

#include "nn/layer.h"
#include "train/loss.h"
#include "train/optimizer.h"

namespace skipnorm::train {

// What every step does, from fit's config.
struct StepSettings {
  std::shared_ptr<nn::Layer> model;
  std::shared_ptr<Optimizer> optimizer;
  LossOptions loss;
  std::optional<double> clipNorm;
  std::optional<at::ScalarType> autocast;  // bfloat16 or float16 for the forward pass
};

// A reported step: loss, top-1 and top-5 accuracy (NaN when not a classification), and for
// float16 the loss scale it used and whether its update was skipped.
struct StepValues {
  double loss, top1, top5, lossScale;
  bool skipped;
};

// Scales the gradients so that their joint 2-norm is at most maxNorm (clip_grad_norm_), without a
// read on the host.
void clipGradNorm(const std::vector<NamedTensor>& params, double maxNorm);

class TrainStep {
 public:
  explicit TrainStep(StepSettings settings) : s_(std::move(settings)) {}
  virtual ~TrainStep() = default;

  // One step on a batch, every parameter group at its base learning rate times `lrFactor` (the
  // schedule's multiplier).
  virtual void run(const at::Tensor& input, const at::Tensor& labels, double lrFactor) = 0;
  // The last step's values (one read from the device).
  virtual StepValues lastValues();
  // Sums over the epoch's steps so far: loss x batch size, top-1 and top-5 correct (one read).
  std::array<double, 3> epochSums();
  void startEpoch();
  // How many times the host waited for values from the device.
  int64_t hostReads() const { return hostReads_; }

 protected:
  at::Tensor forward(const at::Tensor& x, bool autocastCache);
  // Keeps the step's loss and correct counts, and adds them to the epoch's sums, on the device.
  void record(const at::Tensor& loss, const at::Tensor& out, const at::Tensor& labels);
  // Copies the values to the host: one wait for the device.
  std::vector<double> read(const std::vector<at::Tensor>& values);

  StepSettings s_;
  int64_t hostReads_ = 0;

 private:
  at::Tensor lastLoss_, lastTop1_, lastTop5_, lossSum_, top1Sum_, top5Sum_;
  double batch_ = 0;
  bool counted_ = false;  // a classification: correct counts are kept
};

}  // namespace skipnorm::train
