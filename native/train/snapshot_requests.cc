#include "train/snapshot_requests.h"

#include <mutex>
#include <unordered_map>

#include "core/args.h"
#include "core/errors.h"
#include "nn/in_use.h"

namespace skipnorm::train {

namespace {

// Keyed by the model trained; a mutex because each worker_thread has its own JavaScript thread.
std::mutex registryMutex;
std::unordered_map<const void*, std::shared_ptr<SnapshotRequests>>& registry() {
  static std::unordered_map<const void*, std::shared_ptr<SnapshotRequests>> map;
  return map;
}

Napi::Value RequestFitSnapshot(const Napi::CallbackInfo& info) {
  auto model = nn::moduleByHandle(info.Env(), numberArg(info, 0), "model", /*refuseInUse=*/false);
  std::lock_guard<std::mutex> lock(registryMutex);
  auto it = registry().find(model.get());
  if (it == registry().end()) return Napi::Boolean::New(info.Env(), false);
  it->second->ask();
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void registerSnapshotRequests(const void* model, std::shared_ptr<SnapshotRequests> requests) {
  std::lock_guard<std::mutex> lock(registryMutex);
  registry()[model] = std::move(requests);
}

void unregisterSnapshotRequests(const void* model) {
  std::lock_guard<std::mutex> lock(registryMutex);
  registry().erase(model);
}

void registerSnapshotApi(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "requestFitSnapshot", RequestFitSnapshot); }

}  // namespace skipnorm::train
