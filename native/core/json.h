// Writing JSON text (the files jobs write themselves: safetensors headers, checkpoint metadata,
// JSON-lines tracking): strings escaped, numbers as the shortest text that reads back the same
// double (as JavaScript's JSON.stringify), and NaN or infinities as null (as it does too).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace skipnorm::json {

inline void appendString(std::string& out, const std::string& s) {
  out += '"';
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c);
      out += escape;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

inline void appendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, v).ptr;
  out.append(text, end);
}

inline void appendInt(std::string& out, int64_t v) { out += std::to_string(v); }

}  // namespace skipnorm::json
