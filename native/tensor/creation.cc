// Creating tensors: from JavaScript typed arrays, filled, ranges, and random (seedable).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <napi.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

at::TensorOptions optionsArg(const Napi::CallbackInfo& info, size_t dtypeIndex, size_t deviceIndex,
                             at::ScalarType fallback = at::kFloat) {
  at::TensorOptions options = at::TensorOptions().dtype(optionalDtypeArg(info, dtypeIndex).value_or(fallback));
  if (!isMissing(info, deviceIndex)) options = options.device(deviceArg(info, deviceIndex));
  return options;
}

// fromBuffer(typedArray, shape, dtype?, device?): copies the data. A Uint16Array holds the raw
// bits of float16 or bfloat16 values when the dtype is one of those.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throwTypeError(env, "argument 1 must be a typed array");
  Napi::TypedArray array = info[0].As<Napi::TypedArray>();
  std::vector<int64_t> shape = intListArg(info, 1);
  std::optional<at::ScalarType> target = optionalDtypeArg(info, 2);
  at::ScalarType source;
  switch (array.TypedArrayType()) {
    case napi_int8_array: source = at::kChar; break;
    case napi_uint8_array: case napi_uint8_clamped_array: source = at::kByte; break;
    case napi_int16_array: source = at::kShort; break;
    case napi_int32_array: source = at::kInt; break;
    case napi_float32_array: source = at::kFloat; break;
    case napi_float64_array: source = at::kDouble; break;
    case napi_bigint64_array: source = at::kLong; break;
    case napi_uint16_array:
      if (target == at::kHalf || target == at::kBFloat16) { source = *target; break; }
      throwTypeError(env, "a Uint16Array holds raw float16/bfloat16 bits: pass dtype 'float16' or 'bfloat16'");
    default:
      throwTypeError(env, "Uint32Array and BigUint64Array are not supported: convert to Int32Array, BigInt64Array or Float64Array");
  }
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throwTypeError(env, "shape dimensions must be non-negative");
    numel *= d;
  }
  if (numel != static_cast<int64_t>(array.ElementLength())) {
    throwTypeError(env, "the data holds " + std::to_string(array.ElementLength()) + " elements but the shape needs " +
                            std::to_string(numel));
  }
  auto* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(source));
  if (numel > 0) std::memcpy(tensor.data_ptr(), data, array.ByteLength());
  if (target && *target != source) tensor = tensor.to(*target);
  if (!isMissing(info, 3)) tensor = tensor.to(deviceArg(info, 3));
  return wrapTensor(env, tensor);
}

// full(shape, value, dtype, device)
Napi::Value Full(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::full(intListArg(info, 0), scalarArg(info, 1), optionsArg(info, 2, 3)));
}
Napi::Value Zeros(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::zeros(intListArg(info, 0), optionsArg(info, 1, 2)));
}
Napi::Value Ones(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::ones(intListArg(info, 0), optionsArg(info, 1, 2)));
}
Napi::Value Empty(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::empty(intListArg(info, 0), optionsArg(info, 1, 2)));
}
Napi::Value Eye(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::eye(intArg(info, 0), intArg(info, 1), optionsArg(info, 2, 3)));
}
// arange(start, end, step, dtype, device): dtype defaults like PyTorch's (int64 for integers).
Napi::Value Arange(const Napi::CallbackInfo& info) {
  at::Scalar start = scalarArg(info, 0), end = scalarArg(info, 1), step = scalarArg(info, 2);
  bool integral = start.isIntegral(false) && end.isIntegral(false) && step.isIntegral(false);
  return wrapTensor(info.Env(), at::arange(start, end, step, optionsArg(info, 3, 4, integral ? at::kLong : at::kFloat)));
}
Napi::Value Linspace(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::linspace(scalarArg(info, 0), scalarArg(info, 1), intArg(info, 2), optionsArg(info, 3, 4)));
}
// rand/randn(shape, dtype, device, generator)
Napi::Value Rand(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::rand(intListArg(info, 0), optionalGeneratorArg(info, 3), optionsArg(info, 1, 2)));
}
Napi::Value Randn(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::randn(intListArg(info, 0), optionalGeneratorArg(info, 3), optionsArg(info, 1, 2)));
}
// randint(low, high, shape, dtype, device, generator)
Napi::Value Randint(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::randint(intArg(info, 0), intArg(info, 1), intListArg(info, 2), optionalGeneratorArg(info, 5),
                                            optionsArg(info, 3, 4, at::kLong)));
}
// randperm(n, dtype, device, generator)
Napi::Value Randperm(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::randperm(intArg(info, 0), optionalGeneratorArg(info, 3), optionsArg(info, 1, 2, at::kLong)));
}

