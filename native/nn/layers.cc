#include "nn/layers.h"

#include "distributed/sync_batch_norm.h"
#include "nn/fused_batch_norm.h"
#include "nn/replicas.h"

#include <c10/core/GradMode.h>

#include <cmath>
#include <sstream>

namespace skipnorm::nn {

namespace {

// PyTorch's kaiming_uniform_(w, a=sqrt(5)) bound, computed with the same double operations.
double kaimingUniformBound(int64_t fanIn) {
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1 + a * a));
  const double stddev = gain / std::sqrt(static_cast<double>(fanIn));
  return std::sqrt(3.0) * stddev;
}

std::string pairText(const std::vector<int64_t>& v) {
  std::ostringstream s;
  s << v[0] << "x" << v[1];
  return s.str();
}

void checkInputDims(const at::Tensor& x, std::initializer_list<int64_t> allowed, const std::string& kind) {
  for (int64_t d : allowed) {
    if (x.dim() == d) return;
  }
  std::ostringstream expected;
  bool first = true;
  for (int64_t d : allowed) {
    expected << (first ? "" : " or ") << d << "D";
    first = false;
  }
  TORCH_CHECK(false, kind, ": expected ", expected.str(), " input (got ", x.dim(), "D input with shape ", x.sizes(), ")");
}

}  // namespace

// ---- Affine ------------------------------------------------------------------------------------

void Affine::createParameters(std::vector<int64_t> weightShape, int64_t fanIn, bool bias) {
  c10::NoGradGuard noGrad;
  at::Tensor w = at::empty(weightShape);
  const double bound = kaimingUniformBound(fanIn);
  w.uniform_(-bound, bound);
  weight_ = register_parameter("weight", w);
  if (bias) {
    const double biasBound = fanIn > 0 ? 1.0 / std::sqrt(static_cast<double>(fanIn)) : 0.0;
    bias_ = register_parameter("bias", at::empty({weightShape[0]}).uniform_(-biasBound, biasBound));
  }
}

at::Tensor Affine::weight() const {
  if (!weightNorm_) return weight_;
  return at::_weight_norm(v_, g_, 0);
}

void Affine::applyWeightNorm() {
  TORCH_CHECK(!weightNorm_, kind(), " is already weight-normalised");
  c10::NoGradGuard noGrad;
  at::Tensor w = weight_.detach();
  // PyTorch deletes `weight` and appends weight_g, weight_v: the bias comes first.
  auto params = named_parameters(false);
  TORCH_CHECK(params.contains("weight"), kind(), " has no weight to normalise");
  // Rebuild the parameter list without `weight` (torch::nn::Module has no unregister_parameter).
  std::vector<std::pair<std::string, at::Tensor>> keep;
  for (const auto& item : params) {
    if (item.key() != "weight") keep.emplace_back(item.key(), item.value());
  }
  parameters_.clear();
  for (auto& [name, value] : keep) register_parameter(name, value);
  g_ = register_parameter("weight_g", at::norm_except_dim(w, 2, 0).clone());
  v_ = register_parameter("weight_v", w.clone());
  weight_ = at::Tensor();
  weightNorm_ = true;
}

// ---- Linear ------------------------------------------------------------------------------------

Linear::Linear(int64_t in, int64_t out, bool bias) : Affine("Linear"), in_(in), out_(out) {
  TORCH_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got ", in, " -> ", out);
  createParameters({out, in}, in, bias);
}

at::Tensor Linear::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == in_, "Linear(", in_, " -> ", out_, "): expected input with last dimension ", in_,
              ", got shape ", x.sizes());
  return at::linear(x, weight(), bias_.defined() ? std::optional<at::Tensor>(bias_) : std::nullopt);
}

std::string Linear::describe() const {
  std::ostringstream s;
  s << in_ << " -> " << out_ << (bias_.defined() ? "" : ", no bias") << (weightNormalised() ? ", weight norm" : "");
  return s.str();
}

// ---- Conv2d ------------------------------------------------------------------------------------

