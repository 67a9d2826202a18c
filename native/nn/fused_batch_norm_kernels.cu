// Fused batch norm + ReLU (+ residual) kernels over rows x channels memory (channels-last).
//
// Where the time goes in eager mode: batch norm reads its input twice (statistics, then
// normalisation) and writes once; the ReLU reads and writes again, and its backward reads the
// output and the gradient and writes a gradient, before batch norm's backward reads twice more.
// Here the ReLU costs nothing: its forward happens while normalising, and its backward mask is
// recomputed from the input that batch norm's backward reads anyway (or, after a residual
// addition, read from the saved output), so a fused layer moves as many bytes as batch norm alone.
//
// Statistics are summed per thread as shifted sums (x - x[row 0], which keeps the variance exact
// in float for data far from zero), combined in fixed order within blocks, then across blocks in
// double: deterministic, so CUDA graph replays and eager steps give the same bits.
#include "nn/fused_batch_norm_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>

namespace skipnorm::nn::kernels {
namespace {

constexpr int kThreads = 256;     // per block, every kernel
constexpr int kRowsPerThread = 8;  // the least a reduction thread sums before blocks are added
constexpr int64_t kMaxPartials = 512;
// The finishing kernels: 32 channels per block, kFinishRows threads adding partial sums for each.
constexpr int kFinishRows = 16;

template <typename T>
__device__ __forceinline__ float toFloat(T v);
template <>
__device__ __forceinline__ float toFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ float toFloat<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float toFloat<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// V consecutive channels of one row, loaded and stored in one instruction.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ Pack<T, V> load(const T* p) { return *reinterpret_cast<const Pack<T, V>*>(p); }
template <typename T, int V>
__device__ __forceinline__ void store(T* p, const Pack<T, V>& pack) { *reinterpret_cast<Pack<T, V>*>(p) = pack; }

// relu that keeps NaN (as at::relu): a diverging run must still show NaN losses.
__device__ __forceinline__ float relu(float v) { return v < 0.f ? 0.f : v; }

int multiprocessorCount() {
  static std::atomic<int> counts[64];
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= 64) return 108;
  int n = counts[device].load(std::memory_order_relaxed);
  if (n == 0) {
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || n <= 0) n = 108;
    counts[device].store(n, std::memory_order_relaxed);
  }
  return n;
}

// The reductions' launch: blockDim.x threads across channel groups (a warp reads whole rows when
// the groups are few), blockDim.y across rows; gridDim.y row slices, each writing one partial sum.
struct ReduceLaunch {
  dim3 grid, block;
  int64_t partials;
};

ReduceLaunch reduceLaunch(int64_t rows, int64_t groups) {
  int bx = 1;
  while (bx < groups && bx < 32) bx *= 2;
  const int by = kThreads / bx;
  const int64_t gx = (groups + bx - 1) / bx;
  const int64_t wanted = std::max<int64_t>(1, 8 * static_cast<int64_t>(multiprocessorCount()) / gx);
  const int64_t byRows = (rows + static_cast<int64_t>(by) * kRowsPerThread - 1) / (static_cast<int64_t>(by) * kRowsPerThread);
  const int64_t gy = std::clamp<int64_t>(std::min(wanted, byRows), 1, kMaxPartials);
  return {dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), dim3(bx, by), gy};
}

// Element-wise kernels: enough threads to fill the GPU, and at least one per channel group.
int64_t applyBlocks(int64_t rows, int64_t groups) {
  const int64_t wanted = std::clamp<int64_t>((rows * groups + kThreads - 1) / kThreads, 1, 16 * static_cast<int64_t>(multiprocessorCount()));
  return std::max(wanted, (groups + kThreads - 1) / kThreads);
}

// An element-wise thread's place: one channel group for its whole life (so its per-channel
// constants stay in registers, and no division happens per element), its first row and the rows
// it steps by. Returns false for the few threads left over (fewer than one per group).
struct Lane {
  int64_t group, row, rowStride;
};

