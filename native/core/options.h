// Reading fields of JavaScript option objects ({ lr, momentum, ... }): one set of readers for
// every entry point that takes one. A missing field (undefined or null, as isMissing treats
// positional arguments) gives the fallback; a field of the wrong type is a TypeError naming it.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

namespace skipnorm {

double numberOption(const Napi::Object& o, const char* key, double fallback);
// Without a fallback the field is required.
int64_t intOption(const Napi::Object& o, const char* key, std::optional<int64_t> fallback = std::nullopt);
bool boolOption(const Napi::Object& o, const char* key, bool fallback);
std::string stringOption(const Napi::Object& o, const char* key, const std::string& fallback);
std::vector<int64_t> intListOption(const Napi::Object& o, const char* key, std::vector<int64_t> fallback);
at::Tensor tensorOption(const Napi::Object& o, const char* key);

}  // namespace skipnorm
