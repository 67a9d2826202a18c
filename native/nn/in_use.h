// Marks what a running job trains or measures (every module of a model, and an optimiser) as off
// limits to JavaScript until the job settles, and finds modules by handle: a call from JavaScript meanwhile would race with the
// job's thread (calling optimizer.step() during fit corrupted the heap). See checkNotInUse.
#pragma once

#include <napi.h>
#include <torch/nn/module.h>

#include <unordered_set>
#include <vector>

#include "core/addon.h"
#include "core/errors.h"
#include "nn/layer.h"

namespace skipnorm::nn {

class InUseMarks {
 public:
  void mark(Napi::Env env, const torch::nn::Module& root, const void* extra = nullptr) {
    registry_ = &addonOf(env).inUse;
    marked_.push_back(&root);
    for (const auto& m : root.modules(/*include_self=*/false)) marked_.push_back(m.get());
    if (extra) marked_.push_back(extra);
    for (const void* p : marked_) registry_->insert(p);
  }
  // On the JavaScript thread, from Job::settled().
  void release() {
    if (registry_) for (const void* p : marked_) registry_->erase(p);
    marked_.clear();
  }

 private:
  std::unordered_set<const void*>* registry_ = nullptr;
  std::vector<const void*> marked_;
};

// The module a JavaScript handle names, or a TorchError saying it was disposed ("the <what> was
// disposed"); a module a running job holds is refused too, unless refuseInUse is false.
inline std::shared_ptr<Layer> moduleByHandle(Napi::Env env, double handle, const char* what = "module", bool refuseInUse = true) {
  auto& modules = addonOf(env).modules;
  auto it = modules.find(handle);
  if (it == modules.end()) throw makeTorchError(env, opName(), std::string("the ") + what + " was disposed (use after dispose)");
  if (refuseInUse) checkNotInUse(env, it->second.get(), what);
  return it->second;
}

}  // namespace skipnorm::nn
