// `skipnorm data stats`: counts per class and per-channel mean and standard deviation of pixel
// values scaled to [0, 1] (population std over every pixel), decoded in parallel threads.
#pragma once

#include <functional>
#include <vector>

#include "core/jobs.h"
#include "data/dataset.h"

namespace skipnorm::data {

struct DatasetStats {
  int64_t count = 0, skipped = 0;
  std::vector<int64_t> perClass;
  std::vector<double> mean, std;
};

DatasetStats computeStats(const Dataset& dataset, int threads, JobContext& ctx);

}  // namespace skipnorm::data
