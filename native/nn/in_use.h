// Marks what a running job trains or measures (every module of a model, the storages of its
// parameters and buffers, the optimiser, the data tensors) as off limits to JavaScript until the
// job settles, and finds modules by handle: a call from JavaScript meanwhile would race with the
// job's thread (calling optimizer.step() during fit corrupted the heap). See checkNotInUse.
#pragma once

#include <napi.h>
#include <torch/nn/module.h>

#include <unordered_map>
#include <vector>

#include "core/addon.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "nn/layer.h"

namespace skipnorm::nn {

class InUseMarks {
 public:
  // The model (every module of it and the storages of its parameters and buffers) and an extra
  // object such as the optimiser.
  void mark(Napi::Env env, const torch::nn::Module& root, const void* extra = nullptr) {
    registry_ = &addonOf(env).inUse;
    add(&root);
    for (const auto& m : root.modules(/*include_self=*/false)) add(m.get());
    for (const auto& p : root.parameters(/*recurse=*/true)) markTensor(env, p);
    for (const auto& b : root.buffers(/*recurse=*/true)) markTensor(env, b);
    if (extra) add(extra);
  }
  // A data tensor the job reads (its input, labels, a probe batch): JavaScript may read it
  // meanwhile but not write to it.
  void markTensor(Napi::Env env, const at::Tensor& t) {
    registry_ = &addonOf(env).inUse;
    if (!t.defined()) return;
    // The tensor itself (a job may give it new storage, as channels-last does) and its storage
    // (which views and detached aliases share).
    add(t.unsafeGetTensorImpl());
    if (t.has_storage()) add(t.storage().unsafeGetStorageImpl());
  }
  // On the JavaScript thread, from Job::settled(). Another job may hold the same objects: each
  // mark counts.
  void release() {
    if (registry_) {
      for (const void* p : marked_) {
        auto it = registry_->find(p);
        if (it != registry_->end() && --it->second == 0) registry_->erase(it);
      }
    }
    marked_.clear();
  }
 private:
  void add(const void* p) {
    marked_.push_back(p);
    ++(*registry_)[p];
  }
  std::unordered_map<const void*, int>* registry_ = nullptr;
  std::vector<const void*> marked_;
};

// Throws when a running job holds the module or any module inside it (a layer shared between
// two models is held by a job training either).
inline void checkModuleNotInUse(Napi::Env env, const torch::nn::Module& module, const char* what) {
  if (addonOf(env).inUse.empty()) return;
  checkNotInUse(env, &module, what);
  for (const auto& m : module.modules(/*include_self=*/false)) checkNotInUse(env, m.get(), what);
}

// The module a JavaScript handle names, or a TorchError saying it was disposed ("the <what> was
// disposed"); a module a running job holds is refused too, unless refuseInUse is false.
inline std::shared_ptr<Layer> moduleByHandle(Napi::Env env, double handle, const char* what = "module", bool refuseInUse = true) {
  auto& modules = addonOf(env).modules;
  auto it = modules.find(handle);
  if (it == modules.end()) throw makeTorchError(env, opName(), std::string("the ") + what + " was disposed (use after dispose)");
  if (refuseInUse) checkModuleNotInUse(env, *it->second, what);
  return it->second;
}

// A new JavaScript handle for a module JavaScript will hold (released by releaseModule).
inline Napi::Value newModuleHandle(Napi::Env env, std::shared_ptr<Layer> layer) {
  Addon& a = addonOf(env);
  double handle = a.nextModuleHandle++;
  a.modules.emplace(handle, std::move(layer));
  return Napi::Number::New(env, handle);
}

}  // namespace skipnorm::nn
