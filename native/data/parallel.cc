#include "data/parallel.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace skipnorm::data {

void parallelFor(int64_t n, int threads, const std::function<void(int64_t)>& body, JobContext& ctx) {
  auto progress = [&](int64_t done) { ctx.progress({{"done", static_cast<double>(done)}, {"total", static_cast<double>(n)}}); };
  auto cancelled = [&] { return ctx.cancelled(); };
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mutex;
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
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  while (done < n && !failed && !cancelled()) {
    progress(done);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  ctx.checkCancelled();
  progress(n);
}

}  // namespace skipnorm::data
