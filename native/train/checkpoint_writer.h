// Checkpoints written by the training job itself, on a writer thread, so that training goes on
// while a file is written and JavaScript's event loop never writes one. A snapshot is copied to
// host memory on the training thread (no copy of the model piles up on a GPU), then handed to the
// writer; the training thread makes a snapshot only when none waits (waitForRoom), so at most two
// exist, one being written and one waiting, and a slow disk slows training instead of filling
// memory. Files are `checkpoint-<step>.safetensors`, written
// atomically (the format of src/train/checkpoint.ts); only the newest `keep` are kept.
#pragma once

#include <ATen/ATen.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/safetensors.h"
#include "train/epoch_end.h"

namespace skipnorm::train {

struct CheckpointOptions {
  std::string dir;
  int64_t every = 0;  // 0: no checkpoints
  int64_t keep = 3;
  std::string run;  // the run's settings as JSON, recorded in every file
};

class CheckpointWriter {
 public:
  struct Written {
    int64_t step;
    std::string file;
  };

  explicit CheckpointWriter(CheckpointOptions options);
  // Finishes the file being written and the snapshot that waits (a run stopped by an abort keeps
  // its last snapshot), unless a write failed.
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Waits until no snapshot waits, polling `cancelled`: false when it was cancelled. Rethrows a
  // failed write.
  bool waitForRoom(const std::function<bool()>& cancelled);
  // Queues a snapshot in host memory (after waitForRoom).
  void save(int64_t step, int64_t epoch, const EpochSums& sums, io::NamedTensors tensors);
  // The files written since the last call. Rethrows a failed write.
  std::vector<Written> takeWritten();
  // Waits until every queued snapshot is written. Rethrows a failed write.
  void finish();

 private:
  struct Snapshot {
    int64_t step, epoch;
    EpochSums sums;
    io::NamedTensors tensors;
  };
  void loop();
  void write(Snapshot& s);
  void rethrow();  // with the lock held

  CheckpointOptions options_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Snapshot> waiting_;
  bool writing_ = false, stopping_ = false;
  std::vector<Written> written_;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace skipnorm::train
