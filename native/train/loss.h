// The losses fit and evaluate train and measure with, and the correct-prediction counts of a
// classification batch, as tensors on the batch's device (read by the host only when reported).
#pragma once

#include <ATen/ATen.h>

#include <utility>

namespace skipnorm::train {

enum class LossKind { CrossEntropy, Mse };

struct LossOptions {
  LossKind kind = LossKind::CrossEntropy;
  double labelSmoothing = 0;
};

at::Tensor computeLoss(const LossOptions& o, const at::Tensor& out, const at::Tensor& labels);

// Class scores [N, C] against integer labels [N].
bool isClassification(const at::Tensor& out, const at::Tensor& labels);

// Correct top-1 and top-5 predictions of a classification batch (int64 scalars on its device).
std::pair<at::Tensor, at::Tensor> correctCounts(const at::Tensor& out, const at::Tensor& labels);

}  // namespace skipnorm::train
