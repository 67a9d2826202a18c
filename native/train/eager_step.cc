#include "train/eager_step.h"

#include <ATen/ops/_amp_foreach_non_finite_check_and_unscale.h>
#include <c10/core/GradMode.h>

#include <map>
#include <string>

namespace skipnorm::train {

void EagerStep::run(const at::Tensor& x, const at::Tensor& y, double lrFactor) {
  Optimizer& optimizer = *s_.optimizer;
  optimizer.setLrFactor(lrFactor);
  optimizer.zeroGrad();
  if (parallel_) parallel_->beforeForward();
  at::Tensor out = forward(x, /*autocastCache=*/true);
  at::Tensor l = computeLoss(s_.loss, out.to(at::kFloat), y);
  const bool scaled = s_.autocast == at::kHalf;
  usedScale_ = scaled ? scaler_.scale : 1.0;
  skipped_ = false;
  if (parallel_) parallel_->beforeBackward(l);
  if (scaled) {
    (l * scaler_.scale).backward();
    skipped_ = !unscaleGradients();
  } else {
    l.backward();
  }
  if (!skipped_) {
    if (s_.clipNorm) clipGradNorm(optimizer.params(), *s_.clipNorm);
    optimizer.step();
  }
  record(l, out, y);
}

StepValues EagerStep::lastValues() {
  StepValues v = TrainStep::lastValues();
  v.lossScale = usedScale_;
  v.skipped = skipped_;
  return v;
}

bool EagerStep::unscaleGradients() {
  c10::NoGradGuard noGrad;
  // One read for all gradients. On a GPU one fused pass per (device, dtype) group, as
  // torch.amp.GradScaler does; on the CPU (where the fused kernel needs LibTorch 2.3) a multiply and
  // a check per tensor, kept on the device until the read.
  std::map<std::pair<std::string, at::ScalarType>, std::vector<at::Tensor>> groups;
  for (auto& [name, p] : s_.optimizer->params()) {
    if (p.grad().defined()) groups[{p.grad().device().str(), p.grad().scalar_type()}].push_back(p.grad());
  }
  std::vector<at::Tensor> found;
  for (auto& [key, grads] : groups) {
    const auto options = at::TensorOptions().dtype(at::kFloat).device(grads.front().device());
    at::Tensor foundInf = at::zeros({1}, options);
    if (grads.front().is_cuda()) {
      at::_amp_foreach_non_finite_check_and_unscale_(grads, foundInf, at::full({1}, 1.0 / scaler_.scale, options));
    } else {
      for (auto& g : grads) foundInf.add_(g.mul_(1.0 / scaler_.scale).isfinite().all().logical_not());
    }
    found.push_back(foundInf);
  }
  bool finite = true;
  if (!found.empty()) {
    for (const double f : read(found)) finite = finite && f == 0;
  }
  if (!finite) {
    scaler_.scale *= 0.5;
    scaler_.goodSteps = 0;
    return false;
  }
  if (++scaler_.goodSteps == 2000) {
    scaler_.scale *= 2;
    scaler_.goodSteps = 0;
  }
  return true;
}

}  // namespace skipnorm::train
