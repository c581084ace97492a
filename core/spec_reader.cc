#include "core/spec_reader.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"

namespace hypersweep {

std::string JoinPath(const std::string& parent, const std::string& key) {
  if (parent.empty()) return key;
  if (!key.empty() && key[0] == '[') return parent + key;
  return absl::StrCat(parent, ".", key);
}

absl::Status FieldError(const std::string& path, const YAML::Node& node,
                        const std::string& message) {
  std::string where = path.empty() ? std::string("spec") : path;
  if (node.IsDefined() && node.Mark().line >= 0) {
    absl::StrAppend(&where, " (line ", node.Mark().line + 1, ")");
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", message));
}

namespace {
// Returns the byte offset of the first byte that does not start a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or npos if there is none.
size_t FirstInvalidUtf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::string::npos;
}
}  // namespace

absl::Status CheckUtf8(const std::string& text, const std::string& what) {
  const size_t bad = FirstInvalidUtf8(text);
  if (bad == std::string::npos) return absl::OkStatus();
  size_t line = 1, column = 1;
  for (size_t i = 0; i < bad; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned char>(text[bad]));
  return absl::InvalidArgumentError(absl::StrCat(what, " (line ", line, ", column ", column,
                                                 "): not valid UTF-8 (byte ", hex, ")"));
}

absl::StatusOr<YAML::Node> LoadYaml(const std::string& text, const std::string& what) {
  RETURN_IF_ERROR(CheckUtf8(text, what));
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " (line ", e.mark.line + 1, "): not valid YAML/JSON: ", e.msg));
  }
}

absl::StatusOr<double> ReadDouble(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return FieldError(path, node, "expected a number");
  const std::string s = absl::AsciiStrToLower(node.Scalar());
  double v;
  if (s == ".inf" || s == "inf" || s == "+.inf") {
    v = std::numeric_limits<double>::infinity();
  } else if (s == "-.inf" || s == "-inf") {
    v = -std::numeric_limits<double>::infinity();
  } else if (s == ".nan" || s == "nan") {
    v = std::nan("");
  } else if (!absl::SimpleAtod(s, &v)) {
    return FieldError(path, node, absl::StrCat("expected a number, got '", node.Scalar(), "'"));
  }
  if (!std::isfinite(v)) return FieldError(path, node, "must be a finite number");
  return v;
}

absl::StatusOr<int64_t> ReadInt(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return FieldError(path, node, "expected an integer");
  int64_t v;
  if (absl::SimpleAtoi(node.Scalar(), &v)) return v;
  double d;
  if (absl::SimpleAtod(node.Scalar(), &d) && std::isfinite(d) && d == std::floor(d) &&
      std::fabs(d) < 9e15) {
    return static_cast<int64_t>(d);  // 1e3
  }
  return FieldError(path, node, absl::StrCat("expected an integer, got '", node.Scalar(), "'"));
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) {
    const std::string s = absl::AsciiStrToLower(node.Scalar());
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  return FieldError(path, node, "expected true or false");
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return FieldError(path, node, "expected a string");
  // Escapes in quoted scalars can produce bytes the raw-text check did not see.
  if (!CheckUtf8(node.Scalar(), "").ok()) return FieldError(path, node, "not valid UTF-8");
  return node.Scalar();
}

absl::StatusOr<std::pair<std::string, YAML::Node>> ReadOneOf(
    const YAML::Node& node, const std::string& path, const std::vector<std::string>& allowed,
    const std::string& what) {
  std::string key;
  YAML::Node value;
  if (node.IsScalar()) {
    key = node.Scalar();
  } else if (node.IsMap() && node.size() == 1) {
    auto it = node.begin();
    key = it->first.Scalar();
    value = it->second;
  } else {
    return FieldError(path, node,
                      absl::StrCat("expected one ", what,
                                   " as {name: {...}}, one of: ", absl::StrJoin(allowed, ", ")));
  }
  for (const auto& a : allowed) {
    if (a == key) return std::make_pair(key, value);
  }
  return FieldError(JoinPath(path, key), node,
                    absl::StrCat("unknown ", what, " '", key,
                                 "'; expected one of: ", absl::StrJoin(allowed, ", ")));
}

