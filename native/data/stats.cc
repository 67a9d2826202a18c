#include "data/stats.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <mutex>

#include "data/parallel.h"

namespace skipnorm::data {

DatasetStats computeStats(const Dataset& dataset, int threads, JobContext& ctx) {
  DatasetStats out;
  out.perClass.assign(dataset.classes, 0);
  std::vector<double> sum, squares;
  int64_t pixels = 0, channels = -1;
  std::mutex mutex;
  parallelFor(
      dataset.size(), threads,
      [&](int64_t i) {
        at::Tensor image;
        try {
          image = dataset.image(i, nullptr).contiguous();
        } catch (const CorruptImage&) {
          if (!dataset.skipCorrupt) throw;
          std::lock_guard<std::mutex> lock(mutex);
          ++out.skipped;
          return;
        }
        // Exact integer sums per image, then double.
        const int64_t c = image.size(2), m = image.size(0) * image.size(1);
        const uint8_t* p = image.data_ptr<uint8_t>();
        std::vector<uint64_t> s(c, 0), q(c, 0);
        for (int64_t k = 0; k < m; ++k) {
          for (int64_t ch = 0; ch < c; ++ch) {
            const uint64_t v = p[k * c + ch];
            s[ch] += v;
            q[ch] += v * v;
          }
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (channels < 0) {
          channels = c;
          sum.assign(c, 0);
          squares.assign(c, 0);
        }
        TORCH_CHECK(c == channels, dataset.describe(i), " has ", c, " channels, others ", channels);
        for (int64_t ch = 0; ch < c; ++ch) {
          sum[ch] += static_cast<double>(s[ch]);
          squares[ch] += static_cast<double>(q[ch]);
        }
        pixels += m;
        ++out.perClass[dataset.label(i)];
        ++out.count;
      },
      ctx);
  for (int64_t ch = 0; ch < std::max<int64_t>(channels, 0); ++ch) {
    const double mean = sum[ch] / pixels / 255.0;
    const double meanSquare = squares[ch] / pixels / (255.0 * 255.0);
    out.mean.push_back(mean);
    out.std.push_back(std::sqrt(std::max(0.0, meanSquare - mean * mean)));
  }
  return out;
}

}  // namespace skipnorm::data
