#include "train/schedule.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace skipnorm::train {

void Schedule::validate() const {
  switch (kind) {
    case ScheduleKind::Constant:
      return;
    case ScheduleKind::Step:
      TORCH_CHECK(stepSize > 0 && gamma > 0, "step schedule: stepSize must be positive and gamma positive");
      return;
    case ScheduleKind::Multistep:
      TORCH_CHECK(std::is_sorted(milestones.begin(), milestones.end()), "multistep schedule: milestones must be increasing");
      TORCH_CHECK(gamma > 0, "multistep schedule: gamma must be positive");
      return;
    case ScheduleKind::Cosine:
      TORCH_CHECK(tMax > 0 && minRatio >= 0 && minRatio <= 1, "cosine schedule: tMax must be positive and minRatio in [0, 1]");
      return;
    case ScheduleKind::Warmup:
      TORCH_CHECK(warmupSteps > 0 && startFactor > 0 && startFactor <= 1, "warmup schedule: steps must be positive and startFactor in (0, 1]");
      return;
    case ScheduleKind::Chain:
      TORCH_CHECK(!parts.empty(), "chain schedule: needs at least one part");
      for (const auto& p : parts) p.validate();
      return;
    case ScheduleKind::Sequential:
      TORCH_CHECK(parts.size() == milestones.size() + 1, "sequential schedule: needs one milestone fewer than parts");
      TORCH_CHECK(std::is_sorted(milestones.begin(), milestones.end()), "sequential schedule: milestones must be increasing");
      for (const auto& p : parts) p.validate();
      return;
  }
}

double Schedule::factor(int64_t t) const {
  switch (kind) {
    case ScheduleKind::Constant:
      return 1;
    case ScheduleKind::Step:
      return std::pow(gamma, static_cast<double>(t / stepSize));
    case ScheduleKind::Multistep: {
      const auto passed = std::upper_bound(milestones.begin(), milestones.end(), t) - milestones.begin();
      return std::pow(gamma, static_cast<double>(passed));
    }
    case ScheduleKind::Cosine: {
      // Periodic past tMax, as PyTorch's CosineAnnealingLR: chain or stop at tMax for a single decay.
      const double progress = static_cast<double>(t) / static_cast<double>(tMax);
      return minRatio + (1 - minRatio) * (1 + std::cos(M_PI * progress)) / 2;
    }
    case ScheduleKind::Warmup:
      return startFactor + (1 - startFactor) * static_cast<double>(std::min(t, warmupSteps)) / static_cast<double>(warmupSteps);
    case ScheduleKind::Chain: {
      double f = 1;
      for (const auto& p : parts) f *= p.factor(t);
      return f;
    }
    case ScheduleKind::Sequential: {
      const size_t k = std::upper_bound(milestones.begin(), milestones.end(), t) - milestones.begin();
      const int64_t start = k == 0 ? 0 : milestones[k - 1];
      return parts[k].factor(t - start);
    }
  }
  return 1;
}

}  // namespace skipnorm::train
