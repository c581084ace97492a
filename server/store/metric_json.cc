#include "server/store/metric_json.h"

#include <charconv>
#include <string>
#include <system_error>

#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

std::optional<double> FindMetricSlow(std::string_view json, std::string_view name) {
  auto j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(std::string(name));
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// A key whose JSON text is the key itself: no quote, backslash or control character.
bool PlainKey(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\') return false;
  }
  return true;
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

// Length of the JSON number at the start of `s` (RFC 8259 grammar), 0 if there is none. Sets
// *integer when it has no fraction and no exponent (nlohmann keeps those as integers).
size_t JsonNumberLength(std::string_view s, bool* integer) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (i < s.size() && s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && Digit(s[i])) ++i;
  } else {
    return 0;
  }
  *integer = true;
  if (i < s.size() && s[i] == '.') {
    *integer = false;
    if (++i >= s.size() || !Digit(s[i])) return 0;
    while (i < s.size() && Digit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    *integer = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !Digit(s[i])) return 0;
    while (i < s.size() && Digit(s[i])) ++i;
  }
  return i;
}

}  // namespace

std::optional<double> FindMetric(std::string_view json, std::string_view name) {
  if (!PlainKey(name)) return FindMetricSlow(json, name);
  // Fast path over `{"k":number,...}` exactly as dump() writes it; anything else (whitespace, an
  // escaped key, a value that is not a number) is handed to the full parser.
  const size_t n = json.size();
  if (n < 2 || json[0] != '{') return FindMetricSlow(json, name);
  size_t i = 1;
  std::optional<double> found;
  if (json[i] == '}') return i + 1 == n ? found : FindMetricSlow(json, name);
  for (;;) {
    if (i >= n || json[i] != '"') return FindMetricSlow(json, name);
    const size_t key_begin = ++i;
    while (i < n && json[i] != '"') {
      if (json[i] == '\\' || static_cast<unsigned char>(json[i]) < 0x20) {
        return FindMetricSlow(json, name);
      }
      ++i;
    }
    if (i + 1 >= n || json[i + 1] != ':') return FindMetricSlow(json, name);
    const std::string_view key = json.substr(key_begin, i - key_begin);
    i += 2;
    bool integer = false;
    const size_t len = JsonNumberLength(json.substr(i), &integer);
    if (len == 0 || i + len >= n || (json[i + len] != ',' && json[i + len] != '}')) {
      return FindMetricSlow(json, name);
    }
    if (key == name) {  // the last of duplicate keys wins, as in the parser
      double v = 0;
      auto [end, ec] = std::from_chars(json.data() + i, json.data() + i + len, v);
      if (ec != std::errc() || end != json.data() + i + len) return FindMetricSlow(json, name);
      found = (integer && v == 0) ? 0.0 : v;  // the parser reads "-0" as the integer 0
    }
    i += len;
    if (json[i] == '}') return i + 1 == n ? found : FindMetricSlow(json, name);
    ++i;  // ','
  }
}

}  // namespace hypersweep
