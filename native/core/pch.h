// Precompiled header: the heavy headers every translation unit needs, parsed once.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>
#include <torch/nn/module.h>

#if defined(SKIPNORM_TORCH_CXX11_ABI) && defined(_GLIBCXX_USE_CXX11_ABI)
static_assert(_GLIBCXX_USE_CXX11_ABI == SKIPNORM_TORCH_CXX11_ABI,
              "skipnorm must be compiled with the same _GLIBCXX_USE_CXX11_ABI as LibTorch");
#endif