__device__ __forceinline__ bool laneOf(int64_t groups, Lane& lane) {
  const int64_t threads = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  lane.rowStride = threads / groups;
  if (t >= lane.rowStride * groups) return false;
  lane.group = t % groups;
  lane.row = t / groups;
  return true;
}

template <int V>
__device__ __forceinline__ void loadChannels(const float* __restrict__ p, int64_t c0, float (&out)[V]) {
#pragma unroll
  for (int k = 0; k < V; ++k) out[k] = p[c0 + k];
}

// Adds per-channel partial sums: blockDim (32, kFinishRows), 32 channels per block; each thread
// adds every kFinishRows-th partial in double, then a tree in shared memory (fixed order).
// Thread row 0 ends with the totals.
__device__ void sumPartials(const float* __restrict__ partials, int64_t partialCount, int64_t channels, int64_t c, double& a, double& b) {
  __shared__ double sa[kFinishRows][32], sb[kFinishRows][32];
  a = 0;
  b = 0;
  if (c < channels) {
    for (int64_t p = threadIdx.y; p < partialCount; p += kFinishRows) {
      a += partials[p * channels + c];
      b += partials[(partialCount + p) * channels + c];
    }
  }
  sa[threadIdx.y][threadIdx.x] = a;
  sb[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  for (int step = kFinishRows / 2; step > 0; step /= 2) {
    if (threadIdx.y < step) {
      sa[threadIdx.y][threadIdx.x] += sa[threadIdx.y + step][threadIdx.x];
      sb[threadIdx.y][threadIdx.x] += sb[threadIdx.y + step][threadIdx.x];
    }
    __syncthreads();
  }
  a = sa[0][threadIdx.x];
  b = sb[0][threadIdx.x];
}

// Adds the block's per-thread sums over threadIdx.y (a tree in shared memory, fixed order);
// thread row 0 ends with the block's totals in `a` and `b`.
template <int V>
__device__ void blockSum(float (&a)[V], float (&b)[V]) {
  extern __shared__ float shared[];
  const int bx = blockDim.x, by = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  float* sa = shared;
  float* sb = shared + bx * by * V;
  const int at = (ty * bx + tx) * V;
#pragma unroll
  for (int k = 0; k < V; ++k) {
    sa[at + k] = a[k];
    sb[at + k] = b[k];
  }
  __syncthreads();
  for (int step = by / 2; step > 0; step /= 2) {
    if (ty < step) {
      const int other = ((ty + step) * bx + tx) * V;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        sa[at + k] += sa[other + k];
        sb[at + k] += sb[other + k];
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int k = 0; k < V; ++k) {
    a[k] = sa[tx * V + k];
    b[k] = sb[tx * V + k];
  }
}

// ---- forward -----------------------------------------------------------------------------------

// partials: [2][gridDim.y][channels], sums of (x - x[0]) and of its square.
template <typename T, int V>
__global__ void statisticsPartials(const T* __restrict__ x, int64_t rows, int64_t channels, float* __restrict__ partials) {
  const int64_t groups = channels / V;
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float s1[V] = {}, s2[V] = {};
  if (g < groups) {
    const Pack<T, V> first = load<T, V>(x + g * V);
    float shift[V];
#pragma unroll
    for (int k = 0; k < V; ++k) shift[k] = toFloat(first.v[k]);
    const int64_t stride = static_cast<int64_t>(gridDim.y) * blockDim.y;
    for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += stride) {
      const Pack<T, V> p = load<T, V>(x + r * channels + g * V);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float d = toFloat(p.v[k]) - shift[k];
        s1[k] += d;
        s2[k] += d * d;
      }
    }
  }
  blockSum<V>(s1, s2);
  if (threadIdx.y == 0 && g < groups) {
    const int64_t partialCount = gridDim.y;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      partials[blockIdx.y * channels + g * V + k] = s1[k];
      partials[(partialCount + blockIdx.y) * channels + g * V + k] = s2[k];
    }
  }
}

