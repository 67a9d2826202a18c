#include "core/options.h"

#include <cmath>

#include "core/addon.h"
#include "core/errors.h"

namespace skipnorm {

namespace {

// The field, or nullopt when it is missing.
std::optional<Napi::Value> field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return v;
}

[[noreturn]] void mustBe(const Napi::Object& o, const char* key, const char* what) {
  throwTypeError(o.Env(), std::string("option '") + key + "' must be " + what);
}

}  // namespace

void throwUnknownChoice(const Napi::Object& o, const char* key, const std::string& value, const std::vector<std::string>& names) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) list += (i == 0 ? "'" : i + 1 == names.size() ? " or '" : ", '") + names[i] + "'";
  throwTypeError(o.Env(), std::string("option '") + key + "' must be " + list + ", got " + value);
}

double numberOption(const Napi::Object& o, const char* key, double fallback) {
  auto v = field(o, key);
  if (!v) return fallback;
  if (!v->IsNumber()) mustBe(o, key, "a number");
  return v->As<Napi::Number>().DoubleValue();
}

int64_t intOption(const Napi::Object& o, const char* key, std::optional<int64_t> fallback) {
  auto v = field(o, key);
  if (!v) {
    if (fallback) return *fallback;
    throwTypeError(o.Env(), std::string("option '") + key + "' is required");
  }
  const double d = v->IsNumber() ? v->As<Napi::Number>().DoubleValue() : NAN;
  if (!v->IsNumber() || std::trunc(d) != d) mustBe(o, key, "an integer");
  return static_cast<int64_t>(d);
}

bool boolOption(const Napi::Object& o, const char* key, bool fallback) {
  auto v = field(o, key);
  if (!v) return fallback;
  if (!v->IsBoolean()) mustBe(o, key, "a boolean");
  return v->As<Napi::Boolean>().Value();
}

std::string stringOption(const Napi::Object& o, const char* key, const std::string& fallback) {
  auto v = field(o, key);
  if (!v) return fallback;
  if (!v->IsString()) mustBe(o, key, "a string");
  return v->As<Napi::String>().Utf8Value();
}

std::vector<int64_t> intListOption(const Napi::Object& o, const char* key, std::vector<int64_t> fallback) {
  auto v = field(o, key);
  if (!v) return fallback;
  if (!v->IsArray()) mustBe(o, key, "an array of integers");
  Napi::Array a = v->As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) mustBe(o, key, "an array of integers");
    out.push_back(static_cast<int64_t>(e.As<Napi::Number>().DoubleValue()));
  }
  return out;
}

at::Tensor tensorOption(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) mustBe(o, key, "a tensor");
  at::Tensor* t = addonOf(o.Env()).tensors.find(v.As<Napi::Number>().DoubleValue());
  if (t == nullptr) throw makeTorchError(o.Env(), opName(), std::string("the tensor '") + key + "' was disposed");
  return *t;
}

}  // namespace skipnorm
