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
#include "info/gpus.h"
#include "nn/fused_batch_norm.h"

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
  Napi::Array gpus = Napi::Array::New(env);
  for (const auto& g : gpuDescriptions(cudaDeviceCount())) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("device", "cuda:" + std::to_string(g.index));
    d.Set("name", g.name);
    d.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(g.memoryBytes)));
    d.Set("computeCapability", std::to_string(g.major) + "." + std::to_string(g.minor));
    d.Set("multiprocessors", Napi::Number::New(env, g.multiprocessors));
    gpus.Set(gpus.Length(), d);
  }
  out.Set("gpus", gpus);
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
// The caching allocator's statistics for one device (the device-generic allocator API: no CUDA
// headers needed): bytes allocated and reserved (current and peak), out-of-memory count, and the
// driver's free and total memory.
Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info) {
  TORCH_CHECK(cudaAvailable(), "CUDA is not available: no GPU memory statistics");
  const int64_t device = optionalIntArg(info, 0).value_or(0);
  TORCH_CHECK(device >= 0 && device < cudaDeviceCount(), "no CUDA device ", device, " (", cudaDeviceCount(), " visible)");
  auto* allocator = at::getDeviceAllocator(at::kCUDA);
  const auto index = static_cast<c10::DeviceIndex>(device);
  const auto stats = allocator->getDeviceStats(index);
  const auto [free, total] = allocator->getMemoryInfo(index);
  Napi::Env env = info.Env();
  auto stat = [&](const c10::CachingDeviceAllocator::StatArray& a) {
    const auto& s = a[static_cast<size_t>(c10::CachingDeviceAllocator::StatType::AGGREGATE)];
    Napi::Object o = Napi::Object::New(env);
    o.Set("current", Napi::Number::New(env, static_cast<double>(s.current)));
    o.Set("peak", Napi::Number::New(env, static_cast<double>(s.peak)));
    return o;
  };
  Napi::Object out = Napi::Object::New(env);
  out.Set("allocatedBytes", stat(stats.allocated_bytes));
  out.Set("reservedBytes", stat(stats.reserved_bytes));
  out.Set("numOoms", Napi::Number::New(env, static_cast<double>(stats.num_ooms)));
  out.Set("freeBytes", Napi::Number::New(env, static_cast<double>(free)));
  out.Set("totalBytes", Napi::Number::New(env, static_cast<double>(total)));
  return out;
}

Napi::Value CudaResetPeakMemoryStats(const Napi::CallbackInfo& info) {
  TORCH_CHECK(cudaAvailable(), "CUDA is not available: no GPU memory statistics");
  at::getDeviceAllocator(at::kCUDA)->resetPeakStats(static_cast<c10::DeviceIndex>(optionalIntArg(info, 0).value_or(0)));
  return info.Env().Undefined();
}

// cuDNN's benchmark mode (torch.backends.cudnn.benchmark): pick the fastest convolution algorithm
// per input shape, once. A process-wide flag; no effect without cuDNN.
Napi::Value CudnnBenchmark(const Napi::CallbackInfo& info) {
  if (!isMissing(info, 0)) at::globalContext().setBenchmarkCuDNN(boolArg(info, 0));
  return Napi::Boolean::New(info.Env(), at::globalContext().benchmarkCuDNN());
}

Napi::Value CudnnDeterministic(const Napi::CallbackInfo& info) {
  if (!isMissing(info, 0)) at::globalContext().setDeterministicCuDNN(boolArg(info, 0));
  return Napi::Boolean::New(info.Env(), at::globalContext().deterministicCuDNN());
}

// Batch norm + ReLU fusion (nn/fused_batch_norm.h): "auto", "off" or "always"; a process-wide mode.
Napi::Value FusedBatchNorm(const Napi::CallbackInfo& info) {
  static const std::pair<const char*, nn::FusionMode> kModes[] = {{"auto", nn::FusionMode::Auto}, {"off", nn::FusionMode::Off}, {"always", nn::FusionMode::Always}};
  if (!isMissing(info, 0)) {
    const std::string mode = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    bool known = false;
    for (const auto& [name, value] : kModes) {
      if (mode == name) {
        nn::setFusedBatchNormMode(value);
        known = true;
      }
    }
    if (!known) throwTypeError(info.Env(), "fusedBatchNorm: expected 'auto', 'off' or 'always'");
  }
  for (const auto& [name, value] : kModes) {
    if (value == nn::fusedBatchNormMode()) return Napi::String::New(info.Env(), name);
  }
  return Napi::String::New(info.Env(), "auto");
}

Napi::Value FusedBatchNormCalls(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(nn::fusedBatchNormCalls()));
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
  exportFunction(env, exports, "cudaMemoryStats", CudaMemoryStats);
  exportFunction(env, exports, "cudaResetPeakMemoryStats", CudaResetPeakMemoryStats);
  exportFunction(env, exports, "cudnnBenchmark", CudnnBenchmark);
  exportFunction(env, exports, "cudnnDeterministic", CudnnDeterministic);
  exportFunction(env, exports, "cudaSynchronize", CudaSynchronize);
  exportFunction(env, exports, "fusedBatchNorm", FusedBatchNorm);
  exportFunction(env, exports, "fusedBatchNormCalls", FusedBatchNormCalls);
  exportFunction(env, exports, "setNumThreads", SetNumThreads);
  exportFunction(env, exports, "getNumThreads", GetNumThreads);
  exportFunction(env, exports, "setMainThreadNumThreads", SetMainThreadNumThreads);
  exportFunction(env, exports, "getMainThreadNumThreads", GetMainThreadNumThreads);
}

}  // namespace skipnorm
