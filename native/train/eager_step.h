// fit's eager training step: forward (under autocast), loss, backward, and for float16 dynamic
// loss scaling (torch.amp.GradScaler's defaults: the loss is multiplied by the scale before
// backward and gradients divided after; a step whose gradients overflow is skipped and the scale
// halved; 2000 good steps in a row double it), then clipping and the optimiser's update. With
// data parallelism, gradients are averaged across ranks during backward.
#pragma once

#include "distributed/data_parallel.h"
#include "train/train_step.h"

namespace skipnorm::train {

struct LossScaler {
  double scale = 65536.0;
  int64_t goodSteps = 0;
};

class EagerStep : public TrainStep {
 public:
  EagerStep(StepSettings settings, distributed::DataParallel* parallel, LossScaler scaler)
      : TrainStep(std::move(settings)), parallel_(parallel), scaler_(scaler) {}

  void run(const at::Tensor& input, const at::Tensor& labels, double lrFactor) override;
  StepValues lastValues() override;
  const LossScaler& scaler() const { return scaler_; }

 private:
  // Divides the gradients by the loss scale in one pass, with one read of whether any overflowed;
  // false (and the scale halved) when one did.
  bool unscaleGradients();

  distributed::DataParallel* parallel_;
  LossScaler scaler_;
  double usedScale_ = 1.0;
  bool skipped_ = false;
};

}  // namespace skipnorm::train
