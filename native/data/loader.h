// The native loader: batches assembled by a pool of C++ threads, prefetched ahead of the training
// thread. Each epoch's order is a permutation seeded by (seed, epoch) (the same on every rank);
// with worldSize > 1 it is padded to a multiple of worldSize and rank r takes every worldSize-th
// example from r, as torch's DistributedSampler. Threads work example by example through the
// queued batches in order, so the next batch is ready soonest; a batch is handed out once.
// Several callers may wait at once (for the same batch or others); a request drops the queued
// batches before it that nobody waits for.
#pragma once

#include <ATen/ATen.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "data/dataset.h"
#include "data/transforms.h"

namespace skipnorm::data {

struct LoaderOptions {
  int64_t batchSize = 1;
  bool shuffle = true, dropLast = false, channelsLast = false;
  // uint8: batches of the transformed pixels, uint8 [n, H, W, C], for the device to convert and
  // normalise (a quarter of the bytes to copy); pinMemory: in page-locked memory (CUDA present),
  // so that the copy to the GPU runs asynchronously.
  bool uint8 = false, pinMemory = false;
  uint64_t seed = 0;
  int64_t rank = 0, worldSize = 1;
  int threads = 2;
  int64_t prefetch = 2;  // batches queued ahead of the one asked for
};

struct Batch {
  at::Tensor input;   // float32 [n, C, H, W] (channels-last memory when asked), or uint8 [n, H, W, C]
  at::Tensor labels;  // int64 [n]
  int64_t skipped = 0;  // corrupt examples left out of this batch
  // For uint8 batches: what turns them into the float batches, value * scale + shift per channel.
  std::vector<float> scale, shift;
};

class Loader {
 public:
  Loader(std::shared_ptr<Dataset> dataset, Pipeline pipeline, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t examplesPerEpoch() const { return perRank_; }  // this rank's share
  int64_t batchesPerEpoch() const;
  int64_t batchSize() const { return options_.batchSize; }
  const LoaderOptions& options() const { return options_; }
  bool pinned() const { return options_.pinMemory && at::globalContext().hasCUDA(); }
  // Blocks until batch `index` of `epoch` is ready, and queues the next ones. `cancelled` is
  // polled while waiting: when it returns true the wait ends with JobCancelled.
  Batch batch(int64_t epoch, int64_t index, const std::function<bool()>& cancelled = {});
  // The same batch if it is ready now, else nullopt (it stays queued; nothing waits).
  std::optional<Batch> batchIfReady(int64_t epoch, int64_t index);
  int64_t skipped() const { return skipped_; }  // in the batches handed out

 private:
  struct Pending;
  void work();
  void enqueue(int64_t epoch, int64_t index);
  std::vector<int64_t> indices(int64_t epoch, int64_t index);
  std::shared_ptr<Pending> request(int64_t epoch, int64_t index);
  Batch handOut(const std::shared_ptr<Pending>& p);
  void finish(Pending& p);
  uint8_t* slotFor(Pending& p, size_t slot, const ImageView& image, std::string& error);
  at::Tensor batchInput(const std::vector<int64_t>& sizes, at::ScalarType dtype);

  std::shared_ptr<Dataset> dataset_;
  Pipeline pipeline_;
  LoaderOptions options_;
  int64_t perRank_ = 0;
  std::mutex mutex_;
  std::condition_variable workAvailable_, batchDone_;
  std::deque<std::shared_ptr<Pending>> queue_;            // batches with examples left to start
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<Pending>> pending_;  // by (epoch, index)
  int64_t cachedEpoch_ = -1;
  at::Tensor order_;
  bool stopping_ = false;
  std::atomic<int64_t> skipped_{0};
  // Batch inputs made before, reused once nobody else holds them (a fresh one would cost page
  // faults and zeroing by the kernel on every batch).
  std::vector<at::Tensor> spare_;
  std::vector<std::thread> threads_;
};

}  // namespace skipnorm::data
