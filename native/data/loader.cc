#include "data/loader.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <chrono>
#include <cstring>

#include "core/errors.h"
#include "data/order.h"

namespace skipnorm::data {

struct Loader::Pending {
  int64_t epoch = 0, index = 0;
  std::vector<int64_t> ids;
  // The batch's input, made by the first example stored, in its shape; each example is written
  // straight into its slot, in the batch's final layout.
  at::Tensor input;
  uint8_t* slots = nullptr;
  int64_t slotBytes = 0, firstId = -1;
  std::vector<int64_t> shape;  // [C, H, W] of the first example stored
  std::vector<char> stored;    // per slot: written (not skipped)
  size_t next = 0, done = 0;   // guarded by the loader's mutex
  int waiters = 0;             // callers waiting for it (guarded): it is not dropped meanwhile
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
  p->stored.assign(p->ids.size(), 0);
  pending_[{epoch, index}] = p;
  queue_.push_back(p);
}

// Under the lock: drops the batches queued before `key` that nobody waits for (they will not be
// asked for), queues `key` and the `prefetch` after it, and returns `key`'s.
std::shared_ptr<Loader::Pending> Loader::request(int64_t epoch, int64_t index) {
  TORCH_CHECK(epoch >= 0 && index >= 0 && index < batchesPerEpoch(), "batch ", index, " of epoch ", epoch, " does not exist (", batchesPerEpoch(), " per epoch)");
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
  return pending_.at(key);
}

// Under the lock: the ready batch `p` is handed out once (a caller that waited for it alongside
// gets the same batch).
Batch Loader::handOut(const std::shared_ptr<Pending>& p) {
  auto it = pending_.find({p->epoch, p->index});
  if (it != pending_.end() && it->second == p) {
    pending_.erase(it);
    skipped_ += p->result.skipped;
  }
  TORCH_CHECK(p->error.empty(), p->error);
  return p->result;
}

Batch Loader::batch(int64_t epoch, int64_t index, const std::function<bool()>& cancelled) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::shared_ptr<Pending> p = request(epoch, index);
  ++p->waiters;
  while (!p->ready) {
    if (cancelled && cancelled()) {
      --p->waiters;
      throw JobCancelled();
    }
    batchDone_.wait_for(lock, std::chrono::milliseconds(20), [&] { return p->ready; });
  }
  --p->waiters;
  return handOut(p);
}

std::optional<Batch> Loader::batchIfReady(int64_t epoch, int64_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::shared_ptr<Pending> p = request(epoch, index);
  if (!p->ready) return std::nullopt;
  return handOut(p);
}

void Loader::finish(Pending& p) {
  // Skipped examples leave holes: the kept ones move down, in order.
  std::vector<int64_t> labels;
  int64_t kept = 0;
  for (size_t k = 0; k < p.ids.size(); ++k) {
    if (!p.stored[k]) continue;
    if (kept != static_cast<int64_t>(k)) std::memmove(p.slots + kept * p.slotBytes, p.slots + k * p.slotBytes, p.slotBytes);
    labels.push_back(dataset_->label(p.ids[k]));
    ++kept;
  }
  if (kept == 0) {
    p.error = "every example of batch " + std::to_string(p.index) + " of epoch " + std::to_string(p.epoch) + " was corrupt and skipped";
    return;
  }
  p.result.input = kept == static_cast<int64_t>(p.ids.size()) ? p.input : p.input.narrow(0, 0, kept);
  p.result.labels = at::tensor(labels, at::kLong);
  p.result.skipped = p.skipped;
  if (options_.uint8) {
    const RowScale s = pipeline_.rowScale(p.shape[0]);
    p.result.scale.assign(s.scale, s.scale + p.shape[0]);
    p.result.shift.assign(s.shift, s.shift + p.shape[0]);
  }
}

