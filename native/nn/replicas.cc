#include "nn/replicas.h"

#include <vector>

namespace skipnorm::nn {

namespace {
thread_local int64_t copiesHere = 1;
}  // namespace

ReplicaScope::ReplicaScope(int64_t copies) : previous_(copiesHere) {
  TORCH_CHECK(copies >= 1, "a batch holds at least one copy, not ", copies);
  copiesHere = copies;
}
ReplicaScope::~ReplicaScope() { copiesHere = previous_; }

int64_t replicaCount() { return copiesHere; }

at::Tensor batchNormPerCopy(const at::Tensor& x, int64_t copies, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  TORCH_CHECK(x.size(0) % copies == 0, "a batch of ", x.size(0), " does not hold ", copies,
              " equal copies (the Jacobian probe's batched rows: a layer after the cut changed the batch size? rowsPerPass: 1 avoids copies)");
  const int64_t n = x.size(0) / copies, channels = x.size(1);
  // [copies * n, C, ...] -> [n, copies * C, ...]: batch norm's per-channel statistics become per copy.
  std::vector<int64_t> split{copies, n};
  split.insert(split.end(), x.sizes().begin() + 1, x.sizes().end());
  std::vector<int64_t> merged{n, copies * channels};
  merged.insert(merged.end(), x.sizes().begin() + 2, x.sizes().end());
  const at::Tensor grouped = x.reshape(split).transpose(0, 1).reshape(merged);
  auto repeated = [&](const at::Tensor& t) { return t.defined() ? std::optional<at::Tensor>(t.repeat({copies})) : std::nullopt; };
  const at::Tensor y = at::batch_norm(grouped, repeated(weight), repeated(bias), std::nullopt, std::nullopt, /*training=*/true, 0.0, eps,
                                      at::globalContext().userEnabledCuDNN());
  std::vector<int64_t> unmerged{n, copies};
  unmerged.insert(unmerged.end(), x.sizes().begin() + 1, x.sizes().end());
  return y.reshape(unmerged).transpose(0, 1).reshape(x.sizes());
}

}  // namespace skipnorm::nn
