// Shared by the optimiser and training entry points.
#pragma once

#include <napi.h>

#include <memory>

#include "train/optimizer.h"

namespace skipnorm {
std::shared_ptr<train::Optimizer> optimizerArg(const Napi::CallbackInfo& info, size_t index);
void registerOptimizers(Napi::Env env, Napi::Object exports);
void registerTraining(Napi::Env env, Napi::Object exports);  // train/fit.cc
}  // namespace skipnorm
