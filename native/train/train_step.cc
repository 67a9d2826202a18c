#include "train/train_step.h"

#include <c10/core/GradMode.h>

#include <cmath>

#include "train/autocast.h"

namespace skipnorm::train {

void clipGradNorm(const std::vector<NamedTensor>& params, double maxNorm) {
  c10::NoGradGuard noGrad;
  std::vector<at::Tensor> norms;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  }
  if (norms.empty()) return;
  at::Tensor total = at::stack(norms).norm(2);
  at::Tensor coef = at::clamp(maxNorm / (total + 1e-6), std::nullopt, 1.0);
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) p.grad().mul_(coef.to(p.grad().device()));
  }
}

at::Tensor TrainStep::forward(const at::Tensor& x, bool autocastCache) {
  std::optional<AutocastScope> scope;
  if (s_.autocast) scope.emplace(x.device().type(), *s_.autocast, autocastCache);
  return (*s_.model)(x);
}

void TrainStep::startEpoch() {
  if (!lossSum_.defined()) {
    // Allocated lazily, so that a graphed step makes them on its own stream, before the capture.
    const auto params = s_.model->parameters(true);
    const auto options = at::TensorOptions().dtype(at::kDouble).device(params.empty() ? at::Device(at::kCPU) : params.front().device());
    lossSum_ = at::zeros({}, options);
    top1Sum_ = at::zeros({}, options);
    top5Sum_ = at::zeros({}, options);
    return;
  }
  lossSum_.zero_();
  top1Sum_.zero_();
  top5Sum_.zero_();
}

void TrainStep::record(const at::Tensor& loss, const at::Tensor& out, const at::Tensor& labels) {
  c10::NoGradGuard noGrad;
  batch_ = static_cast<double>(labels.size(0));
  lastLoss_ = loss.detach();
  // float64 loss x n, as summed on the host before (to the sums' device: a model may span several)
  lossSum_.add_(lastLoss_.to(lossSum_.device(), at::kDouble).mul(batch_));
  counted_ = isClassification(out, labels);
  if (counted_) {
    std::tie(lastTop1_, lastTop5_) = correctCounts(out, labels);
    top1Sum_.add_(lastTop1_.to(top1Sum_.device()));
    top5Sum_.add_(lastTop5_.to(top5Sum_.device()));
  }
}

std::vector<double> TrainStep::read(const std::vector<at::Tensor>& values) {
  c10::NoGradGuard noGrad;
  std::vector<at::Tensor> doubles;
  for (const auto& v : values) doubles.push_back(v.to(values.front().device(), at::kDouble).reshape({1}));
  const at::Tensor host = at::cat(doubles).cpu();
  ++hostReads_;
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

StepValues TrainStep::lastValues() {
  if (!counted_) return {read({lastLoss_})[0], NAN, NAN, 1.0, false};
  const auto v = read({lastLoss_, lastTop1_, lastTop5_});
  return {v[0], v[1] / batch_, v[2] / batch_, 1.0, false};
}

std::array<double, 3> TrainStep::epochSums() {
  if (!counted_) return {read({lossSum_})[0], NAN, NAN};
  const auto v = read({lossSum_, top1Sum_, top5Sum_});
  return {v[0], v[1], v[2]};
}

}  // namespace skipnorm::train
