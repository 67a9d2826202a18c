#include "data/parallel.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace skipnorm::data {

void parallelFor(int64_t n, int threads, const std::function<void(int64_t)>& body, JobContext& ctx, int64_t before, int64_t total) {
  if (total < 0) total = n;
  auto progress = [&](int64_t done) { ctx.progress({{"done", static_cast<double>(before + done)}, {"total", static_cast<double>(total)}}); };
  auto cancelled = [&] { return ctx.cancelled(); };
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mutex;
  std::condition_variable finished;
  int running = std::max(1, threads);
  auto worker = [&] {
    at::set_num_threads(1);  // OpenMP state is per thread: these threads must not fan out further
    for (int64_t i; !failed && !cancelled() && (i = next++) < n; ++done) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (--running == 0) finished.notify_all();
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  {
    // Woken when the last worker ends, or every 100 ms to report progress.
    std::unique_lock<std::mutex> lock(mutex);
    while (running > 0) {
      lock.unlock();
      progress(done);
      lock.lock();
      finished.wait_for(lock, std::chrono::milliseconds(100), [&] { return running == 0; });
    }
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  ctx.checkCancelled();
  progress(n);
}

}  // namespace skipnorm::data
