// The demo report's model of a sweep export: runs (one per trial), points (the runs that differ
// only in seed), and the texts that state a point's mean ± SE and a paired comparison. Internal to
// hypersweep-demo-report (tools/demo_report.cc); tested by tests/tools/demo_runs_test.cc.
#ifndef HYPERSWEEP_TOOLS_DEMO_RUNS_H_
#define HYPERSWEEP_TOOLS_DEMO_RUNS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/stats.h"
#include "nlohmann/json.hpp"

namespace hypersweep::demo {

using nlohmann::json;

std::optional<json> Load(const std::string& path);
// j[key] as a double; NaN when absent or not a number.
double Num(const json& j, const char* key);
// `f` is a printf format for one double; "-" for a non-finite value.
std::string Fmt(double v, const char* f = "%.4f");

// One trial, reduced to what the report needs.
struct Run {
  std::string label;  // the schedule, as a reader names it ("constant lr 0.05")
  std::string status;
  json params, spec;
  std::vector<json> epochs;
  // The best value of `metric` over the epochs (NaN when none is finite).
  double Best(const char* metric, bool maximize) const;
  double Final(const char* metric) const;
  // Mean |change| of val_loss between consecutive epochs: how jagged the curve is.
  double Roughness() const;
  std::string Param(const std::string& k) const;
  uint64_t Seed() const;
};

// The schedule of a trial's spec in the plots' words (client/series_label's DescribeSchedule:
// "constant lr 0.05", "triangular 0.001-0.05", "cosine restarts lr 0.1 T0 4"), with ", momentum
// 0.95→0.85" where the schedule cycles momentum; the schedule's name when it cannot be read.
std::string ScheduleLabel(const json& spec);
std::vector<Run> Runs(const json& exp);
bool IsRangeTest(const Run& r);

// The runs of one point: the same spec but for the seed.
struct Point {
  std::string label;                    // the first run's label
  std::map<uint64_t, const Run*> runs;  // by seed
  const Run& first() const { return *runs.begin()->second; }
  // f(run) for each seed.
  std::map<uint64_t, double> Values(const std::function<double(const Run&)>& f) const;
};
// Groups `runs` (not range tests) by spec without its seed, in the order points first appear.
// The Points point into `runs`.
std::vector<Point> Points(const std::vector<Run>& runs);

// "0.8850 ± 0.0012 (n=3)", or "0.8850 (one run)": a mean with its standard error.
std::string MeanSe(const std::map<uint64_t, double>& values, const char* f = "%.4f");

// A finding comparing `a` with `b` on `what` (e.g. "best validation loss"): the paired difference
// a - b over their common seeds with its SE and the verdict ("a better", "no clear difference",
// or that one seed gives no uncertainty).
std::string Comparison(const std::string& a, const std::string& b, const std::string& what,
                       const Difference& d, bool lower_is_better);

}  // namespace hypersweep::demo

#endif  // HYPERSWEEP_TOOLS_DEMO_RUNS_H_