template <typename T>
__global__ void statisticsFinish(const T* __restrict__ x, int64_t rows, int64_t channels, int64_t partialCount, const float* __restrict__ partials,
                                 const float* __restrict__ weight, float* runningMean, float* runningVar, float momentum, double eps, float* mean,
                                 float* invstd, float* scale) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  double s1, s2;
  sumPartials(partials, partialCount, channels, c, s1, s2);
  if (threadIdx.y != 0 || c >= channels) return;
  const double n = static_cast<double>(rows);
  const double shifted = s1 / n;
  // Rounding can leave a tiny negative variance; NaN passes (a diverging run must show it).
  double var = s2 / n - shifted * shifted;
  if (var < 0) var = 0;
  const double m = static_cast<double>(toFloat(x[c])) + shifted;
  const double is = 1.0 / sqrt(var + eps);
  mean[c] = static_cast<float>(m);
  invstd[c] = static_cast<float>(is);
  scale[c] = weight[c] * static_cast<float>(is);
  if (runningMean != nullptr) {
    const float unbiased = static_cast<float>(rows > 1 ? var * n / (n - 1) : var);
    runningMean[c] = momentum * static_cast<float>(m) + (1.f - momentum) * runningMean[c];
    runningVar[c] = momentum * unbiased + (1.f - momentum) * runningVar[c];
  }
}

// The normalised value, rounded once (an explicit fused multiply-add), so that the backward's
// recomputation of the ReLU's mask gives the same bits.
__device__ __forceinline__ float normalised(float x, float mean, float scale, float bias) { return __fmaf_rn(x - mean, scale, bias); }

template <typename T, int V, bool Residual>
__global__ void forwardApply(const T* __restrict__ x, const T* __restrict__ z, const float* __restrict__ mean, const float* __restrict__ scale,
                             const float* __restrict__ bias, T* __restrict__ y, int64_t rows, int64_t channels) {
  Lane lane;
  if (!laneOf(channels / V, lane)) return;
  const int64_t c0 = lane.group * V;
  float mu[V], sc[V], b[V];
  loadChannels<V>(mean, c0, mu);
  loadChannels<V>(scale, c0, sc);
  loadChannels<V>(bias, c0, b);
  for (int64_t r = lane.row; r < rows; r += lane.rowStride) {
    const int64_t at = r * channels + c0;
    const Pack<T, V> px = load<T, V>(x + at);
    Pack<T, V> pz;
    if constexpr (Residual) pz = load<T, V>(z + at);
    Pack<T, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float v = normalised(toFloat(px.v[k]), mu[k], sc[k], b[k]);
      // With a residual, the normalised value is rounded to T first, as the unfused batch norm
      // writes it before the addition: otherwise the ReLU's mask could differ from eager mode's.
      if constexpr (Residual) v = toFloat(fromFloat<T>(v)) + toFloat(pz.v[k]);
      out.v[k] = fromFloat<T>(relu(v));
    }
    store<T, V>(y + at, out);
  }
}

// ---- backward ----------------------------------------------------------------------------------

// The gradient through the ReLU: dy where the output is positive. Without a residual the output is
// recomputed exactly as forwardApply wrote it (same float operations, same rounding to T).
template <typename T, bool Residual>
__device__ __forceinline__ float maskedGradient(T dy, T x, T y, float mean, float scale, float bias) {
  float out;
  if constexpr (Residual) out = toFloat(y);
  else out = toFloat(fromFloat<T>(relu(normalised(toFloat(x), mean, scale, bias))));
  // As PyTorch's threshold_backward: zero where out <= 0, so a NaN output passes its gradient.
  return out <= 0.f ? 0.f : toFloat(dy);
}

