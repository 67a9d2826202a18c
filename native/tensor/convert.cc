// Tensors to JavaScript (typed arrays, sync and async, scalars, metadata) and their lifecycle
// (release, memory statistics, moves between devices and dtypes).
#include <ATen/ATen.h>
#include <napi.h>

#include <cstring>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

// A contiguous CPU tensor whose bytes map onto a JavaScript typed array: float16/bfloat16 widen
// to float32, complex becomes interleaved (re, im) pairs.
at::Tensor hostCopy(const at::Tensor& tensor) {
  at::Tensor t = tensor.detach();
  if (t.is_complex()) t = at::view_as_real(t.resolve_conj());
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) t = t.to(at::kFloat);
  return t.to(at::kCPU).contiguous();
}

Napi::Value typedArrayFrom(Napi::Env env, const at::Tensor& host) {
  const size_t bytes = host.numel() * host.element_size();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), host.data_ptr(), bytes);
  const size_t n = static_cast<size_t>(host.numel());
  switch (host.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buffer, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buffer, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buffer, 0);
    case at::kLong: return Napi::BigInt64Array::New(env, n, buffer, 0);
    case at::kShort: return Napi::Int16Array::New(env, n, buffer, 0);
    case at::kChar: return Napi::Int8Array::New(env, n, buffer, 0);
    case at::kByte: case at::kBool: return Napi::Uint8Array::New(env, n, buffer, 0);
    default: throw std::runtime_error("no typed array for dtype " + dtypeName(host.scalar_type()));
  }
}

Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  return typedArrayFrom(info.Env(), hostCopy(tensorArg(info, 0)));
}

class ToBufferJob : public Job {
 public:
  explicit ToBufferJob(at::Tensor tensor) : Job("data"), tensor_(std::move(tensor)) {}
  void run(JobContext&) override { host_ = hostCopy(tensor_); }
  Napi::Value result(Napi::Env env) override { return typedArrayFrom(env, host_); }

 private:
  at::Tensor tensor_, host_;
};

Napi::Value ToBufferAsync(const Napi::CallbackInfo& info) {
  return submitJob(info.Env(), std::make_unique<ToBufferJob>(tensorArg(info, 0)), info.Env().Undefined());
}

// fromBytes(uint8Array, shape, dtype) -> a tensor holding a copy of those bytes as that dtype.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throwTypeError(env, "argument 1 must be a Uint8Array");
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  std::vector<int64_t> shape = intListArg(info, 1);
  at::ScalarType dtype = dtypeArg(info, 2);
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
  const size_t expected = tensor.numel() * tensor.element_size();
  if (expected != bytes.ByteLength()) {
    throwTypeError(env, std::to_string(bytes.ByteLength()) + " bytes do not hold a " + dtypeName(dtype) + " tensor of " +
                            std::to_string(tensor.numel()) + " elements (" + std::to_string(expected) + " bytes)");
  }
  if (expected > 0) std::memcpy(tensor.data_ptr(), bytes.Data(), expected);
  return wrapTensor(env, tensor);
}

// meta(t) -> [shape, dtypeCode, device]
Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = tensorArg(info, 0);
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, shape);
  out.Set(1u, Napi::Number::New(env, static_cast<int>(t.scalar_type())));
  out.Set(2u, Napi::String::New(env, t.device().str()));
  return out;
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = tensorArg(info, 0);
  if (t.is_complex()) throwTypeError(env, "item() of a complex tensor: take .real or .imag first");
  at::Scalar s = t.item();
  return Napi::Number::New(env, s.isBoolean() ? (s.toBool() ? 1.0 : 0.0) : s.toDouble());
}

// to(t, device|null, dtype|null, copy)
Napi::Value To(const Napi::CallbackInfo& info) {
  const at::Tensor& t = tensorArg(info, 0);
  at::TensorOptions options = at::TensorOptions().dtype(optionalDtypeArg(info, 2).value_or(t.scalar_type()));
  options = options.device(isMissing(info, 1) ? t.device() : deviceArg(info, 1));
  bool copy = !isMissing(info, 3) && boolArg(info, 3);
  return wrapTensor(info.Env(), t.to(options, /*non_blocking=*/false, copy));
}

Napi::Value Clone(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), tensorArg(info, 0).clone()); }
Napi::Value Contiguous(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), tensorArg(info, 0).contiguous()); }
Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorArg(info, 0).is_contiguous());
}
Napi::Value Strides(const Napi::CallbackInfo& info) {
  const at::Tensor& t = tensorArg(info, 0);
  Napi::Array out = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.stride(i))));
  return out;
}

// Lifecycle: release(handle) -> whether it was live; a second release is harmless.
Napi::Value Release(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), addonOf(info.Env()).tensors.release(numberArg(info, 0)));
}
Napi::Value IsLive(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), addonOf(info.Env()).tensors.find(numberArg(info, 0)) != nullptr);
}
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemoryStats s = addonOf(env).tensors.stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("tensors", Napi::Number::New(env, static_cast<double>(s.tensors)));
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(s.bytes)));
  out.Set("cpuBytes", Napi::Number::New(env, static_cast<double>(s.cpuBytes)));
  out.Set("cudaBytes", Napi::Number::New(env, static_cast<double>(s.cudaBytes)));
  return out;
}

}  // namespace

void registerConvert(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "toBuffer", ToBuffer);
  exportFunction(env, exports, "toBufferAsync", ToBufferAsync);
  exportFunction(env, exports, "meta", Meta);
  exportFunction(env, exports, "fromBytes", FromBytes);
  exportFunction(env, exports, "item", Item);
  exportFunction(env, exports, "to", To);
  exportFunction(env, exports, "clone", Clone);
  exportFunction(env, exports, "contiguous", Contiguous);
  exportFunction(env, exports, "isContiguous", IsContiguous);
  exportFunction(env, exports, "strides", Strides);
  exportFunction(env, exports, "release", Release);
  exportFunction(env, exports, "isLive", IsLive);
  exportFunction(env, exports, "memory", Memory);
}

}  // namespace skipnorm
