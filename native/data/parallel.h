// Work over the examples of a dataset on a few threads (statistics, packing): body(i) for i in
// [0, n), each thread with one intra-op thread of its own; the calling (job) thread reports
// { done, total } progress about ten times a second (work done in pieces reports done + `before`
// of `total`). Stops early when the job is cancelled (then throws the job's cancellation) or when
// a body throws (then rethrows the first exception).
#pragma once

#include <cstdint>
#include <functional>

#include "core/jobs.h"

namespace skipnorm::data {

void parallelFor(int64_t n, int threads, const std::function<void(int64_t)>& body, JobContext& ctx, int64_t before = 0, int64_t total = -1);

}  // namespace skipnorm::data