// partials: [2][gridDim.y][channels], sums of g and of g * (x - mean).
// At most 64 registers (four blocks of 256 per multiprocessor): eight channels' constants and
// sums reach 72 otherwise.
template <typename T, int V, bool Residual>
__global__ void __launch_bounds__(kThreads, 4) backwardPartials(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ y, const float* __restrict__ scale,
                                 const float* __restrict__ bias, const float* __restrict__ mean, int64_t rows, int64_t channels,
                                 float* __restrict__ partials) {
  const int64_t groups = channels / V;
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float sg[V] = {}, sgx[V] = {};
  if (g < groups) {
    float sc[V], b[V], mu[V];
    loadChannels<V>(scale, g * V, sc);
    loadChannels<V>(bias, g * V, b);
    loadChannels<V>(mean, g * V, mu);
    const int64_t stride = static_cast<int64_t>(gridDim.y) * blockDim.y;
    for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += stride) {
      const int64_t at = r * channels + g * V;
      const Pack<T, V> pd = load<T, V>(dy + at), px = load<T, V>(x + at);
      Pack<T, V> py;
      if constexpr (Residual) py = load<T, V>(y + at);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float grad = maskedGradient<T, Residual>(pd.v[k], px.v[k], Residual ? py.v[k] : px.v[k], mu[k], sc[k], b[k]);
        sg[k] += grad;
        sgx[k] += grad * (toFloat(px.v[k]) - mu[k]);
      }
    }
  }
  blockSum<V>(sg, sgx);
  if (threadIdx.y == 0 && g < groups) {
    const int64_t partialCount = gridDim.y;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      partials[blockIdx.y * channels + g * V + k] = sg[k];
      partials[(partialCount + blockIdx.y) * channels + g * V + k] = sgx[k];
    }
  }
}

// dbias = sum g, dweight = invstd * sum g (x - mean); and the per-channel coefficients of
// dx = scale * (g - meanG - (x - mean) * coefX), with meanG = dbias / n, coefX = invstd * dweight / n.
__global__ void backwardFinish(int64_t rows, int64_t channels, int64_t partialCount, const float* __restrict__ partials, const float* __restrict__ invstd,
                               float* dweight, float* dbias, float* meanG, float* coefX) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  double sg, sgx;
  sumPartials(partials, partialCount, channels, c, sg, sgx);
  if (threadIdx.y != 0 || c >= channels) return;
  const double n = static_cast<double>(rows), is = invstd[c];
  const double dw = is * sgx;
  dweight[c] = static_cast<float>(dw);
  dbias[c] = static_cast<float>(sg);
  meanG[c] = static_cast<float>(sg / n);
  coefX[c] = static_cast<float>(is * dw / n);
}

template <typename T, int V, bool Residual>
__global__ void backwardApply(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ y, const float* __restrict__ scale,
                              const float* __restrict__ bias, const float* __restrict__ mean, const float* __restrict__ meanG,
                              const float* __restrict__ coefX, T* __restrict__ dx, T* __restrict__ dz, int64_t rows, int64_t channels) {
  Lane lane;
  if (!laneOf(channels / V, lane)) return;
  const int64_t c0 = lane.group * V;
  float sc[V], b[V], mu[V], mg[V], cx[V];
  loadChannels<V>(scale, c0, sc);
  loadChannels<V>(bias, c0, b);
  loadChannels<V>(mean, c0, mu);
  loadChannels<V>(meanG, c0, mg);
  loadChannels<V>(coefX, c0, cx);
  for (int64_t r = lane.row; r < rows; r += lane.rowStride) {
    const int64_t at = r * channels + c0;
    const Pack<T, V> pd = load<T, V>(dy + at), px = load<T, V>(x + at);
    Pack<T, V> py;
    if constexpr (Residual) py = load<T, V>(y + at);
    Pack<T, V> outX, outZ;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float grad = maskedGradient<T, Residual>(pd.v[k], px.v[k], Residual ? py.v[k] : px.v[k], mu[k], sc[k], b[k]);
      outX.v[k] = fromFloat<T>(sc[k] * (grad - mg[k] - (toFloat(px.v[k]) - mu[k]) * cx[k]));
      if constexpr (Residual) outZ.v[k] = fromFloat<T>(grad);
    }
    store<T, V>(dx + at, outX);
    if constexpr (Residual) store<T, V>(dz + at, outZ);
  }
}

// ---- launches ----------------------------------------------------------------------------------

const char* lastError() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

