// Learning-rate schedules from JavaScript objects ({ kind, ... }, src/train/schedule.ts), checked
// completely: an unknown kind or a field of the wrong type is a TypeError.
#pragma once

#include <napi.h>

#include "train/schedule.h"

namespace skipnorm::train {

Schedule scheduleFromJs(const Napi::Object& o, int depth = 0);

}  // namespace skipnorm::train
