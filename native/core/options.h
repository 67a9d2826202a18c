// Reading fields of JavaScript option objects ({ lr, momentum, ... }): one set of readers for
// every entry point that takes one. A missing field (undefined or null, as isMissing treats
// positional arguments) gives the fallback; a field of the wrong type is a TypeError naming it.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace skipnorm {

double numberOption(const Napi::Object& o, const char* key, double fallback);
// Without a fallback the field is required.
int64_t intOption(const Napi::Object& o, const char* key, std::optional<int64_t> fallback = std::nullopt);
bool boolOption(const Napi::Object& o, const char* key, bool fallback);
std::string stringOption(const Napi::Object& o, const char* key, const std::string& fallback);
std::vector<int64_t> intListOption(const Napi::Object& o, const char* key, std::vector<int64_t> fallback);
at::Tensor tensorOption(const Napi::Object& o, const char* key);

[[noreturn]] void throwUnknownChoice(const Napi::Object& o, const char* key, const std::string& value, const std::vector<std::string>& names);

// A string field read once into an enum: a value outside `choices` is a TypeError listing them
// (never a silent fallback), so hot paths compare enums, not strings.
template <typename E>
E enumOption(const Napi::Object& o, const char* key, std::initializer_list<std::pair<const char*, E>> choices, E fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  const std::string value = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  std::vector<std::string> names;
  for (const auto& [name, e] : choices) {
    if (v.IsString() && value == name) return e;
    names.emplace_back(name);
  }
  throwUnknownChoice(o, key, v.IsString() ? "'" + value + "'" : "not a string", names);
}

}  // namespace skipnorm
