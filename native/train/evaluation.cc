#include "train/evaluation.h"

#include <c10/core/GradMode.h>

#include <cmath>

#include "nn/layer.h"

namespace skipnorm::train {

EvaluationTotals evaluateModel(nn::Layer& model, BatchSource& data, const LossOptions& loss, int64_t pass, const std::function<void()>& checkCancelled) {
  c10::NoGradGuard noGrad;
  nn::ModeSnapshot modes(model);  // eval mode for the pass, then each module's own mode back
  model.eval();
  at::Tensor lossSum, top1, top5;
  bool counted = true;
  double seen = 0;
  for (int64_t b = 0; b < data.batchesPerEpoch(); ++b) {
    checkCancelled();
    auto [x, y] = data.batchAt(pass, b);
    at::Tensor out = model(x);
    const double n = static_cast<double>(x.size(0));
    at::Tensor l = computeLoss(loss, out.to(at::kFloat), y).to(at::kDouble).mul(n);
    lossSum = lossSum.defined() ? lossSum.add_(l) : l;
    counted = counted && isClassification(out, y);
    if (counted) {
      auto [c1, c5] = correctCounts(out, y);
      top1 = top1.defined() ? top1.add_(c1) : c1;
      top5 = top5.defined() ? top5.add_(c5) : c5;
    }
    seen += n;
  }
  EvaluationTotals t;
  t.examples = seen;
  if (seen == 0) return t;
  t.loss = lossSum.item<double>() / seen;
  if (counted && top1.defined()) {
    t.top1 = top1.item<double>() / seen;
    t.top5 = top5.item<double>() / seen;
  }
  return t;
}

}  // namespace skipnorm::train