Conv2d::Conv2d(Conv2dOptions options) : Affine("Conv2d"), options_(std::move(options)) {
  const auto& o = options_;
  TORCH_CHECK(o.in > 0 && o.out > 0, "Conv2d: channels must be positive");
  TORCH_CHECK(o.groups > 0 && o.in % o.groups == 0 && o.out % o.groups == 0, "Conv2d: groups (", o.groups,
              ") must divide in_channels (", o.in, ") and out_channels (", o.out, ")");
  const int64_t fanIn = (o.in / o.groups) * o.kernel[0] * o.kernel[1];
  createParameters({o.out, o.in / o.groups, o.kernel[0], o.kernel[1]}, fanIn, o.bias);
}

at::Tensor Conv2d::forward(const at::Tensor& x) {
  const auto& o = options_;
  checkInputDims(x, {3, 4}, "Conv2d");
  TORCH_CHECK(x.size(-3) == o.in, "Conv2d(", o.in, " -> ", o.out, "): expected input with ", o.in, " channels, got shape ", x.sizes());
  std::optional<at::Tensor> bias = bias_.defined() ? std::optional<at::Tensor>(bias_) : std::nullopt;
  if (!o.paddingMode.empty()) return at::conv2d(x, weight(), bias, o.stride, o.paddingMode, o.dilation, o.groups);
  return at::conv2d(x, weight(), bias, o.stride, o.padding, o.dilation, o.groups);
}

std::string Conv2d::describe() const {
  const auto& o = options_;
  std::ostringstream s;
  s << o.in << " -> " << o.out << ", kernel " << pairText(o.kernel);
  if (o.stride[0] != 1 || o.stride[1] != 1) s << ", stride " << pairText(o.stride);
  if (!o.paddingMode.empty()) s << ", padding " << o.paddingMode;
  else if (o.padding[0] != 0 || o.padding[1] != 0) s << ", padding " << pairText(o.padding);
  if (o.dilation[0] != 1 || o.dilation[1] != 1) s << ", dilation " << pairText(o.dilation);
  if (o.groups != 1) s << ", groups " << o.groups;
  if (!o.bias) s << ", no bias";
  if (weightNormalised()) s << ", weight norm";
  return s.str();
}

// ---- Conv1d ------------------------------------------------------------------------------------

Conv1d::Conv1d(Conv1dOptions options) : Affine("Conv1d"), options_(std::move(options)) {
  const auto& o = options_;
  TORCH_CHECK(o.in > 0 && o.out > 0 && o.kernel > 0, "Conv1d: channels and kernel size must be positive");
  TORCH_CHECK(o.groups > 0 && o.in % o.groups == 0 && o.out % o.groups == 0, "Conv1d: groups (", o.groups,
              ") must divide in_channels (", o.in, ") and out_channels (", o.out, ")");
  createParameters({o.out, o.in / o.groups, o.kernel}, (o.in / o.groups) * o.kernel, o.bias);
}

at::Tensor Conv1d::forward(const at::Tensor& x) {
  const auto& o = options_;
  checkInputDims(x, {2, 3}, "Conv1d");
  TORCH_CHECK(x.size(-2) == o.in, "Conv1d(", o.in, " -> ", o.out, "): expected input with ", o.in, " channels, got shape ", x.sizes());
  std::optional<at::Tensor> bias = bias_.defined() ? std::optional<at::Tensor>(bias_) : std::nullopt;
  if (!o.paddingMode.empty()) return at::conv1d(x, weight(), bias, o.stride, o.paddingMode, o.dilation, o.groups);
  return at::conv1d(x, weight(), bias, o.stride, o.padding, o.dilation, o.groups);
}

std::string Conv1d::describe() const {
  const auto& o = options_;
  std::ostringstream s;
  s << o.in << " -> " << o.out << ", kernel " << o.kernel;
  if (o.stride != 1) s << ", stride " << o.stride;
  if (!o.paddingMode.empty()) s << ", padding " << o.paddingMode;
  else if (o.padding != 0) s << ", padding " << o.padding;
  if (o.dilation != 1) s << ", dilation " << o.dilation;
  if (o.groups != 1) s << ", groups " << o.groups;
  if (!o.bias) s << ", no bias";
  if (weightNormalised()) s << ", weight norm";
  return s.str();
}

// ---- normalisation -----------------------------------------------------------------------------

