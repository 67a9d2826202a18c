// One pass of data through a model in eval mode without gradients: the examples-weighted loss and
// the correct counts, summed on the device and read once at the end. evaluate runs it as its own
// job; fit runs it between steps for its validation data.
#pragma once

#include <functional>

#include "nn/layer.h"
#include "train/batches.h"
#include "train/loss.h"

namespace skipnorm::train {

struct EvaluationTotals {
  double loss = 0;  // means over the examples
  double top1 = NAN, top5 = NAN;  // NaN when the outputs are not class scores
  double examples = 0;
};

// `pass` picks the loader's epoch (a validation pass per epoch of a run); `checkCancelled` is
// called before each batch. Each module's mode is restored afterwards.
EvaluationTotals evaluateModel(nn::Layer& model, BatchSource& data, const LossOptions& loss, int64_t pass, const std::function<void()>& checkCancelled);

}  // namespace skipnorm::train
