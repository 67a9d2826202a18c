#include "data/stats.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

namespace skipnorm::data {

DatasetStats computeStats(const Dataset& dataset, int threads, const std::function<void(int64_t)>& progress, const std::function<bool()>& cancelled) {
  const int64_t n = dataset.size();
  DatasetStats out;
  out.perClass.assign(dataset.classes, 0);
  std::vector<double> sum, squares;
  int64_t pixels = 0, channels = -1;
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex mutex;
  auto worker = [&] {
    at::set_num_threads(1);
    std::vector<double> s, q;
    std::vector<int64_t> perClass(dataset.classes, 0);
    int64_t px = 0, c = -1, count = 0, skipped = 0;
    for (int64_t i; (i = next++) < n && !failed && !cancelled(); ++done) {
      at::Tensor image;
      try {
        image = dataset.image(i, nullptr).contiguous();
      } catch (const CorruptImage& e) {
        if (dataset.skipCorrupt) {
          ++skipped;
          continue;
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (error.empty()) error = e.what();
        failed = true;
        return;
      }
      if (c < 0) {
        c = image.size(2);
        s.assign(c, 0);
        q.assign(c, 0);
      }
      if (image.size(2) != c) {
        std::lock_guard<std::mutex> lock(mutex);
        if (error.empty()) error = dataset.describe(i) + " has " + std::to_string(image.size(2)) + " channels, others " + std::to_string(c);
        failed = true;
        return;
      }
      // Exact integer sums per image, then double.
      const uint8_t* p = image.data_ptr<uint8_t>();
      const int64_t m = image.size(0) * image.size(1);
      for (int64_t ch = 0; ch < c; ++ch) {
        uint64_t a = 0, b = 0;
        for (int64_t k = 0; k < m; ++k) {
          const uint64_t v = p[k * c + ch];
          a += v;
          b += v * v;
        }
        s[ch] += static_cast<double>(a);
        q[ch] += static_cast<double>(b);
      }
      px += m;
      ++perClass[dataset.label(i)];
      ++count;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (c < 0) {
      out.skipped += skipped;
      return;
    }
    if (channels < 0) {
      channels = c;
      sum.assign(c, 0);
      squares.assign(c, 0);
    }
    if (channels != c) {
      if (error.empty()) error = "images with " + std::to_string(c) + " and " + std::to_string(channels) + " channels in one dataset";
      failed = true;
      return;
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      sum[ch] += s[ch];
      squares[ch] += q[ch];
    }
    pixels += px;
    out.count += count;
    out.skipped += skipped;
    for (size_t k = 0; k < perClass.size(); ++k) out.perClass[k] += perClass[k];
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  while (done < n && !failed && !cancelled()) {
    progress(done);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& t : pool) t.join();
  TORCH_CHECK(!cancelled(), "stats cancelled");
  TORCH_CHECK(error.empty(), error);
  for (int64_t ch = 0; ch < std::max<int64_t>(channels, 0); ++ch) {
    const double mean = sum[ch] / pixels / 255.0;
    const double meanSquare = squares[ch] / pixels / (255.0 * 255.0);
    out.mean.push_back(mean);
    out.std.push_back(std::sqrt(std::max(0.0, meanSquare - mean * mean)));
  }
  progress(n);
  return out;
}

}  // namespace skipnorm::data
