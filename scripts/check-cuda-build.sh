#!/usr/bin/env bash
# Proves that a CUDA build of the addon compiles and links on a machine without a GPU (issue 8):
# unpacks a CUDA torch wheel's LibTorch (torch/include, lib, share) into a cache folder, with the
# headers of the NVIDIA wheels it depends on beside it (nvidia/*/include: NCCL, cuBLAS, cuSPARSE,
# cuSOLVER, as pip lays them out in site-packages), builds the addon against it into build-cuda/
# (LIBTORCH=..., nvcc and the CUDA toolkit from the system), and checks that the result keeps
# libtorch_cuda.so linked and carries skipnorm's CUDA code (CUDA graphs, the NCCL backend).
# The CPU build in build/ is left alone. It cannot run here: there is no GPU, and the CUDA
# libraries the wheel depends on (cuDNN, NCCL, ...) are separate wheels that are not unpacked.
#   TORCH_CUDA_WHEEL=path/to/torch-*.whl   a wheel to use (default: pip download torch==$TORCH_CUDA_VERSION)
#   TORCH_CUDA_VERSION (default 2.14.1)   SKIPNORM_CUDA_CACHE (default ~/.cache/skipnorm)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${TORCH_CUDA_VERSION:-2.14.1}
cache=${SKIPNORM_CUDA_CACHE:-$HOME/.cache/skipnorm}
libtorch="$cache/torch-$version-cuda/torch"
command -v nvcc >/dev/null || { echo "check-cuda-build: nvcc is not on PATH (the CUDA toolkit is needed)"; exit 2; }
if [ ! -f "$libtorch/lib/libtorch_cuda.so" ]; then
  wheel=${TORCH_CUDA_WHEEL:-}
  if [ -z "$wheel" ]; then
    mkdir -p "$cache/wheels"
    python3 -m pip download --no-deps --retries 0 --timeout 10 -d "$cache/wheels" "torch==$version" >&2
    wheel=$(ls "$cache"/wheels/torch-"$version"-*.whl | head -1)
  fi
  echo "check-cuda-build: unpacking LibTorch from $wheel"
  rm -rf "$cache/torch-$version-cuda.partial"
  mkdir -p "$cache/torch-$version-cuda.partial"
  unzip -q "$wheel" 'torch/include/*' 'torch/lib/*' 'torch/share/*' -d "$cache/torch-$version-cuda.partial"
  [ -f "$cache/torch-$version-cuda.partial/torch/lib/libtorch_cuda.so" ] || { echo "check-cuda-build: $wheel is not a CUDA build (no libtorch_cuda.so)"; exit 1; }
  rm -rf "$cache/torch-$version-cuda" && mv "$cache/torch-$version-cuda.partial" "$cache/torch-$version-cuda"
fi
# The NVIDIA wheels' headers (NCCL's process group includes them), unpacked beside torch/.
if [ ! -f "$cache/torch-$version-cuda/nvidia/nccl/include/nccl.h" ]; then
  mkdir -p "$cache/wheels"
  python3 -m pip download --no-deps --retries 0 --timeout 10 -d "$cache/wheels" nvidia-nccl-cu13 nvidia-cublas nvidia-cusparse nvidia-cusolver >&2
  for w in "$cache"/wheels/nvidia_*.whl; do unzip -qo "$w" 'nvidia/*/include/*' -d "$cache/torch-$version-cuda"; done
fi
start=$(date +%s)
LIBTORCH="$libtorch" node scripts/build-native.js --out build-cuda ${SKIPNORM_INCREMENTAL:+--incremental}
addon=build-cuda/Release/skipnorm.node
needed=$(readelf -d "$addon" | grep NEEDED)
echo "$needed"
grep -q 'libtorch_cuda.so' <<<"$needed" || { echo "check-cuda-build: FAILED: $addon does not link libtorch_cuda.so"; exit 1; }
grep -q 'libc10_cuda.so' <<<"$needed" || { echo "check-cuda-build: FAILED: $addon does not link libc10_cuda.so"; exit 1; }
# skipnorm's CUDA-only code (CUDA graphs) must be in: its symbols name at::cuda::CUDAGraph.
undefined=$(nm -DC --undefined-only "$addon")
grep -q 'at::cuda::CUDAGraph::replay' <<<"$undefined" || { echo "check-cuda-build: FAILED: $addon has no CUDA graph code (SKIPNORM_WITH_CUDA not set?)"; exit 1; }
grep -q 'c10d::ProcessGroupNCCL::ProcessGroupNCCL' <<<"$undefined" || { echo "check-cuda-build: FAILED: $addon has no NCCL backend (nccl.h not found?)"; exit 1; }
# skipnorm's own kernels (native/**/*.cu, nvcc): fused batch norm + ReLU.
symbols=$(nm -C "$addon")
grep -q 'skipnorm::nn::kernels::batchNormStatistics' <<<"$symbols" || { echo "check-cuda-build: FAILED: $addon has no fused batch norm kernels (native/nn/fused_batch_norm_kernels.cu not built?)"; exit 1; }
echo "check-cuda-build: ok: $addon built against LibTorch $version (CUDA) in $(( $(date +%s) - start )) s, links libtorch_cuda.so and libc10_cuda.so, has CUDA graphs, the NCCL backend and the fused batch norm kernels"