BatchNorm::BatchNorm(int dims, int64_t features, double eps, std::optional<double> momentum, bool affine, bool trackRunningStats)
    : Layer(dims == 1 ? "BatchNorm1d" : "BatchNorm2d"), dims_(dims), features_(features), eps_(eps), momentum_(momentum) {
  TORCH_CHECK(features > 0, kind(), ": num_features must be positive");
  if (affine) {
    weight_ = register_parameter("weight", at::ones({features}));
    bias_ = register_parameter("bias", at::zeros({features}));
  }
  if (trackRunningStats) {
    runningMean_ = register_buffer("running_mean", at::zeros({features}));
    runningVar_ = register_buffer("running_var", at::ones({features}));
    numBatchesTracked_ = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
  }
}

at::Tensor BatchNorm::forward(const at::Tensor& x) {
  if (dims_ == 1) checkInputDims(x, {2, 3}, kind());
  else checkInputDims(x, {4}, kind());
  TORCH_CHECK(x.size(1) == features_, kind(), "(", features_, "): expected ", features_, " channels, got shape ", x.sizes());
  if (is_training()) {
    TORCH_CHECK(x.numel() / features_ > 1, kind(), ": expected more than 1 value per channel when training, got input of shape ", x.sizes());
  }
  const double factor = countBatch();
  const bool useBatchStats = is_training() || !runningMean_.defined();
  // Stacked copies of one batch (the probe's batched rows): each copy its own statistics.
  if (useBatchStats && replicaCount() > 1) return batchNormPerCopy(x, replicaCount(), weight_, bias_, eps_);
  if (useBatchStats && distributed::syncBatchNormActive()) return distributed::syncBatchNorm(x, weight_, bias_, runningMean_, runningVar_, factor, eps_);
  auto opt = [](const at::Tensor& t) { return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt; };
  return at::batch_norm(x, opt(weight_), opt(bias_), opt(runningMean_), opt(runningVar_), useBatchStats, factor, eps_,
                        at::globalContext().userEnabledCuDNN());
}

double BatchNorm::countBatch() {
  double factor = momentum_.value_or(0.0);
  if (is_training() && numBatchesTracked_.defined()) {
    {
      c10::NoGradGuard noGrad;
      numBatchesTracked_.add_(1);
    }
    if (!momentum_) factor = 1.0 / static_cast<double>(numBatchesTracked_.item<int64_t>());
  }
  return factor;
}

at::Tensor BatchNorm::fusedWithReLU(const at::Tensor& x, const at::Tensor& residual) {
  if (dims_ != 2 || !is_training() || replicaCount() > 1 || distributed::syncBatchNormActive()) return at::Tensor();
  if (x.dim() != 4 || x.size(1) != features_ || !fusedPathTakes(x, residual, weight_, bias_, runningMean_, runningVar_)) return at::Tensor();
  TORCH_CHECK(x.numel() / features_ > 1, kind(), ": expected more than 1 value per channel when training, got input of shape ", x.sizes());
  return fusedBatchNormReLU(x, residual, weight_, bias_, runningMean_, runningVar_, countBatch(), eps_);
}

at::Tensor BatchNorm::channelGains() const {
  at::Tensor gamma = weight_.defined() ? weight_.detach().abs() : at::ones({features_});
  at::Tensor var = runningVar_.defined() ? runningVar_.detach() : at::ones({features_});
  return gamma / (var + eps_).sqrt();
}

std::string BatchNorm::describe() const {
  std::ostringstream s;
  s << features_;
  if (eps_ != 1e-5) s << ", eps " << eps_;
  if (momentum_ != 0.1) s << ", momentum " << (momentum_ ? std::to_string(*momentum_) : "cumulative");
  return s.str();
}

LayerNorm::LayerNorm(std::vector<int64_t> shape, double eps, bool affine) : Layer("LayerNorm"), shape_(std::move(shape)), eps_(eps) {
  if (affine) {
    weight_ = register_parameter("weight", at::ones(shape_));
    bias_ = register_parameter("bias", at::zeros(shape_));
  }
}

