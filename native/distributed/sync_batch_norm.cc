#include "distributed/sync_batch_norm.h"

#include <torch/csrc/autograd/custom_function.h>

#include "distributed/group.h"

namespace skipnorm::distributed {

namespace {

thread_local bool active = false;

// x [N, C, *] as [N, C, L].
at::Tensor asNCL(const at::Tensor& x) { return x.reshape({x.size(0), x.size(1), -1}); }
// A per-channel vector [C] shaped to broadcast against x.
at::Tensor perChannel(const at::Tensor& v, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  return v.reshape(shape);
}

// The dimensions of an [N, C, L] view summed per channel; an explicit IntArrayRef, since a braced
// list is ambiguous between sum's overloads in some LibTorch releases (2.11).
const std::vector<int64_t> kBatchAndLengthDims{0, 2};
const at::IntArrayRef kBatchAndLength(kBatchAndLengthDims);

struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor runningMean,
                            at::Tensor runningVar, double factor, double eps) {
    auto g = currentGroup();
    const int64_t channels = x.size(1);
    const at::Tensor flat = asNCL(x).to(at::kDouble);
    // [sum (C), sum of squares (C), count (1)], summed over ranks.
    at::Tensor stats = at::cat({flat.sum(kBatchAndLength), (flat * flat).sum(kBatchAndLength), at::full({1}, static_cast<double>(flat.size(0) * flat.size(2)), flat.options())});
    allReduceSum(*g, stats, "synchronised batch norm (forward)");
    const double count = stats[2 * channels].item<double>();
    const at::Tensor mean = stats.narrow(0, 0, channels) / count;
    const at::Tensor var = (stats.narrow(0, channels, channels) / count - mean * mean).clamp_min(0);
    const at::Tensor invstd = (var + eps).rsqrt();
    if (runningMean.defined()) {
      at::NoGradGuard noGrad;
      runningMean.mul_(1 - factor).add_(mean.to(runningMean.scalar_type()), factor);
      runningVar.mul_(1 - factor).add_((var * (count / std::max(1.0, count - 1))).to(runningVar.scalar_type()), factor);
    }
    const at::Tensor meanX = perChannel(mean, x).to(x.scalar_type()), invstdX = perChannel(invstd, x).to(x.scalar_type());
    at::Tensor y = (x - meanX) * invstdX;
    if (weight.defined()) y = y * perChannel(weight, x) + perChannel(bias, x);
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    const at::Tensor gy = grads[0];
    const int64_t channels = x.size(1);
    const at::Tensor gyFlat = asNCL(gy).to(at::kDouble);
    const at::Tensor xmu = asNCL(x).to(at::kDouble) - mean.reshape({1, channels, 1});
    const at::Tensor sumDy = gyFlat.sum(kBatchAndLength), sumDyXmu = (gyFlat * xmu).sum(kBatchAndLength);
    // The input gradient needs the sums over every rank's batch.
    at::Tensor global = at::cat({sumDy, sumDyXmu});
    allReduceSum(*currentGroup(), global, "synchronised batch norm (backward)");
    const at::Tensor meanDy = global.narrow(0, 0, channels) / count, meanDyXmu = global.narrow(0, channels, channels) / count;
    const at::Tensor w = weight.defined() ? weight.to(at::kDouble) : at::ones({channels}, mean.options());
    at::Tensor gx = (gyFlat - meanDy.reshape({1, channels, 1}) - xmu * (invstd * invstd * meanDyXmu).reshape({1, channels, 1})) * (invstd * w).reshape({1, channels, 1});
    gx = gx.reshape(x.sizes()).to(x.scalar_type());
    // Parameter gradients from this rank's batch: data parallelism averages them across ranks.
    at::Tensor gw, gb;
    if (weight.defined()) {
      gw = (sumDyXmu * invstd).to(weight.scalar_type());
      gb = sumDy.to(weight.scalar_type());
    }
    return {gx, gw, gb, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

SyncBatchNormScope::SyncBatchNormScope() : previous_(active) { active = true; }
SyncBatchNormScope::~SyncBatchNormScope() { active = previous_; }
bool syncBatchNormActive() { return active; }

at::Tensor syncBatchNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& runningMean, const at::Tensor& runningVar,
                         double factor, double eps) {
  return SyncBatchNormFunction::apply(x, weight, bias, runningMean, runningVar, factor, eps);
}

}  // namespace skipnorm::distributed
