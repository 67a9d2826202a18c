#include "data/loader.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <chrono>

#include "core/errors.h"
#include "data/order.h"

namespace skipnorm::data {

struct Loader::Pending {
  int64_t epoch = 0, index = 0;
  std::vector<int64_t> ids;
  std::vector<at::Tensor> images;  // float [C, H, W]; undefined where skipped
  size_t next = 0, done = 0;       // guarded by the loader's mutex
  int waiters = 0;                 // callers waiting for it (guarded): it is not dropped meanwhile
  bool ready = false;
  int64_t skipped = 0;
  std::string error;
  Batch result;
};

Loader::Loader(std::shared_ptr<Dataset> dataset, Pipeline pipeline, LoaderOptions options)
    : dataset_(std::move(dataset)), pipeline_(std::move(pipeline)), options_(options) {
  TORCH_CHECK(options_.batchSize > 0, "the batch size must be positive");
  TORCH_CHECK(options_.worldSize >= 1 && options_.rank >= 0 && options_.rank < options_.worldSize, "rank ", options_.rank, " is not in 0..worldSize-1 (worldSize ",
              options_.worldSize, ")");
  TORCH_CHECK(options_.threads >= 1 && options_.threads <= 256, "loader threads must be in 1..256");
  TORCH_CHECK(options_.prefetch >= 0, "prefetch must be non-negative");
  const int64_t n = dataset_->size();
  TORCH_CHECK(n > 0, "the dataset is empty");
  perRank_ = (n + options_.worldSize - 1) / options_.worldSize;
  TORCH_CHECK(batchesPerEpoch() > 0, "the dataset's ", perRank_, " examples (per rank) are fewer than one batch of ", options_.batchSize, " with dropLast");
  for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this] { work(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  workAvailable_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t Loader::batchesPerEpoch() const {
  return options_.dropLast ? perRank_ / options_.batchSize : (perRank_ + options_.batchSize - 1) / options_.batchSize;
}

std::vector<int64_t> Loader::indices(int64_t epoch, int64_t index) {
  const int64_t n = dataset_->size();
  if (options_.shuffle && cachedEpoch_ != epoch) {
    order_ = epochOrder(n, options_.seed, epoch);
    cachedEpoch_ = epoch;
  }
  const int64_t* order = options_.shuffle ? order_.data_ptr<int64_t>() : nullptr;
  std::vector<int64_t> ids;
  const int64_t start = index * options_.batchSize, end = std::min(perRank_, start + options_.batchSize);
  for (int64_t k = start; k < end; ++k) {
    const int64_t position = (k * options_.worldSize + options_.rank) % n;  // padded by wrapping, as DistributedSampler
    ids.push_back(order ? order[position] : position);
  }
  return ids;
}

void Loader::enqueue(int64_t epoch, int64_t index) {
  auto p = std::make_shared<Pending>();
  p->epoch = epoch;
  p->index = index;
  p->ids = indices(epoch, index);
  p->images.resize(p->ids.size());
  pending_[{epoch, index}] = p;
  queue_.push_back(p);
}

Batch Loader::batch(int64_t epoch, int64_t index, const std::function<bool()>& cancelled) {
  TORCH_CHECK(epoch >= 0 && index >= 0 && index < batchesPerEpoch(), "batch ", index, " of epoch ", epoch, " does not exist (", batchesPerEpoch(), " per epoch)");
  std::shared_ptr<Pending> p;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Batches queued for earlier positions that nobody waits for will not be asked for: drop them.
    const std::pair<int64_t, int64_t> key{epoch, index};
    auto unwanted = [&](const std::shared_ptr<Pending>& q) { return std::make_pair(q->epoch, q->index) < key && q->waiters == 0; };
    std::erase_if(pending_, [&](const auto& entry) { return unwanted(entry.second); });
    std::erase_if(queue_, unwanted);
    int64_t e = epoch, i = index;
    for (int64_t k = 0; k <= options_.prefetch; ++k) {
      if (!pending_.count({e, i})) enqueue(e, i);
      if (++i == batchesPerEpoch()) {
        i = 0;
        ++e;
      }
    }
    workAvailable_.notify_all();
    p = pending_.at(key);
    ++p->waiters;
    while (!p->ready) {
      if (cancelled && cancelled()) {
        --p->waiters;
        throw JobCancelled();
      }
      batchDone_.wait_for(lock, std::chrono::milliseconds(20), [&] { return p->ready; });
    }
    --p->waiters;
    // Handed out once; a caller that waited for it alongside gets the same batch.
    auto it = pending_.find(key);
    if (it != pending_.end() && it->second == p) {
      pending_.erase(it);
      skipped_ += p->result.skipped;
    }
  }
  TORCH_CHECK(p->error.empty(), p->error);
  return p->result;
}

void Loader::finish(Pending& p) {
  std::vector<at::Tensor> kept;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < p.ids.size(); ++k) {
    if (!p.images[k].defined()) continue;
    if (!kept.empty() && kept.front().sizes() != p.images[k].sizes()) {
      p.error = "examples of different sizes in one batch (" + dataset_->describe(p.ids[0]) + " gives " + c10::str(kept.front().sizes()) + ", " +
                dataset_->describe(p.ids[k]) + " gives " + c10::str(p.images[k].sizes()) + "): add a resize and centerCrop or randomResizedCrop transform";
      return;
    }
    kept.push_back(p.images[k]);
    labels.push_back(dataset_->label(p.ids[k]));
  }
  if (kept.empty()) {
    p.error = "every example of batch " + std::to_string(p.index) + " of epoch " + std::to_string(p.epoch) + " was corrupt and skipped";
    return;
  }
  p.result.input = at::stack(kept);
  if (options_.channelsLast) p.result.input = p.result.input.contiguous(at::MemoryFormat::ChannelsLast);
  p.result.labels = at::tensor(labels, at::kLong);
  p.result.skipped = p.skipped;
  p.images.clear();
}

void Loader::work() {
  at::set_num_threads(1);  // OpenMP state is per thread: these threads must not fan out further
  while (true) {
    std::shared_ptr<Pending> p;
    size_t slot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      workAvailable_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      p = queue_.front();
      slot = p->next++;
      if (p->next == p->ids.size()) queue_.pop_front();
    }
    const int64_t id = p->ids[slot];
    at::Tensor out;
    std::string error;
    bool skip = false;
    try {
      Rng rng = exampleRng(options_.seed, p->epoch, id);
      const at::Tensor image = pipeline_.applyUint8(*dataset_, id, &rng);
      out = at::empty({image.size(2), image.size(0), image.size(1)}, at::kFloat);
      pipeline_.toFloat(image, out.data_ptr<float>());
    } catch (const CorruptImage& e) {
      if (dataset_->skipCorrupt) skip = true;
      else error = e.what();
    } catch (const c10::Error& e) {
      error = dataset_->describe(id) + ": " + e.what_without_backtrace();
    } catch (const std::exception& e) {
      error = dataset_->describe(id) + ": " + e.what();
    }
    bool last;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      p->images[slot] = out;
      if (!error.empty() && p->error.empty()) p->error = error;
      if (skip) ++p->skipped;
      last = ++p->done == p->ids.size();
    }
    if (!last) continue;
    if (p->error.empty()) {
      try {
        finish(*p);
      } catch (const std::exception& e) {  // e.g. out of memory while stacking: the batch fails, not the process
        p->error = e.what();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      p->ready = true;
    }
    batchDone_.notify_all();
  }
}

}  // namespace skipnorm::data