MapReader::MapReader(const YAML::Node& node, std::string path)
    : node_(node), path_(std::move(path)) {
  if (node_.IsNull() || !node_.IsDefined()) {
    node_ = YAML::Node(YAML::NodeType::Map);  // {} and a missing body mean "all defaults"
  } else if (!node_.IsMap()) {
    status_ = FieldError(path_, node_, "expected a map of fields");
  }
}

bool MapReader::Has(const std::string& key) const { return status_.ok() && node_[key].IsDefined(); }

YAML::Node MapReader::Child(const std::string& key) {
  used_.insert(key);
  if (!status_.ok()) return YAML::Node();
  const YAML::Node& n = node_;
  return n[key];
}

void MapReader::Fail(const std::string& key, const std::string& message) {
  if (!status_.ok()) return;
  const YAML::Node& n = node_;
  YAML::Node at = key.empty() ? node_ : n[key];
  status_ = FieldError(key.empty() ? path_ : PathOf(key), at.IsDefined() ? at : node_, message);
}

void MapReader::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
}

template <typename T, typename F>
void MapReader::Read(const std::string& key, T* out, F convert) {
  YAML::Node n = Child(key);
  if (!status_.ok() || !n.IsDefined() || n.IsNull()) return;
  auto v = convert(n, PathOf(key));
  if (!v.ok()) {
    status_ = v.status();
    return;
  }
  *out = *std::move(v);
}

void MapReader::Double(const std::string& key, double* out) { Read(key, out, ReadDouble); }
void MapReader::Int(const std::string& key, int64_t* out) { Read(key, out, ReadInt); }
void MapReader::Bool(const std::string& key, bool* out) { Read(key, out, ReadBool); }
void MapReader::String(const std::string& key, std::string* out) { Read(key, out, ReadString); }

namespace {
template <typename T, typename F>
absl::StatusOr<std::vector<T>> ReadList(const YAML::Node& n, const std::string& path, F one) {
  if (!n.IsSequence()) return FieldError(path, n, "expected a list");
  std::vector<T> out;
  for (size_t i = 0; i < n.size(); ++i) {
    auto v = one(n[i], absl::StrCat(path, "[", i, "]"));
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
  return out;
}
}  // namespace

void MapReader::DoubleList(const std::string& key, std::vector<double>* out) {
  Read(key, out, [](const YAML::Node& n, const std::string& p) {
    return ReadList<double>(n, p, ReadDouble);
  });
}
void MapReader::IntList(const std::string& key, std::vector<int64_t>* out) {
  Read(key, out,
       [](const YAML::Node& n, const std::string& p) { return ReadList<int64_t>(n, p, ReadInt); });
}
void MapReader::StringList(const std::string& key, std::vector<std::string>* out) {
  Read(key, out, [](const YAML::Node& n, const std::string& p) {
    return ReadList<std::string>(n, p, ReadString);
  });
}

void MapReader::DoubleOrAuto(const std::string& key, double* out, bool* is_auto) {
  YAML::Node n = Child(key);
  if (!status_.ok() || !n.IsDefined() || n.IsNull()) return;
  if (n.IsScalar() && n.Scalar() == "auto") {
    *is_auto = true;
    *out = std::nan("");
    return;
  }
  *is_auto = false;
  auto v = ReadDouble(n, PathOf(key));
  if (!v.ok()) {
    status_ = v.status();
    return;
  }
  *out = *v;
}

absl::Status MapReader::Finish() {
  if (!status_.ok()) return status_;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (used_.count(key) == 0) {
      return FieldError(PathOf(key), it->first, absl::StrCat("unknown field '", key, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace hypersweep
