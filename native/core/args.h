// Reading JavaScript arguments into LibTorch values, and returning tensors as handles.
// TypeScript validates arguments first with messages for users; these checks are the backstop
// that keeps a bad call from ever reaching LibTorch undefined.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

namespace skipnorm {

at::Tensor& tensorArg(const Napi::CallbackInfo& info, size_t index);
std::optional<at::Tensor> optionalTensorArg(const Napi::CallbackInfo& info, size_t index);
std::vector<at::Tensor> tensorListArg(const Napi::CallbackInfo& info, size_t index);

double numberArg(const Napi::CallbackInfo& info, size_t index);
int64_t intArg(const Napi::CallbackInfo& info, size_t index);
std::optional<int64_t> optionalIntArg(const Napi::CallbackInfo& info, size_t index);
std::optional<double> optionalNumberArg(const Napi::CallbackInfo& info, size_t index);
bool boolArg(const Napi::CallbackInfo& info, size_t index);
std::string stringArg(const Napi::CallbackInfo& info, size_t index);
std::vector<int64_t> intListArg(const Napi::CallbackInfo& info, size_t index);
std::optional<std::vector<int64_t>> optionalIntListArg(const Napi::CallbackInfo& info, size_t index);
// An integer-valued number becomes an integral Scalar (so int tensors stay int, as with Python ints).
at::Scalar scalarArg(const Napi::CallbackInfo& info, size_t index);
std::optional<at::Scalar> optionalScalarArg(const Napi::CallbackInfo& info, size_t index);
at::ScalarType dtypeArg(const Napi::CallbackInfo& info, size_t index);
std::optional<at::ScalarType> optionalDtypeArg(const Napi::CallbackInfo& info, size_t index);
at::Device deviceArg(const Napi::CallbackInfo& info, size_t index);
std::optional<at::Generator> optionalGeneratorArg(const Napi::CallbackInfo& info, size_t index);

bool isMissing(const Napi::CallbackInfo& info, size_t index);

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);

// A JavaScript number as a tensor that promotes like a Python scalar ("wrapped number").
at::Tensor wrappedScalar(const at::Scalar& s, at::Device device);
Napi::Value wrapTensors(Napi::Env env, const std::vector<at::Tensor>& tensors);

// The dtypes JavaScript may name, by their at::ScalarType codes (src/tensor/dtype.ts mirrors them).
bool isSupportedDtype(at::ScalarType type);
std::string dtypeName(at::ScalarType type);

}  // namespace skipnorm
