// An epoch's running totals and what the end of an epoch reports: the epoch event (means over its
// examples), the same in fit's result, and the totals as checkpoints keep them (so that a resumed
// epoch reports all of its batches).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace skipnorm::train {

// Sums over the epoch's batches so far (examples-weighted loss, correct counts).
struct EpochSums {
  int64_t epoch = 0, batches = 0;
  double loss = 0, top1 = 0, top5 = 0, examples = 0, seconds = 0;
};

// { epoch, batches, loss, top1, top5, examples, seconds } as JSON text (checkpoints keep it).
std::string epochSumsJson(const EpochSums& s);
// The totals from that object as JavaScript read it back (null counts, as JSON keeps NaN, read as NaN).
EpochSums epochSumsFromJs(const Napi::Object& o);

// { type: 'epoch', epoch, step, loss, top1, top5, examples, seconds, examplesPerSecond, lr,
// complete }: `step` the run's step count at the epoch's end, `complete` when every batch of the
// epoch (`perEpoch`) was counted, across a resume too, `lr` the default group's learning rate of
// the epoch's last step.
Napi::Object epochEventToJs(Napi::Env env, const EpochSums& s, int64_t step, int64_t perEpoch, double lr);

}  // namespace skipnorm::train
