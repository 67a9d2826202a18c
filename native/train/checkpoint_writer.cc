#include "train/checkpoint_writer.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

namespace skipnorm::train {

namespace {

constexpr const char* kFormat = "skipnorm-checkpoint/1";

// The step of `checkpoint-<digits>.safetensors`, or -1.
int64_t checkpointStep(const std::string& name) {
  const std::string prefix = "checkpoint-", suffix = ".safetensors";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return -1;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 15 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoll(digits);
}

}  // namespace

CheckpointWriter::CheckpointWriter(CheckpointOptions options) : options_(std::move(options)), thread_([this] { loop(); }) {}

CheckpointWriter::~CheckpointWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void CheckpointWriter::rethrow() {
  if (error_) std::rethrow_exception(error_);
}

bool CheckpointWriter::waitForRoom(const std::function<bool()>& cancelled) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (waiting_ && !error_) {
    if (cancelled && cancelled()) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
  rethrow();
  return true;
}

void CheckpointWriter::save(int64_t step, int64_t epoch, const EpochSums& sums, io::NamedTensors tensors) {
  std::lock_guard<std::mutex> lock(mutex_);
  TORCH_CHECK(!waiting_, "fit: a checkpoint snapshot was queued while another one waited");
  waiting_ = Snapshot{step, epoch, sums, std::move(tensors)};
  changed_.notify_all();
}

std::vector<CheckpointWriter::Written> CheckpointWriter::takeWritten() {
  std::lock_guard<std::mutex> lock(mutex_);
  rethrow();
  return std::exchange(written_, {});
}

void CheckpointWriter::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return error_ || (!waiting_ && !writing_); });
  rethrow();
}

void CheckpointWriter::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || waiting_; });
    if (!waiting_ || error_) return;  // stopping, with nothing (more) to write
    Snapshot s = std::move(*waiting_);
    waiting_.reset();
    writing_ = true;
    changed_.notify_all();  // room for the next snapshot
    lock.unlock();
    std::exception_ptr error;
    std::string file;
    try {
      write(s);
    } catch (...) {
      error = std::current_exception();
    }
    s.tensors.clear();  // the host copy is freed before the next one is taken
    lock.lock();
    writing_ = false;
    if (error) error_ = error;
    changed_.notify_all();
  }
}

void CheckpointWriter::write(Snapshot& s) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%09lld.safetensors", static_cast<long long>(s.step));
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);  // again, should it have been removed meanwhile
  const std::string file = (std::filesystem::path(options_.dir) / name).string();
  const io::Metadata metadata = {{"format", kFormat},
                                 {"step", std::to_string(s.step)},
                                 {"epoch", std::to_string(s.epoch)},
                                 {"run", options_.run},
                                 {"epoch_sums", epochSumsJson(s.sums)}};
  io::writeSafetensorsFile(file, std::move(s.tensors), metadata, "fit");
  // Only the newest `keep` checkpoints stay (oldest first by step).
  std::vector<std::pair<int64_t, std::filesystem::path>> all;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    const int64_t step = checkpointStep(entry.path().filename().string());
    if (step >= 0) all.emplace_back(step, entry.path());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(options_.keep) < all.size(); ++i) std::filesystem::remove(all[i].second, ec);
  std::lock_guard<std::mutex> lock(mutex_);
  written_.push_back({s.step, file});
}

}  // namespace skipnorm::train
