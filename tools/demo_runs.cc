#include "tools/demo_runs.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/series_label.h"
#include "core/trial_spec.h"
#include "yaml-cpp/yaml.h"

namespace hypersweep::demo {

std::optional<json> Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

double Num(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

// `f` is one of this file's printf formats for a double.
std::string Fmt(double v, const char* f) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double Run::Best(const char* metric, bool maximize) const {
  double best = std::nan("");
  for (const auto& e : epochs) {
    const double v = Num(e, metric);
    if (!std::isfinite(v)) continue;
    if (!std::isfinite(best) || (maximize ? v > best : v < best)) best = v;
  }
  return best;
}

double Run::Final(const char* metric) const {
  return epochs.empty() ? std::nan("") : Num(epochs.back(), metric);
}

double Run::Roughness() const {
  double sum = 0;
  int n = 0;
  for (size_t i = 1; i < epochs.size(); ++i) {
    const double a = Num(epochs[i - 1], "val_loss"), b = Num(epochs[i], "val_loss");
    if (std::isfinite(a) && std::isfinite(b)) {
      sum += std::fabs(b - a);
      ++n;
    }
  }
  return n ? sum / n : std::nan("");
}

std::string Run::Param(const std::string& k) const {
  return params.contains(k) && params[k].is_string() ? params[k].get<std::string>() : "";
}

uint64_t Run::Seed() const {
  return spec.contains("seed") && spec["seed"].is_number_unsigned() ? spec["seed"].get<uint64_t>()
                                                                    : 0;
}

std::string ScheduleLabel(const json& spec) {
  if (!spec.contains("schedule")) return "?";
  ParseOptions options;
  options.allow_auto = true;
  auto schedule = ParseSchedule(YAML::Load(spec["schedule"].dump()), "schedule", options);
  if (!schedule.ok()) {
    const auto& s = spec["schedule"];
    return s.is_object() && !s.empty() ? s.begin().key() : "?";
  }
  // The plots' words (client/series_label), so that the report and its SVGs name runs alike.
  std::string label = DescribeSchedule(*schedule);
  TrialSpec t;
  t.schedule = *schedule;
  t.momentum = spec.contains("momentum") && spec["momentum"].is_number()
                   ? spec["momentum"].get<double>()
                   : t.momentum;
  const bool cycled = std::visit(
      [](const auto& k) -> bool {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, OneCycleSchedule> || std::is_same_v<K, CyclicSchedule>) {
          return k.cycle_momentum;
        } else {
          return false;
        }
      },
      schedule->kind);
  if (cycled) absl::StrAppend(&label, ", ", DescribeMomentum(t));
  return label;
}

std::vector<Run> Runs(const json& exp) {
  std::vector<Run> out;
  for (const auto& t : exp["trials"]) {
    Run r;
    r.status = t.value("status", "");
    r.params = t.value("params", json::object());
    r.spec = t.value("spec", json::object());
    for (const auto& e : t.value("epochs", json::array())) r.epochs.push_back(e);
    r.label = ScheduleLabel(r.spec);
    out.push_back(std::move(r));
  }
  return out;
}

bool IsRangeTest(const Run& r) { return r.Param("role") == "lr_range_test"; }

std::map<uint64_t, double> Point::Values(const std::function<double(const Run&)>& f) const {
  std::map<uint64_t, double> out;
  for (const auto& [seed, run] : runs) out[seed] = f(*run);
  return out;
}

std::vector<Point> Points(const std::vector<Run>& runs) {
  std::vector<Point> out;
  std::map<std::string, size_t> index;  // spec without seed -> position in out
  for (const Run& r : runs) {
    if (IsRangeTest(r)) continue;
    json key = r.spec;
    key.erase("seed");
    auto [it, added] = index.emplace(key.dump(), out.size());
    if (added) out.push_back(Point{r.label, {}});
    out[it->second].runs[r.Seed()] = &r;
  }
  return out;
}

std::string MeanSe(const std::map<uint64_t, double>& values, const char* f) {
  std::vector<double> xs;
  for (const auto& [seed, v] : values) {
    if (std::isfinite(v)) xs.push_back(v);
  }
  if (xs.empty()) return "-";
  if (xs.size() == 1) return absl::StrCat(Fmt(xs[0], f), " (one run)");
  return absl::StrCat(Fmt(Mean(xs), f), " ± ", Fmt(StandardError(xs), f), " (n=", xs.size(), ")");
}

std::string Comparison(const std::string& a, const std::string& b, const std::string& what,
                       const Difference& d, bool lower_is_better) {
  const std::string diff = absl::StrFormat("%s: %s minus %s = %+.4f", what, a, b, d.mean);
  switch (Judge(d, lower_is_better)) {
    case Verdict::kTooFewPairs:
      return absl::StrCat(diff, " from ", d.pairs,
                          " seed(s): no standard error, so no finding either way");
    case Verdict::kNoClearDifference:
      return absl::StrFormat("%s ± %.4f over %d seeds: no clear difference (within %g SE)", diff,
                             d.se, d.pairs, kClearSes);
    case Verdict::kFirstBetter:
      return absl::StrFormat("%s ± %.4f over %d seeds: %s is better", diff, d.se, d.pairs, a);
    case Verdict::kSecondBetter:
      return absl::StrFormat("%s ± %.4f over %d seeds: %s is better", diff, d.se, d.pairs, b);
  }
  return diff;
}

}  // namespace hypersweep::demo