// fillRandom(kind, t, a, b, generator|null): in place and outside autograd, as torch.nn.init does.
// kind: 'uniform' on [a, b), 'normal' with mean a and std b.
Napi::Value FillRandom(const Napi::CallbackInfo& info) {
  std::string kind = stringArg(info, 0);
  at::Tensor& t = tensorArg(info, 1);
  checkTensorNotInUse(info.Env(), t);
  double a = numberArg(info, 2), b = numberArg(info, 3);
  std::optional<at::Generator> generator = optionalGeneratorArg(info, 4);
  c10::NoGradGuard noGrad;
  if (kind == "uniform") t.uniform_(a, b, generator);
  else if (kind == "normal") t.normal_(a, b, generator);
  else throwTypeError(info.Env(), "unknown distribution " + kind);
  return info.Env().Undefined();
}

// fill(t, value): in place and outside autograd.
Napi::Value FillConstant(const Napi::CallbackInfo& info) {
  c10::NoGradGuard noGrad;
  at::Tensor& t = tensorArg(info, 0);
  checkTensorNotInUse(info.Env(), t);
  t.fill_(scalarArg(info, 1));
  return info.Env().Undefined();
}

// Generators: newGenerator(seed) -> handle; generatorSeed(handle, seed); disposeGenerator(handle).
Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  auto& generators = addonOf(info.Env()).generators;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(intArg(info, 0)));
  generators.push_back(generator);
  return Napi::Number::New(info.Env(), static_cast<double>(generators.size() - 1));
}
Napi::Value SeedGenerator(const Napi::CallbackInfo& info) {
  at::Generator generator = *optionalGeneratorArg(info, 0);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(static_cast<uint64_t>(intArg(info, 1)));
  return info.Env().Undefined();
}
Napi::Value GeneratorInitialSeed(const Napi::CallbackInfo& info) {
  at::Generator generator = *optionalGeneratorArg(info, 0);
  return Napi::Number::New(info.Env(), static_cast<double>(generator.current_seed()));
}
Napi::Value DisposeGenerator(const Napi::CallbackInfo& info) {
  auto& generators = addonOf(info.Env()).generators;
  int64_t handle = intArg(info, 0);
  if (handle >= 0 && handle < static_cast<int64_t>(generators.size())) generators[handle] = at::Generator();
  return info.Env().Undefined();
}
// rngState() -> uint8 tensor; setRngState(t): the default CPU generator's state, as
// torch.get_rng_state / torch.set_rng_state (for checkpoints that resume bit for bit).
Napi::Value RngState(const Napi::CallbackInfo& info) {
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(cpu.mutex());
  return wrapTensor(info.Env(), cpu.get_state());
}
Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(cpu.mutex());
  cpu.set_state(tensorArg(info, 0));
  return info.Env().Undefined();
}

// manualSeed(seed): seeds the default generators of every device, like torch.manual_seed.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(intArg(info, 0)));
  return info.Env().Undefined();
}

}  // namespace

void registerCreation(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "fromTypedArray", FromBuffer);
  exportFunction(env, exports, "full", Full);
  exportFunction(env, exports, "zeros", Zeros);
  exportFunction(env, exports, "ones", Ones);
  exportFunction(env, exports, "empty", Empty);
  exportFunction(env, exports, "eye", Eye);
  exportFunction(env, exports, "arange", Arange);
  exportFunction(env, exports, "linspace", Linspace);
  exportFunction(env, exports, "rand", Rand);
  exportFunction(env, exports, "randn", Randn);
  exportFunction(env, exports, "randint", Randint);
  exportFunction(env, exports, "randperm", Randperm);
  exportFunction(env, exports, "fillRandom", FillRandom);
  exportFunction(env, exports, "fillConstant", FillConstant);
  exportFunction(env, exports, "newGenerator", NewGenerator);
  exportFunction(env, exports, "seedGenerator", SeedGenerator);
  exportFunction(env, exports, "generatorSeed", GeneratorInitialSeed);
  exportFunction(env, exports, "disposeGenerator", DisposeGenerator);
  exportFunction(env, exports, "manualSeed", ManualSeed);
  exportFunction(env, exports, "rngState", RngState);
  exportFunction(env, exports, "setRngState", SetRngState);
}

}  // namespace skipnorm