at::Tensor LayerNorm::forward(const at::Tensor& x) {
  auto opt = [](const at::Tensor& t) { return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt; };
  return at::layer_norm(x, shape_, opt(weight_), opt(bias_), eps_);
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps, bool affine)
    : Layer("GroupNorm"), groups_(groups), channels_(channels), eps_(eps) {
  TORCH_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: num_channels (", channels, ") must be divisible by num_groups (", groups, ")");
  if (affine) {
    weight_ = register_parameter("weight", at::ones({channels}));
    bias_ = register_parameter("bias", at::zeros({channels}));
  }
}

at::Tensor GroupNorm::forward(const at::Tensor& x) {
  auto opt = [](const at::Tensor& t) { return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt; };
  return at::group_norm(x, groups_, opt(weight_), opt(bias_), eps_);
}

// ---- Embedding ---------------------------------------------------------------------------------

Embedding::Embedding(int64_t count, int64_t dim, std::optional<int64_t> paddingIdx) : Layer("Embedding"), count_(count), dim_(dim) {
  TORCH_CHECK(count > 0 && dim > 0, "Embedding: sizes must be positive, got ", count, " x ", dim);
  if (paddingIdx) {
    TORCH_CHECK(*paddingIdx >= -count && *paddingIdx < count, "Embedding: padding_idx must be within num_embeddings (", count, "), got ", *paddingIdx);
    paddingIdx_ = *paddingIdx < 0 ? *paddingIdx + count : *paddingIdx;  // PyTorch keeps it non-negative
  }
  c10::NoGradGuard noGrad;
  weight_ = register_parameter("weight", at::empty({count, dim}).normal_());
  if (paddingIdx_) weight_[*paddingIdx_].fill_(0);
}

at::Tensor Embedding::forward(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kLong || x.scalar_type() == at::kInt, "Embedding(", count_, " x ", dim_,
              "): expected integer indices (int64 or int32), got ", x.scalar_type());
  // On the CPU a clear message for an index out of range (a GPU check would wait for the device).
  if (!x.is_cuda() && x.numel() > 0) {
    auto [low, high] = at::aminmax(x);
    const int64_t lo = low.item<int64_t>(), hi = high.item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < count_, "Embedding(", count_, " x ", dim_, "): index out of range: indices run from ", lo, " to ", hi,
                ", the table has rows 0 to ", count_ - 1);
  }
  return at::embedding(weight_, x, paddingIdx_.value_or(-1));
}

std::string Embedding::describe() const {
  std::ostringstream s;
  s << count_ << " x " << dim_;
  if (paddingIdx_) s << ", padding index " << *paddingIdx_;
  return s.str();
}

// ---- parameter-free ----------------------------------------------------------------------------

Activation::Activation(const std::string& kind) : Layer(kind) {
  static const std::pair<const char*, Function> kKinds[] = {{"ReLU", Function::ReLU}, {"GELU", Function::GELU},       {"GELUTanh", Function::GELUTanh},
                                                            {"Tanh", Function::Tanh}, {"Sigmoid", Function::Sigmoid}, {"Identity", Function::Identity}};
  bool known = false;
  for (const auto& [name, f] : kKinds) {
    if (kind == name) {
      function_ = f;
      known = true;
    }
  }
  TORCH_CHECK(known, "unknown activation ", kind);
}

at::Tensor Activation::forward(const at::Tensor& x) {
  switch (function_) {
    case Function::ReLU:
      return at::relu(x);
    case Function::GELU:
      return at::gelu(x);
    case Function::GELUTanh:
      return at::gelu(x, "tanh");
    case Function::Tanh:
      return at::tanh(x);
    case Function::Sigmoid:
      return at::sigmoid(x);
    case Function::Identity:
      break;
  }
  return x;
}

LeakyReLU::LeakyReLU(double negativeSlope) : Layer("LeakyReLU"), negativeSlope_(negativeSlope) {}
at::Tensor LeakyReLU::forward(const at::Tensor& x) { return at::leaky_relu(x, negativeSlope_); }
std::string LeakyReLU::describe() const {
  std::ostringstream s;
  s << "negative slope " << negativeSlope_;
  return s.str();
}

