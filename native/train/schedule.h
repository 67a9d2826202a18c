// Learning-rate schedules as closed forms of PyTorch's schedulers: the multiplier of the base
// learning rate after t scheduler steps (epochs or optimiser steps, as the training loop says).
//   constant            1
//   step(size, gamma)   gamma ^ floor(t / size)                          (StepLR)
//   multistep(ms, g)    g ^ (number of milestones <= t)                  (MultiStepLR)
//   cosine(T, minRatio) minRatio + (1 - minRatio)(1 + cos(pi t/T))/2  (CosineAnnealingLR, eta_min = minRatio * base;
//                       like PyTorch's it rises again after T)
//   warmup(n, start)    start + (1 - start) min(t, n) / n                (LinearLR to 1)
//   chain(a, b, ...)    the product of the parts                          (ChainedScheduler)
//   sequential(parts, milestones)  part k from milestone k-1, its own t restarting there (SequentialLR)
#pragma once

#include <memory>
#include <vector>

namespace skipnorm::train {

enum class ScheduleKind { Constant, Step, Multistep, Cosine, Warmup, Chain, Sequential };

struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t stepSize = 1;
  double gamma = 0.1;
  std::vector<int64_t> milestones;
  int64_t tMax = 1;
  double minRatio = 0;
  int64_t warmupSteps = 1;
  double startFactor = 1.0 / 3;
  std::vector<Schedule> parts;

  double factor(int64_t t) const;
  void validate() const;
};

}  // namespace skipnorm::train
