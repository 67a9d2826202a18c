#include "train/schedule_api.h"

#include <cmath>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/options.h"

namespace skipnorm {

namespace train {

Schedule scheduleFromJs(const Napi::Object& o, int depth) {
  if (depth > 8) throwTypeError(o.Env(), "schedules nest at most 8 deep (is a schedule part of itself?)");
  Schedule s;
  s.kind = enumOption<ScheduleKind>(o, "kind",
                                    {{"constant", ScheduleKind::Constant},
                                     {"step", ScheduleKind::Step},
                                     {"multistep", ScheduleKind::Multistep},
                                     {"cosine", ScheduleKind::Cosine},
                                     {"warmup", ScheduleKind::Warmup},
                                     {"chain", ScheduleKind::Chain},
                                     {"sequential", ScheduleKind::Sequential}},
                                    ScheduleKind::Constant);
  s.stepSize = intOption(o, "stepSize", 1);
  s.gamma = numberOption(o, "gamma", 0.1);
  s.tMax = intOption(o, "tMax", 1);
  s.minRatio = numberOption(o, "minRatio", 0);
  s.warmupSteps = intOption(o, "steps", 1);
  s.startFactor = numberOption(o, "startFactor", 1.0 / 3);
  Napi::Value milestones = o.Get("milestones");
  if (milestones.IsArray()) {
    Napi::Array a = milestones.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value m = a.Get(i);
      const double d = m.IsNumber() ? m.As<Napi::Number>().DoubleValue() : NAN;
      if (!std::isfinite(d) || d < 0 || std::trunc(d) != d) throwTypeError(o.Env(), "schedule milestones must be non-negative integers");
      s.milestones.push_back(static_cast<int64_t>(d));
    }
  } else if (!milestones.IsUndefined() && !milestones.IsNull()) {
    throwTypeError(o.Env(), "schedule milestones must be an array of non-negative integers");
  }
  Napi::Value parts = o.Get("parts");
  if (parts.IsArray()) {
    Napi::Array a = parts.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsObject()) throwTypeError(o.Env(), "schedule parts must be objects");
      s.parts.push_back(scheduleFromJs(a.Get(i).As<Napi::Object>(), depth + 1));
    }
  } else if (!parts.IsUndefined() && !parts.IsNull()) {
    throwTypeError(o.Env(), "schedule parts must be an array of schedules");
  }
  s.validate();
  return s;
}

}  // namespace train

namespace {

// scheduleFactor(schedule, t) -> the multiplier at t (what fit's loop uses).
Napi::Value ScheduleFactor(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "scheduleFactor: the schedule must be an object { kind, ... }");
  const train::Schedule s = train::scheduleFromJs(info[0].As<Napi::Object>());
  const int64_t t = intArg(info, 1);
  if (t < 0) throwTypeError(info.Env(), "scheduleFactor: t must be a non-negative integer");
  return Napi::Number::New(info.Env(), s.factor(t));
}

}  // namespace

void registerSchedules(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "scheduleFactor", ScheduleFactor); }

}  // namespace skipnorm