// The widest pack (16 bytes at most) that divides the channels and every pointer's alignment.
template <typename T>
int packWidth(int64_t channels, std::initializer_list<const void*> pointers) {
  for (int v = static_cast<int>(16 / sizeof(T)); v > 1; v /= 2) {
    bool fits = channels % v == 0;
    for (const void* p : pointers) fits = fits && (p == nullptr || reinterpret_cast<uintptr_t>(p) % (sizeof(T) * v) == 0);
    if (fits) return v;
  }
  return 1;
}

template <typename T>
struct Statistics {
  template <int V>
  static void run(const T* x, int64_t rows, int64_t channels, const float* weight, float* runningMean, float* runningVar, double momentum, double eps,
                  float* mean, float* invstd, float* scale, float* workspace, cudaStream_t stream) {
    const ReduceLaunch launch = reduceLaunch(rows, channels / V);
    const size_t shared = 2 * sizeof(float) * kThreads * V;
    statisticsPartials<T, V><<<launch.grid, launch.block, shared, stream>>>(x, rows, channels, workspace);
    const auto finishBlocks = static_cast<unsigned>((channels + 31) / 32);
    statisticsFinish<T><<<finishBlocks, dim3(32, kFinishRows), 0, stream>>>(x, rows, channels, launch.partials, workspace, weight, runningMean, runningVar,
                                                        static_cast<float>(momentum), eps, mean, invstd, scale);
  }
};

template <typename T>
struct Forward {
  template <int V>
  static void run(const T* x, const T* z, const float* mean, const float* scale, const float* bias, T* y, int64_t rows, int64_t channels,
                  cudaStream_t stream) {
    const auto blocks = static_cast<unsigned>(applyBlocks(rows, channels / V));
    if (z != nullptr) forwardApply<T, V, true><<<blocks, kThreads, 0, stream>>>(x, z, mean, scale, bias, y, rows, channels);
    else forwardApply<T, V, false><<<blocks, kThreads, 0, stream>>>(x, z, mean, scale, bias, y, rows, channels);
  }
};

template <typename T>
struct Backward {
  template <int V, bool Residual>
  static void runWith(const T* dy, const T* x, const T* y, const float* scale, const float* bias, const float* mean, const float* invstd, float* dweight,
                      float* dbias, T* dx, T* dz, float* workspace, int64_t rows, int64_t channels, cudaStream_t stream) {
    const ReduceLaunch launch = reduceLaunch(rows, channels / V);
    const size_t shared = 2 * sizeof(float) * kThreads * V;
    float* meanG = workspace + 2 * kMaxPartials * channels;
    float* coefX = meanG + channels;
    backwardPartials<T, V, Residual><<<launch.grid, launch.block, shared, stream>>>(dy, x, y, scale, bias, mean, rows, channels, workspace);
    const auto finishBlocks = static_cast<unsigned>((channels + 31) / 32);
    backwardFinish<<<finishBlocks, dim3(32, kFinishRows), 0, stream>>>(rows, channels, launch.partials, workspace, invstd, dweight, dbias, meanG, coefX);
    const auto blocks = static_cast<unsigned>(applyBlocks(rows, channels / V));
    backwardApply<T, V, Residual><<<blocks, kThreads, 0, stream>>>(dy, x, y, scale, bias, mean, meanG, coefX, dx, dz, rows, channels);
  }
  template <int V>
  static void run(const T* dy, const T* x, const T* y, const float* scale, const float* bias, const float* mean, const float* invstd, float* dweight,
                  float* dbias, T* dx, T* dz, float* workspace, int64_t rows, int64_t channels, cudaStream_t stream) {
    if (dz != nullptr) runWith<V, true>(dy, x, y, scale, bias, mean, invstd, dweight, dbias, dx, dz, workspace, rows, channels, stream);
    else runWith<V, false>(dy, x, y, scale, bias, mean, invstd, dweight, dbias, dx, dz, workspace, rows, channels, stream);
  }
};

// Calls Op<T>::run<V>(args...) with the element type's T and the widest pack the data allows.
template <template <typename> class Op, typename T, typename... Args>
void withPack(int width, Args... args) {
  switch (width) {
    case 8:
      if constexpr (16 / sizeof(T) >= 8) return Op<T>::template run<8>(args...);
      break;
    case 4:
      if constexpr (16 / sizeof(T) >= 4) return Op<T>::template run<4>(args...);
      break;
    case 2:
      return Op<T>::template run<2>(args...);
    default:
      break;
  }
  Op<T>::template run<1>(args...);
}

