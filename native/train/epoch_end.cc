#include "train/epoch_end.h"

#include <cmath>

#include "core/json.h"
#include "core/options.h"

namespace skipnorm::train {

std::string epochSumsJson(const EpochSums& s) {
  std::string out = "{\"epoch\":";
  json::appendInt(out, s.epoch);
  out += ",\"batches\":";
  json::appendInt(out, s.batches);
  const std::pair<const char*, double> numbers[] = {{"loss", s.loss}, {"top1", s.top1}, {"top5", s.top5}, {"examples", s.examples}, {"seconds", s.seconds}};
  for (const auto& [key, value] : numbers) {
    out += ",\"";
    out += key;
    out += "\":";
    json::appendNumber(out, value);
  }
  return out + "}";
}

EpochSums epochSumsFromJs(const Napi::Object& o) {
  return EpochSums{intOption(o, "epoch"), intOption(o, "batches"), numberOption(o, "loss", NAN), numberOption(o, "top1", NAN),
                   numberOption(o, "top5", NAN), numberOption(o, "examples", 0), numberOption(o, "seconds", 0)};
}

Napi::Object epochEventToJs(Napi::Env env, const EpochSums& s, int64_t step, int64_t perEpoch, double lr) {
  Napi::Object e = Napi::Object::New(env);
  e.Set("type", "epoch");
  e.Set("epoch", Napi::Number::New(env, static_cast<double>(s.epoch)));
  e.Set("step", Napi::Number::New(env, static_cast<double>(step)));
  e.Set("loss", Napi::Number::New(env, s.loss / s.examples));
  e.Set("top1", Napi::Number::New(env, s.top1 / s.examples));
  e.Set("top5", Napi::Number::New(env, s.top5 / s.examples));
  e.Set("examples", Napi::Number::New(env, s.examples));
  e.Set("seconds", Napi::Number::New(env, s.seconds));
  e.Set("examplesPerSecond", Napi::Number::New(env, s.examples / s.seconds));
  e.Set("lr", Napi::Number::New(env, lr));
  e.Set("complete", Napi::Boolean::New(env, s.batches == perEpoch));
  return e;
}

}  // namespace skipnorm::train
