// Writing JSON text (the files jobs write themselves: safetensors headers, checkpoint metadata,
// JSON-lines tracking) as JavaScript's JSON.stringify writes it: strings escaped, numbers in
// JavaScript's own form, and NaN or infinities as null.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

// As JavaScript's Number to string: the shortest digits that read back the same double, laid out
// in fixed notation for exponents from -7 to 20 and as d.ddde+X otherwise; -0 as 0.
inline void appendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (v == 0) {
    out += '0';
    return;
  }
  char text[40];
  const auto end = std::to_chars(text, text + sizeof text, v, std::chars_format::scientific).ptr;
  const std::string s(text, end);  // [-]d[.ddd]e[+-]xx
  const size_t e = s.find('e');
  std::string digits;
  for (size_t i = s[0] == '-' ? 1 : 0; i < e; ++i) {
    if (s[i] != '.') digits += s[i];
  }
  const int k = static_cast<int>(digits.size());
  const int n = std::stoi(s.substr(e + 1)) + 1;  // the decimal point's position after the first digit
  if (s[0] == '-') out += '-';
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out += '.';
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += n - 1 >= 0 ? "e+" : "e-";
    out += std::to_string(std::abs(n - 1));
  }
}

inline void appendInt(std::string& out, int64_t v) { out += std::to_string(v); }

}  // namespace skipnorm::json