template <typename T>
const T* as(const void* p) { return static_cast<const T*>(p); }
template <typename T>
T* as(void* p) { return static_cast<T*>(p); }

template <typename T>
const char* statistics(const void* x, int64_t rows, int64_t channels, const float* weight, float* runningMean, float* runningVar, double momentum,
                       double eps, float* mean, float* invstd, float* scale, float* workspace, cudaStream_t stream) {
  withPack<Statistics, T>(packWidth<T>(channels, {x}), as<T>(x), rows, channels, weight, runningMean, runningVar, momentum, eps, mean, invstd, scale,
                          workspace, stream);
  return lastError();
}

template <typename T>
const char* forward(const void* x, const void* z, const float* mean, const float* scale, const float* bias, void* y, int64_t rows, int64_t channels,
                    cudaStream_t stream) {
  withPack<Forward, T>(packWidth<T>(channels, {x, z, y}), as<T>(x), as<T>(z), mean, scale, bias, as<T>(y), rows, channels, stream);
  return lastError();
}

template <typename T>
const char* backward(const void* dy, const void* x, const void* y, const float* scale, const float* bias, const float* mean, const float* invstd,
                     float* dweight, float* dbias, void* dx, void* dz, float* workspace, int64_t rows, int64_t channels, cudaStream_t stream) {
  withPack<Backward, T>(packWidth<T>(channels, {dy, x, y, dx, dz}), as<T>(dy), as<T>(x), as<T>(y), scale, bias, mean, invstd, dweight, dbias, as<T>(dx),
                        as<T>(dz), workspace, rows, channels, stream);
  return lastError();
}

}  // namespace

size_t workspaceFloats(int64_t /*rows*/, int64_t channels) { return static_cast<size_t>((2 * kMaxPartials + 2) * channels); }

const char* batchNormStatistics(ElementType type, const void* x, int64_t rows, int64_t channels, const float* weight,
                                float* runningMean, float* runningVar, double momentum, double eps, float* mean, float* invstd, float* scale,
                                float* workspace, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case ElementType::Float32: return statistics<float>(x, rows, channels, weight, runningMean, runningVar, momentum, eps, mean, invstd, scale, workspace, s);
    case ElementType::Float16: return statistics<__half>(x, rows, channels, weight, runningMean, runningVar, momentum, eps, mean, invstd, scale, workspace, s);
    default: return statistics<__nv_bfloat16>(x, rows, channels, weight, runningMean, runningVar, momentum, eps, mean, invstd, scale, workspace, s);
  }
}

const char* normReLUForward(ElementType type, const void* x, const void* z, const float* mean, const float* scale, const float* bias, void* y,
                            int64_t rows, int64_t channels, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case ElementType::Float32: return forward<float>(x, z, mean, scale, bias, y, rows, channels, s);
    case ElementType::Float16: return forward<__half>(x, z, mean, scale, bias, y, rows, channels, s);
    default: return forward<__nv_bfloat16>(x, z, mean, scale, bias, y, rows, channels, s);
  }
}

const char* normReLUBackward(ElementType type, const void* dy, const void* x, const void* y, const float* scale, const float* bias,
                             const float* mean, const float* invstd, float* dweight, float* dbias, void* dx, void* dz, float* workspace,
                             int64_t rows, int64_t channels, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case ElementType::Float32: return backward<float>(dy, x, y, scale, bias, mean, invstd, dweight, dbias, dx, dz, workspace, rows, channels, s);
    case ElementType::Float16: return backward<__half>(dy, x, y, scale, bias, mean, invstd, dweight, dbias, dx, dz, workspace, rows, channels, s);
    default: return backward<__nv_bfloat16>(dy, x, y, scale, bias, mean, invstd, dweight, dbias, dx, dz, workspace, rows, channels, s);
  }
}

}  // namespace skipnorm::nn::kernels
