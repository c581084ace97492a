// dataset: {csv: ...} (data.h): reads the training file, and the test file when the spec names
// one, into Tables. The header row picks the label, weight and feature columns (drop, where);
// each row is checked and parsed, and missing values are marked. Internal to worker/trainer.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "worker/trainer/data_internal.h"

namespace hypersweep {
namespace data_internal {
namespace {

constexpr float kMaxClasses = 100'000;  // a larger label is no class index (tables per class)

std::vector<std::string_view> SplitCsvLine(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    std::string_view f = line.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!f.empty() && (f.back() == '\r' || f.back() == ' ')) f.remove_suffix(1);
    while (!f.empty() && f.front() == ' ') f.remove_prefix(1);
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
    out.push_back(f);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool ParseFloat(std::string_view s, float* out) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

struct CsvLayout {
  std::vector<std::pair<size_t, std::string>> where;  // (column, required value)
  std::vector<size_t> feature_cols;
  std::vector<std::string> feature_names;
  size_t label_col = 0;
  int64_t weight_col = -1;
  size_t n_cols = 0;
};

// Messages name the spec's field (`path` here is the field's name) and column and row numbers,
// never the file's content: a spec's author may not have been allowed to read the file.
absl::StatusOr<CsvLayout> ReadHeader(std::string_view header, const CsvOptions& o,
                                     const std::string& path) {
  auto cols = SplitCsvLine(header);
  CsvLayout layout;
  layout.n_cols = cols.size();
  auto find = [&](const std::string& name) -> int64_t {
    for (size_t i = 0; i < cols.size(); ++i) {
      if (cols[i] == name) return static_cast<int64_t>(i);
    }
    return -1;
  };
  const int64_t label = find(o.label);
  if (label < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": label column '", o.label, "' (dataset.csv.label) not in the header"));
  }
  layout.label_col = static_cast<size_t>(label);
  if (!o.weight.empty()) {
    layout.weight_col = find(o.weight);
    if (layout.weight_col < 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": weight column '", o.weight,
                                                     "' (dataset.csv.weight) not in the header"));
    }
  }
  for (const auto& d : o.drop) {
    if (find(d) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": dropped column '", d, "' (dataset.csv.drop) not in the header"));
    }
  }
  for (const auto& [column, value] : o.where) {
    const int64_t c = find(column);
    if (c < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": column '", column, "' (dataset.csv.where) not in the header"));
    }
    layout.where.emplace_back(static_cast<size_t>(c), value);
  }
  for (size_t i = 0; i < cols.size(); ++i) {
    const std::string name(cols[i]);
    if (i == layout.label_col || static_cast<int64_t>(i) == layout.weight_col) continue;
    if (std::find(o.drop.begin(), o.drop.end(), name) != o.drop.end()) continue;
    if (o.where.count(name) > 0) continue;
    layout.feature_cols.push_back(i);
    layout.feature_names.push_back(name);
  }
  if (layout.feature_cols.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no feature columns left"));
  }
  return layout;
}

absl::StatusOr<Table> ReadCsv(const std::string& file, const std::string& path, const CsvOptions& o,
                              const DataLoadOptions& opts, CsvLayout* layout_out,
                              int64_t* max_class) {
  ASSIGN_OR_RETURN(std::string text, ReadMaybeGzip(file, path, opts));
  std::string_view rest(text);
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos && rest.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty CSV file"));
  }
  ASSIGN_OR_RETURN(CsvLayout layout, ReadHeader(rest.substr(0, nl), o, path));
  if (layout_out->n_cols != 0 && layout_out->feature_names != layout.feature_names) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": columns differ from the training file"));
  }
  *layout_out = layout;
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  const size_t nf = layout.feature_cols.size();
  if (static_cast<int64_t>(nf) > opts.limits.max_features) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", nf, " feature columns exceed the worker's limit of ",
                     opts.limits.max_features, " (--max-data-features)"));
  }
  std::vector<float> x, w;
  std::vector<int64_t> y;
  std::vector<uint8_t> missing;
  int64_t line_no = 1;
  while (!rest.empty()) {
    nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (line_no % 4096 == 0 && ShouldStop(opts)) return Stopped();
    if (line.empty() || line == "\r") continue;
    auto f = SplitCsvLine(line);
    if (f.size() != layout.n_cols) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, " has ", f.size(),
                                                     " fields, the header ", layout.n_cols));
    }
    bool keep = true;
    for (const auto& [col, value] : layout.where) keep = keep && f[col] == value;
    if (!keep) continue;
    if (static_cast<int64_t>(y.size()) >= opts.limits.max_rows) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": more than ", opts.limits.max_rows, " rows (--max-data-rows)"));
    }
    for (size_t j = 0; j < nf; ++j) {
      float v;
      std::string_view s = f[layout.feature_cols[j]];
      if (!ParseFloat(s, &v)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": column ",
                                                       layout.feature_cols[j] + 1, " of line ",
                                                       line_no, " is not a number"));
      }
      const bool miss = o.has_missing && v == static_cast<float>(o.missing);
      missing.push_back(miss ? 1 : 0);
      x.push_back(miss ? 0.0f : v);
    }
    std::string_view label = f[layout.label_col];
    if (!o.positive.empty()) {
      y.push_back(label == o.positive ? 1 : 0);
    } else {
      float v;
      if (!ParseFloat(label, &v) || v < 0 || v != std::floor(v) || v >= kMaxClasses) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": the label (column ", layout.label_col + 1, ") of line ", line_no,
            " is not a class index 0..C-1 (set dataset.csv.positive for string labels)"));
      }
      y.push_back(static_cast<int64_t>(v));
    }
    *max_class = std::max(*max_class, y.back());
    if (layout.weight_col >= 0) {
      float v;
      if (!ParseFloat(f[static_cast<size_t>(layout.weight_col)], &v) || !(v >= 0)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": the weight (column ",
                                                       layout.weight_col + 1, ") of line ", line_no,
                                                       " is not a number >= 0"));
      }
      w.push_back(v);
    }
  }
  const int64_t n = static_cast<int64_t>(y.size());
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows"));
  Table t;
  t.x = torch::from_blob(x.data(), {n, static_cast<int64_t>(nf)}, torch::kFloat32).clone();
  t.y = torch::from_blob(y.data(), {n}, torch::kInt64).clone();
  if (!w.empty()) t.w = torch::from_blob(w.data(), {n}, torch::kFloat32).clone();
  if (o.has_missing) {
    t.missing = torch::from_blob(missing.data(), {n, static_cast<int64_t>(nf)}, torch::kUInt8)
                    .to(torch::kBool);
  }
  return t;
}

}  // namespace

absl::StatusOr<std::shared_ptr<LoadedData>> LoadCsv(const DatasetSpec& spec,
                                                    const DataLoadOptions& o) {
  auto d = std::make_shared<LoadedData>();
  CsvLayout layout;
  int64_t max_class = 0;
  ASSIGN_OR_RETURN(d->train,
                   ReadCsv(spec.csv.path, "dataset.csv.path", spec.csv, o, &layout, &max_class));
  if (!spec.csv.test_path.empty()) {
    ASSIGN_OR_RETURN(d->test, ReadCsv(spec.csv.test_path, "dataset.csv.test_path", spec.csv, o,
                                      &layout, &max_class));
  }
  d->feature_names = layout.feature_names;
  d->num_classes = std::max<int64_t>(2, max_class + 1);
  return d;
}

}  // namespace data_internal
}  // namespace hypersweep
