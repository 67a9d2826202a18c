// Snapshots of a model's weights asked for while fit trains it. JavaScript may not read the model
// then (a running job holds it), so it asks, and the training thread copies the weights between
// two steps, where they are consistent, and posts the copies as an event.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

namespace skipnorm::train {

class SnapshotRequests {
 public:
  void ask() { pending_.fetch_add(1); }
  // The requests since the last call (the training thread serves each with its own copy).
  int take() { return pending_.exchange(0); }

 private:
  std::atomic<int> pending_{0};
};

// While fit trains the model, requests for it reach that run (JavaScript thread only).
void registerSnapshotRequests(const void* model, std::shared_ptr<SnapshotRequests> requests);
void unregisterSnapshotRequests(const void* model);

// requestFitSnapshot(modelHandle) -> true when a running fit will serve the request.
void registerSnapshotApi(Napi::Env env, Napi::Object exports);

}  // namespace skipnorm::train