// The slot of example `slot` in the batch's input, which the first example stored makes in its
// shape (under the loader's lock); null with an error when the shape differs.
uint8_t* Loader::slotFor(Pending& p, size_t slot, const ImageView& image, std::string& error) {
  const std::vector<int64_t> shape{image.channels, image.height, image.width};
  std::lock_guard<std::mutex> lock(mutex_);
  if (!p.input.defined()) {
    const int64_t n = static_cast<int64_t>(p.ids.size());
    p.input = options_.uint8 ? batchInput({n, shape[1], shape[2], shape[0]}, at::kByte) : batchInput({n, shape[0], shape[1], shape[2]}, at::kFloat);
    p.slots = static_cast<uint8_t*>(p.input.data_ptr());
    p.slotBytes = shape[0] * shape[1] * shape[2] * static_cast<int64_t>(p.input.element_size());
    p.shape = shape;
    p.firstId = p.ids[slot];
  } else if (p.shape != shape) {
    error = "examples of different sizes in one batch (" + dataset_->describe(p.firstId) + " gives " + c10::str(at::IntArrayRef(p.shape)) + ", " +
            dataset_->describe(p.ids[slot]) + " gives " + c10::str(at::IntArrayRef(shape)) + "): add a resize and centerCrop or randomResizedCrop transform";
    return nullptr;
  }
  return p.slots + static_cast<int64_t>(slot) * p.slotBytes;
}

// Under the loader's lock. Pinned batches come from LibTorch's caching host allocator, which
// knows when a copy from one has finished; others are reused here once nothing holds them.
at::Tensor Loader::batchInput(const std::vector<int64_t>& sizes, at::ScalarType dtype) {
  if (pinned()) return at::empty(sizes, at::TensorOptions().dtype(dtype).pinned_memory(true));
  const auto format = options_.channelsLast && dtype == at::kFloat ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto it = spare_.begin(); it != spare_.end(); ++it) {
    // Only the pool refers to it: no batch handed out, no view of one, is alive.
    if (it->use_count() == 1 && it->storage().use_count() == 1 && it->sizes() == at::IntArrayRef(sizes) && it->scalar_type() == dtype && it->is_contiguous(format)) {
      at::Tensor t = *it;
      spare_.erase(it);
      return t;
    }
  }
  return at::empty(sizes, at::TensorOptions().dtype(dtype).memory_format(format));
}

void Loader::work() {
  at::set_num_threads(1);  // OpenMP state is per thread: these threads must not fan out further
  Scratch scratch;         // this thread's buffers, reused from example to example
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
    std::string error;
    bool skip = false, stored = false;
    try {
      Rng rng = exampleRng(options_.seed, p->epoch, id);
      const Example example = pipeline_.run(*dataset_, id, &rng, scratch);
      if (uint8_t* out = slotFor(*p, slot, example.view, error)) {
        if (options_.uint8) pipeline_.storeBytes(example, out);
        else pipeline_.store(example, reinterpret_cast<float*>(out), options_.channelsLast);
        stored = true;
      }
    } catch (const CorruptImage& e) {
      if (dataset_->skipCorrupt) skip = true;
      else error = e.what();
    } catch (const c10::Error& e) {
      error = dataset_->describe(id) + ": " + e.what_without_backtrace();
    } catch (const std::exception& e) {
      error = dataset_->describe(id) + ": " + e.what();
    }
    scratch.trim();
    bool last;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      p->stored[slot] = stored;
      if (!error.empty() && p->error.empty()) p->error = error;
      if (skip) ++p->skipped;
      last = ++p->done == p->ids.size();
    }
    if (!last) continue;
    if (p->error.empty()) {
      try {
        finish(*p);
      } catch (const std::exception& e) {  // e.g. out of memory: the batch fails, not the process
        p->error = e.what();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      p->ready = true;
      if (p->input.defined() && !pinned()) {
        spare_.push_back(std::move(p->input));
        if (static_cast<int64_t>(spare_.size()) > options_.prefetch + 4) spare_.erase(spare_.begin());
      }
      p->input = at::Tensor();
    }
    batchDone_.notify_all();
  }
}

}  // namespace skipnorm::data
