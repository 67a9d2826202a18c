// Per-environment state of the addon (one per Node.js environment: the main thread or a worker).
#pragma once

#include <napi.h>

#include <memory>
#include <unordered_map>

#include "core/tensor_table.h"

namespace skipnorm {

namespace nn {
class Layer;
}
namespace train {
class Optimizer;
}
namespace data {
class Dataset;
class Loader;
}

struct Addon {
  TensorTable tensors;
  Napi::FunctionReference torchErrorClass;  // src/core/errors.ts TorchError
  Napi::FunctionReference abortErrorClass;  // src/core/errors.ts AbortError
  std::vector<at::Generator> generators;    // index = generator handle; undefined once disposed
  // Modules JavaScript holds, by handle. A parent holds its children too, so a child handle may
  // be released while the model still runs it.
  std::unordered_map<double, std::shared_ptr<nn::Layer>> modules;
  std::unordered_map<double, std::shared_ptr<train::Optimizer>> optimizers;
  // What running jobs hold, with how many jobs hold each: every module of a model's tree, the
  // optimiser, and the storages of parameters, buffers and data tensors. Calls that would touch
  // them from JavaScript meanwhile are refused (they would race with the job).
  std::unordered_map<const void*, int> inUse;
  std::unordered_map<double, std::shared_ptr<data::Dataset>> datasets;
  std::unordered_map<double, std::shared_ptr<data::Loader>> loaders;
  double nextModuleHandle = 1;  // modules, optimisers, datasets and loaders draw handles from one counter
};

inline Addon& addonOf(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

}  // namespace skipnorm
