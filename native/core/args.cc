#include "core/args.h"

#include <cmath>

#include "core/addon.h"
#include "core/errors.h"

namespace skipnorm {

namespace {
std::string position(size_t index) { return "argument " + std::to_string(index + 1); }
}  // namespace

bool isMissing(const Napi::CallbackInfo& info, size_t index) {
  return index >= info.Length() || info[index].IsUndefined() || info[index].IsNull();
}

at::Tensor& tensorArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsNumber()) throwTypeError(info.Env(), position(index) + " must be a tensor");
  at::Tensor* tensor = addonOf(info.Env()).tensors.find(info[index].As<Napi::Number>().DoubleValue());
  if (tensor == nullptr) {
    throw makeTorchError(info.Env(), opName(), "the tensor was disposed (use after dispose)");
  }
  return *tensor;
}

std::optional<at::Tensor> optionalTensorArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  return tensorArg(info, index);
}

std::vector<at::Tensor> tensorListArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsArray()) throwTypeError(info.Env(), position(index) + " must be an array of tensors");
  Napi::Array array = info[index].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  TensorTable& table = addonOf(info.Env()).tensors;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) throwTypeError(info.Env(), position(index) + " must be an array of tensors");
    at::Tensor* tensor = table.find(v.As<Napi::Number>().DoubleValue());
    if (tensor == nullptr) throw makeTorchError(info.Env(), opName(), "the tensor was disposed (use after dispose)");
    out.push_back(*tensor);
  }
  return out;
}

double numberArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsNumber()) throwTypeError(info.Env(), position(index) + " must be a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

int64_t intArg(const Napi::CallbackInfo& info, size_t index) {
  double v = numberArg(info, index);
  if (!std::isfinite(v) || std::trunc(v) != v) throwTypeError(info.Env(), position(index) + " must be an integer");
  return static_cast<int64_t>(v);
}

std::optional<int64_t> optionalIntArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  return intArg(info, index);
}

std::optional<double> optionalNumberArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  return numberArg(info, index);
}

bool boolArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsBoolean()) throwTypeError(info.Env(), position(index) + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

std::string stringArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsString()) throwTypeError(info.Env(), position(index) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> intListArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsArray()) throwTypeError(info.Env(), position(index) + " must be an array of integers");
  Napi::Array array = info[index].As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || std::trunc(d) != d) throwTypeError(info.Env(), position(index) + " must be an array of integers");
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

std::optional<std::vector<int64_t>> optionalIntListArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  return intListArg(info, index);
}

at::Scalar scalarArg(const Napi::CallbackInfo& info, size_t index) {
  if (index < info.Length() && info[index].IsBoolean()) return at::Scalar(info[index].As<Napi::Boolean>().Value());
  double v = numberArg(info, index);
  if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) {
    return at::Scalar(static_cast<int64_t>(v));
  }
  return at::Scalar(v);
}

std::optional<at::Scalar> optionalScalarArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  return scalarArg(info, index);
}

bool isSupportedDtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kBFloat16: case at::kInt:
    case at::kLong: case at::kByte: case at::kBool: case at::kComplexFloat: case at::kComplexDouble:
    case at::kChar: case at::kShort:
      return true;
    default:
      return false;
  }
}

std::string dtypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kComplexFloat: return "complex64";
    case at::kComplexDouble: return "complex128";
    default: return c10::toString(type);
  }
}

at::ScalarType dtypeArg(const Napi::CallbackInfo& info, size_t index) {
  int64_t code = intArg(info, index);
  auto type = static_cast<at::ScalarType>(code);
  if (code < 0 || code >= static_cast<int64_t>(at::ScalarType::NumOptions) || !isSupportedDtype(type)) {
    throwTypeError(info.Env(), position(index) + " is not a supported dtype");
  }
  return type;
}

std::optional<at::ScalarType> optionalDtypeArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  return dtypeArg(info, index);
}

at::Device deviceArg(const Napi::CallbackInfo& info, size_t index) {
  return at::Device(stringArg(info, index));  // c10::Error on a malformed string becomes a TorchError
}

std::optional<at::Generator> optionalGeneratorArg(const Napi::CallbackInfo& info, size_t index) {
  if (isMissing(info, index)) return std::nullopt;
  int64_t handle = intArg(info, index);
  auto& generators = addonOf(info.Env()).generators;
  if (handle < 0 || handle >= static_cast<int64_t>(generators.size()) || !generators[handle].defined()) {
    throw makeTorchError(info.Env(), opName(), "the generator was disposed");
  }
  return generators[handle];
}

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  return Napi::Number::New(env, addonOf(env).tensors.add(std::move(tensor)));
}

Napi::Value wrapTensors(Napi::Env env, const std::vector<at::Tensor>& tensors) {
  Napi::Array out = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) out.Set(static_cast<uint32_t>(i), wrapTensor(env, tensors[i]));
  return out;
}

at::Tensor wrappedScalar(const at::Scalar& s, at::Device device) {
  at::Tensor t = c10::scalar_to_tensor(s, device);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

}  // namespace skipnorm
