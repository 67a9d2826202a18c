// The CUDA kernels of fused batch norm + ReLU (nn/fused_batch_norm.h), compiled by nvcc in CUDA
// builds only. The interface is plain C++ (pointers, sizes, a stream) so that nvcc never sees
// LibTorch's headers; the caller owns every buffer.
//
// A tensor is seen as `rows` x `channels` values in row-major order: a channels-last [N, C, H, W]
// tensor, whose memory is [N, H, W, C], is N*H*W rows of C channels. Statistics are per channel.
#pragma once

#include <cstddef>
#include <cstdint>

namespace skipnorm::nn::kernels {

enum class ElementType { Float32, Float16, BFloat16 };

// Floats of workspace that batchNormStatistics and normReLUBackward need.
size_t workspaceFloats(int64_t rows, int64_t channels);

// Training-mode statistics: mean and 1/sqrt(biased var + eps) per channel, scale = weight *
// invstd, and PyTorch's running update (momentum, unbiased variance). Returns nullptr, or the
// CUDA error's text.
const char* batchNormStatistics(ElementType type, const void* x, int64_t rows, int64_t channels, const float* weight,
                                float* runningMean, float* runningVar, double momentum, double eps, float* mean, float* invstd, float* scale,
                                float* workspace, void* stream);

// y = relu((x - mean) * scale + bias [+ z]), z may be null. Centred before scaling, as PyTorch
// does: x * scale + (bias - mean * scale) would cancel digits when |mean| is far above the spread.
const char* normReLUForward(ElementType type, const void* x, const void* z, const float* mean, const float* scale, const float* bias, void* y,
                            int64_t rows, int64_t channels, void* stream);

// The backward of normReLUForward after batchNormStatistics. The ReLU's mask is read from the
// saved output y when there is a residual (y may be null otherwise: the mask is recomputed from x).
// Writes dweight, dbias (per channel), dx and, with a residual, dz (the masked gradient).
const char* normReLUBackward(ElementType type, const void* dy, const void* x, const void* y, const float* scale, const float* bias,
                             const float* mean, const float* invstd, float* dweight, float* dbias, void* dx, void* dz, float* workspace,
                             int64_t rows, int64_t channels, void* stream);

}  // namespace skipnorm::nn::kernels
