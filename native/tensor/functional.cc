// The neural-network functions models and losses need (torch.nn.functional's counterparts):
// convolution, pooling, parametrised activations, softmax, normalisation, dropout and losses.
#include <ATen/ATen.h>
#include <napi.h>

#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

int64_t reductionArg(const Napi::CallbackInfo& info, size_t index) {
  std::string r = stringArg(info, index);
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throwTypeError(info.Env(), "reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

// conv2d(x, weight, bias|null, stride, padding ([h, w] or 'same'|'valid'), dilation, groups)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArg(info, 0);
  const at::Tensor& w = tensorArg(info, 1);
  std::optional<at::Tensor> bias = optionalTensorArg(info, 2);
  auto stride = intListArg(info, 3);
  auto dilation = intListArg(info, 5);
  int64_t groups = intArg(info, 6);
  if (info[4].IsString()) {
    return wrapTensor(info.Env(), at::conv2d(x, w, bias, stride, stringArg(info, 4), dilation, groups));
  }
  return wrapTensor(info.Env(), at::conv2d(x, w, bias, stride, intListArg(info, 4), dilation, groups));
}
// convTranspose2d(x, weight, bias|null, stride, padding, outputPadding, groups, dilation)
Napi::Value ConvTranspose2d(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::conv_transpose2d(tensorArg(info, 0), tensorArg(info, 1), optionalTensorArg(info, 2),
                                                     intListArg(info, 3), intListArg(info, 4), intListArg(info, 5),
                                                     intArg(info, 6), intListArg(info, 7)));
}
// maxPool2d(x, kernel, stride, padding, dilation, ceilMode)
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::max_pool2d(tensorArg(info, 0), intListArg(info, 1), intListArg(info, 2),
                                               intListArg(info, 3), intListArg(info, 4), boolArg(info, 5)));
}
// avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad, divisorOverride|null)
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::avg_pool2d(tensorArg(info, 0), intListArg(info, 1), intListArg(info, 2), intListArg(info, 3),
                                               boolArg(info, 4), boolArg(info, 5), optionalIntArg(info, 6)));
}
Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::adaptive_avg_pool2d(tensorArg(info, 0), intListArg(info, 1)));
}
Napi::Value AdaptiveMaxPool2d(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), std::get<0>(at::adaptive_max_pool2d(tensorArg(info, 0), intListArg(info, 1))));
}
// linear(x, weight, bias|null)
Napi::Value Linear(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::linear(tensorArg(info, 0), tensorArg(info, 1), optionalTensorArg(info, 2)));
}
// softmax(isLog, x, dim, dtype|null)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  bool isLog = boolArg(info, 0);
  setOpName(isLog ? "logSoftmax" : "softmax");
  const at::Tensor& x = tensorArg(info, 1);
  int64_t dim = intArg(info, 2);
  auto dtype = optionalDtypeArg(info, 3);
  return wrapTensor(info.Env(), isLog ? at::log_softmax(x, dim, dtype) : at::softmax(x, dim, dtype));
}
// gelu(x, approximate: 'none'|'tanh')
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::gelu(tensorArg(info, 0), stringArg(info, 1)));
}
Napi::Value LeakyRelu(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::leaky_relu(tensorArg(info, 0), scalarArg(info, 1)));
}
Napi::Value Elu(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::elu(tensorArg(info, 0), scalarArg(info, 1)));
}
Napi::Value Softplus(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::softplus(tensorArg(info, 0), scalarArg(info, 1), scalarArg(info, 2)));
}
Napi::Value Hardtanh(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::hardtanh(tensorArg(info, 0), scalarArg(info, 1), scalarArg(info, 2)));
}
// dropout(x, p, train, generator-free: uses the default generator like torch)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::dropout(tensorArg(info, 0), numberArg(info, 1), boolArg(info, 2)));
}
// batchNorm(x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps)
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  if (boolArg(info, 5)) {  // training updates the running statistics in place
    for (size_t i : {3, 4}) {
      if (auto t = optionalTensorArg(info, i)) checkTensorNotInUse(info.Env(), *t);
    }
  }
  return wrapTensor(info.Env(), at::batch_norm(tensorArg(info, 0), optionalTensorArg(info, 1), optionalTensorArg(info, 2),
                                               optionalTensorArg(info, 3), optionalTensorArg(info, 4), boolArg(info, 5),
                                               numberArg(info, 6), numberArg(info, 7), at::globalContext().userEnabledCuDNN()));
}
// layerNorm(x, normalizedShape, weight|null, bias|null, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::layer_norm(tensorArg(info, 0), intListArg(info, 1), optionalTensorArg(info, 2),
                                               optionalTensorArg(info, 3), numberArg(info, 4)));
}
// groupNorm(x, groups, weight|null, bias|null, eps)
Napi::Value GroupNorm(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::group_norm(tensorArg(info, 0), intArg(info, 1), optionalTensorArg(info, 2),
                                               optionalTensorArg(info, 3), numberArg(info, 4)));
}
// pad(x, pads, mode, value|null): pads as in torch.nn.functional.pad (last dimension first)
Napi::Value Pad(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::pad(tensorArg(info, 0), intListArg(info, 1), stringArg(info, 2), optionalNumberArg(info, 3)));
}
// crossEntropy(logits, target, weight|null, reduction, ignoreIndex, labelSmoothing)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::cross_entropy_loss(tensorArg(info, 0), tensorArg(info, 1), optionalTensorArg(info, 2),
                                                       reductionArg(info, 3), intArg(info, 4), numberArg(info, 5)));
}
// nllLoss(logProbs, target, weight|null, reduction, ignoreIndex)
Napi::Value NllLoss(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::nll_loss_nd(tensorArg(info, 0), tensorArg(info, 1), optionalTensorArg(info, 2),
                                                reductionArg(info, 3), intArg(info, 4)));
}
// mseLoss(input, target, reduction)
Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::mse_loss(tensorArg(info, 0), tensorArg(info, 1), reductionArg(info, 2)));
}

}  // namespace

void registerFunctional(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "conv2d", Conv2d);
  exportFunction(env, exports, "convTranspose2d", ConvTranspose2d);
  exportFunction(env, exports, "maxPool2d", MaxPool2d);
  exportFunction(env, exports, "avgPool2d", AvgPool2d);
  exportFunction(env, exports, "adaptiveAvgPool2d", AdaptiveAvgPool2d);
  exportFunction(env, exports, "adaptiveMaxPool2d", AdaptiveMaxPool2d);
  exportFunction(env, exports, "linear", Linear);
  exportFunction(env, exports, "softmax", Softmax);
  exportFunction(env, exports, "gelu", Gelu);
  exportFunction(env, exports, "leakyRelu", LeakyRelu);
  exportFunction(env, exports, "elu", Elu);
  exportFunction(env, exports, "softplus", Softplus);
  exportFunction(env, exports, "hardtanh", Hardtanh);
  exportFunction(env, exports, "dropout", Dropout);
  exportFunction(env, exports, "batchNorm", BatchNorm);
  exportFunction(env, exports, "layerNorm", LayerNorm);
  exportFunction(env, exports, "groupNorm", GroupNorm);
  exportFunction(env, exports, "pad", Pad);
  exportFunction(env, exports, "crossEntropy", CrossEntropy);
  exportFunction(env, exports, "nllLoss", NllLoss);
  exportFunction(env, exports, "mseLoss", MseLoss);
}

}  // namespace skipnorm