Softmax::Softmax(int64_t dim, bool log) : Layer(log ? "LogSoftmax" : "Softmax"), dim_(dim), log_(log) {}
at::Tensor Softmax::forward(const at::Tensor& x) { return log_ ? at::log_softmax(x, dim_) : at::softmax(x, dim_); }
std::string Softmax::describe() const { return "dim " + std::to_string(dim_); }

Dropout::Dropout(double p) : Layer("Dropout"), p_(p) { TORCH_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p); }
at::Tensor Dropout::forward(const at::Tensor& x) { return at::dropout(x, p_, is_training()); }
std::string Dropout::describe() const { return "p " + std::to_string(p_); }

AvgPool2d::AvgPool2d(PoolOptions options) : Layer("AvgPool2d"), options_(std::move(options)) {}
at::Tensor AvgPool2d::forward(const at::Tensor& x) {
  checkInputDims(x, {3, 4}, kind());
  const auto& o = options_;
  return at::avg_pool2d(x, o.kernel, o.stride, o.padding, o.ceilMode, o.countIncludePad, std::nullopt);
}
std::string AvgPool2d::describe() const { return "kernel " + pairText(options_.kernel) + ", stride " + pairText(options_.stride); }

MaxPool2d::MaxPool2d(PoolOptions options) : Layer("MaxPool2d"), options_(std::move(options)) {}
at::Tensor MaxPool2d::forward(const at::Tensor& x) {
  checkInputDims(x, {3, 4}, kind());
  const auto& o = options_;
  return at::max_pool2d(x, o.kernel, o.stride, o.padding, o.dilation, o.ceilMode);
}
std::string MaxPool2d::describe() const { return "kernel " + pairText(options_.kernel) + ", stride " + pairText(options_.stride); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::vector<int64_t> size) : Layer("AdaptiveAvgPool2d"), size_(std::move(size)) {}
at::Tensor AdaptiveAvgPool2d::forward(const at::Tensor& x) {
  checkInputDims(x, {3, 4}, kind());
  return at::adaptive_avg_pool2d(x, size_);
}

Flatten::Flatten(int64_t start, int64_t end) : Layer("Flatten"), start_(start), end_(end) {}
at::Tensor Flatten::forward(const at::Tensor& x) { return x.flatten(start_, end_); }

ChannelPad::ChannelPad(int64_t before, int64_t after) : Layer("ChannelPad"), before_(before), after_(after) {
  TORCH_CHECK(before >= 0 && after >= 0, "ChannelPad: padding must be non-negative");
}
at::Tensor ChannelPad::forward(const at::Tensor& x) {
  checkInputDims(x, {4}, kind());
  return at::constant_pad_nd(x, {0, 0, 0, 0, before_, after_}, 0);
}
std::string ChannelPad::describe() const { return std::to_string(before_) + " before, " + std::to_string(after_) + " after"; }

IdentityLike::IdentityLike(int64_t kernel, int64_t stride, double scale, int64_t before, int64_t after)
    : Layer("IdentityLike"), kernel_(kernel), stride_(stride), scale_(scale), before_(before), after_(after) {
  TORCH_CHECK(kernel > 0 && stride > 0 && before >= 0 && after >= 0, "IdentityLike: invalid options");
}
at::Tensor IdentityLike::forward(const at::Tensor& x) {
  checkInputDims(x, {4}, kind());
  at::Tensor out = x;
  if (kernel_ != 1 || stride_ != 1) out = at::avg_pool2d(x, {kernel_, kernel_}, {stride_, stride_});
  if (scale_ != 1) out = out * scale_;
  if (before_ != 0 || after_ != 0) out = at::constant_pad_nd(out, {0, 0, 0, 0, before_, after_}, 0);
  return out;
}
std::string IdentityLike::describe() const {
  std::ostringstream s;
  s << scale_ << " * avgpool " << kernel_ << "/" << stride_ << ", channels +" << before_ << "/+" << after_;
  return s.str();
}

// ---- Sequential --------------------------------------------------------------------------------

Sequential::Sequential(NamedLayers children) : Layer("Sequential"), children_(std::move(children)) {
  for (auto& [name, layer] : children_) register_module(name, layer);
}

at::Tensor Sequential::forward(const at::Tensor& x) { return runAll(children_, x); }

}  // namespace skipnorm::nn
