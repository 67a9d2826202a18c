#include "train/loss.h"

#include <c10/core/GradMode.h>

#include <algorithm>

namespace skipnorm::train {

at::Tensor computeLoss(const LossOptions& o, const at::Tensor& out, const at::Tensor& labels) {
  switch (o.kind) {
    case LossKind::Mse:
      return at::mse_loss(out, labels.to(out.scalar_type()));
    case LossKind::CrossEntropy:
      break;
  }
  return at::cross_entropy_loss(out, labels, std::nullopt, at::Reduction::Mean, -100, o.labelSmoothing);
}

bool isClassification(const at::Tensor& out, const at::Tensor& labels) {
  return out.dim() == 2 && labels.dim() == 1 && at::isIntegralType(labels.scalar_type(), false);
}

std::pair<at::Tensor, at::Tensor> correctCounts(const at::Tensor& out, const at::Tensor& labels) {
  c10::NoGradGuard noGrad;
  const int64_t k = std::min<int64_t>(5, out.size(1));
  return {out.argmax(1).eq(labels).sum(), std::get<1>(out.topk(k, 1)).eq(labels.unsqueeze(1)).any(1).sum()};
}

}  // namespace skipnorm::train
