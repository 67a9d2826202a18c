// What skipnorm runs on: LibTorch's version and build, CUDA and cuDNN, devices, threads; and
// the CUDA helpers (availability, device count, emptying the caching allocator).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <napi.h>
#include <torch/headeronly/version.h>

#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"

namespace skipnorm {

namespace {

bool cudaAvailable() { return at::hasCUDA(); }
int cudaDeviceCount() { return cudaAvailable() ? at::detail::getCUDAHooks().deviceCount() : 0; }

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("libtorch", Napi::String::New(env, TORCH_VERSION));
#ifdef SKIPNORM_WITH_CUDA
  out.Set("builtWithCuda", Napi::Boolean::New(env, true));
#else
  out.Set("builtWithCuda", Napi::Boolean::New(env, false));
#endif
  bool cuda = cudaAvailable();
  out.Set("cuda", Napi::Boolean::New(env, cuda));
  if (cuda) {
    const auto& hooks = at::detail::getCUDAHooks();
    out.Set("cudaVersion", Napi::Number::New(env, static_cast<double>(hooks.versionCUDART())));
    out.Set("cudnn", hooks.hasCuDNN() ? Napi::Number::New(env, static_cast<double>(hooks.versionCuDNN())) : env.Null());
  }
  Napi::Array devices = Napi::Array::New(env);
  devices.Set(0u, Napi::String::New(env, "cpu"));
  for (int i = 0; i < cudaDeviceCount(); ++i) devices.Set(static_cast<uint32_t>(i + 1), Napi::String::New(env, "cuda:" + std::to_string(i)));
  out.Set("devices", devices);
  out.Set("threads", Napi::Number::New(env, workerThreadCount()));
  out.Set("mainThreadThreads", Napi::Number::New(env, at::get_num_threads()));
  out.Set("interopThreads", Napi::Number::New(env, at::get_num_interop_threads()));
  out.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
  out.Set("cxx11Abi", Napi::Boolean::New(env, _GLIBCXX_USE_CXX11_ABI == 1));
  return out;
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), cudaAvailable()); }
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cudaDeviceCount()); }
Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  if (cudaAvailable()) at::getDeviceAllocator(at::kCUDA)->emptyCache();
  return info.Env().Undefined();
}
Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  if (cudaAvailable()) at::detail::getCUDAHooks().deviceSynchronize(static_cast<c10::DeviceIndex>(optionalIntArg(info, 0).value_or(0)));
  return info.Env().Undefined();
}

// setNumThreads(n): LibTorch's intra-op threads on every skipnorm worker (where jobs run).
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = intArg(info, 0);
  if (n < 1) throwTypeError(info.Env(), "the thread count must be at least 1");
  setWorkerThreadCount(static_cast<int>(n));
  return info.Env().Undefined();
}
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), workerThreadCount()); }

// setMainThreadNumThreads(n): intra-op threads for operations called on the JavaScript thread.
Napi::Value SetMainThreadNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = intArg(info, 0);
  if (n < 1) throwTypeError(info.Env(), "the thread count must be at least 1");
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}
Napi::Value GetMainThreadNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

}  // namespace

void registerInfo(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "info", Info);
  exportFunction(env, exports, "cudaIsAvailable", CudaIsAvailable);
  exportFunction(env, exports, "cudaDeviceCount", CudaDeviceCount);
  exportFunction(env, exports, "cudaEmptyCache", CudaEmptyCache);
  exportFunction(env, exports, "cudaSynchronize", CudaSynchronize);
  exportFunction(env, exports, "setNumThreads", SetNumThreads);
  exportFunction(env, exports, "getNumThreads", GetNumThreads);
  exportFunction(env, exports, "setMainThreadNumThreads", SetMainThreadNumThreads);
  exportFunction(env, exports, "getMainThreadNumThreads", GetMainThreadNumThreads);
}

}  // namespace skipnorm
