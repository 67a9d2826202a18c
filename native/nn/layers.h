// The layers: affine (Linear, Conv1d, Conv2d, optionally weight-normalised), normalisation,
// embeddings, activations, softmax, pooling, reshaping, the identity-like shortcut path, and
// Sequential. Initialisation follows PyTorch's defaults and draws from LibTorch's default
// generator in PyTorch's order, so a model built after manualSeed(s) holds the same weights as
// PyTorch's after torch.manual_seed(s).
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "nn/layer.h"

namespace skipnorm::nn {

// Linear, Conv1d and Conv2d. With weight normalisation (torch.nn.utils.weight_norm, dim 0) the
// weight is w = g * v / ||v|| (norm over all dimensions but the first), parameters `weight_g`,
// `weight_v`.
class Affine : public Layer {
 public:
  using Layer::Layer;
  at::Tensor weight() const;
  bool weightNormalised() const { return weightNorm_; }
  // Reparametrises in place: v = w, g = ||w|| per output, as torch.nn.utils.weight_norm.
  void applyWeightNorm();

 protected:
  void createParameters(std::vector<int64_t> weightShape, int64_t fanIn, bool bias);
  at::Tensor bias_;

 private:
  at::Tensor weight_, g_, v_;
  bool weightNorm_ = false;
};

class Linear : public Affine {
 public:
  Linear(int64_t in, int64_t out, bool bias);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  int64_t in_, out_;
};

struct Conv2dOptions {
  int64_t in = 1, out = 1;
  std::vector<int64_t> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
  std::vector<int64_t> padding{0, 0};
  std::string paddingMode;  // "same" or "valid" instead of numbers
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public Affine {
 public:
  explicit Conv2d(Conv2dOptions options);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
};

struct Conv1dOptions {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, padding = 0, dilation = 1, groups = 1;
  std::string paddingMode;  // "same" or "valid" instead of a number
  bool bias = true;
};

// Conv1d over [N, C, L] or unbatched [C, L] inputs.
class Conv1d : public Affine {
 public:
  explicit Conv1d(Conv1dOptions options);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;
  const Conv1dOptions& options() const { return options_; }

 private:
  Conv1dOptions options_;
};

// BatchNorm1d (2-d or 3-d input) and BatchNorm2d (4-d input), exactly as PyTorch's _BatchNorm:
// in training, num_batches_tracked counts batches and momentum (or, without one, the cumulative
// average 1/num_batches_tracked) updates the running statistics; in eval they normalise.
class BatchNorm : public Layer {
 public:
  BatchNorm(int dims, int64_t features, double eps, std::optional<double> momentum, bool affine, bool trackRunningStats);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;
  // The per-channel gain of the eval-mode map: |gamma| / sqrt(running_var + eps).
  at::Tensor channelGains() const;
  // Without a momentum the update reads num_batches_tracked on the host every training step.
  bool cumulativeAverage() const { return !momentum_ && numBatchesTracked_.defined(); }
  // relu(this(x) [+ residual]) in one fused operation (nn/fused_batch_norm.h), or an undefined
  // tensor where the fused path does not apply (eval mode, BatchNorm1d, no affine parameters,
  // batched probe rows, synchronised batch norm, or tensors it does not take).
  at::Tensor fusedWithReLU(const at::Tensor& x, const at::Tensor& residual);

 private:
  // Counts the batch (num_batches_tracked) in training and returns the running statistics' factor.
  double countBatch();
  int dims_;
  int64_t features_;
  double eps_;
  std::optional<double> momentum_;
  at::Tensor weight_, bias_, runningMean_, runningVar_, numBatchesTracked_;
};

class LayerNorm : public Layer {
 public:
  LayerNorm(std::vector<int64_t> shape, double eps, bool affine);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  std::vector<int64_t> shape_;
  double eps_;
  at::Tensor weight_, bias_;
};

class GroupNorm : public Layer {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps, bool affine);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  int64_t groups_, channels_;
  double eps_;
  at::Tensor weight_, bias_;
};

// A lookup table: integer indices (int64 or int32) of any shape -> [..., embeddingDim]. The
// weight is drawn from N(0, 1) as in PyTorch, with the padding row zeroed; at::embedding gives that
// row no gradient.
class Embedding : public Layer {
 public:
  Embedding(int64_t count, int64_t dim, std::optional<int64_t> paddingIdx);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  int64_t count_, dim_;
  std::optional<int64_t> paddingIdx_;  // in [0, count)
  at::Tensor weight_;
};

// Parameter-free layers, described by a kind and numbers.
class Activation : public Layer {
 public:
  // kind: ReLU, GELU, GELUTanh, Tanh, Sigmoid, Identity
  explicit Activation(const std::string& kind);
  at::Tensor forward(const at::Tensor& x) override;
  bool isReLU() const { return function_ == Function::ReLU; }

 private:
  enum class Function { ReLU, GELU, GELUTanh, Tanh, Sigmoid, Identity };
  Function function_ = Function::Identity;  // read from the kind once, not compared per call
};

class LeakyReLU : public Layer {
 public:
  explicit LeakyReLU(double negativeSlope);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  double negativeSlope_;
};

// Softmax or LogSoftmax along one dimension (kind "Softmax" or "LogSoftmax").
class Softmax : public Layer {
 public:
  Softmax(int64_t dim, bool log);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  int64_t dim_;
  bool log_;
};

class Dropout : public Layer {
 public:
  explicit Dropout(double p);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;
  double p() const { return p_; }

 private:
  double p_;
};

struct PoolOptions {
  std::vector<int64_t> kernel, stride, padding{0, 0}, dilation{1, 1};
  bool ceilMode = false;
  bool countIncludePad = true;
};

class AvgPool2d : public Layer {
 public:
  explicit AvgPool2d(PoolOptions options);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  PoolOptions options_;
};

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(PoolOptions options);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  PoolOptions options_;
};

class AdaptiveAvgPool2d : public Layer {
 public:
  explicit AdaptiveAvgPool2d(std::vector<int64_t> size);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  std::vector<int64_t> size_;
};

class Flatten : public Layer {
 public:
  Flatten(int64_t start, int64_t end);
  at::Tensor forward(const at::Tensor& x) override;

 private:
  int64_t start_, end_;
};

// Zero channels before and after: [N, C, H, W] -> [N, before + C + after, H, W].
class ChannelPad : public Layer {
 public:
  ChannelPad(int64_t before, int64_t after);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  int64_t before_, after_;
};

// The paper's identity-like shortcut path: scale * AvgPool(kernel, stride)(x), zero-padded in
// channels. With stride 1 and no padding it is the identity.
class IdentityLike : public Layer {
 public:
  IdentityLike(int64_t kernel, int64_t stride, double scale, int64_t before, int64_t after);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  int64_t kernel_, stride_;
  double scale_;
  int64_t before_, after_;
};

class Sequential : public Layer {
 public:
  explicit Sequential(NamedLayers children);
  at::Tensor forward(const at::Tensor& x) override;
  const NamedLayers& children() const { return children_; }
  bool isContainer() const override { return true; }

 private:
  NamedLayers children_;
};

}  // namespace skipnorm::nn
