#include "server/scheduler/auto_lr_planner.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/lr_finder.h"
#include "core/trial_spec.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

// Points that share these fields share one LR range test.
std::string AutoLrGroup(const TrialSpec& spec) {
  nlohmann::json j = ToJson(spec);
  nlohmann::json key;
  for (const char* k :
       {"dataset", "model", "optimizer", "batch_size", "momentum", "weight_decay"}) {
    key[k] = j[k];
  }
  return key.dump();
}

bool HasAutoLr(const std::string& spec_json) {
  auto spec = ParseTrialSpec(spec_json, {/*allow_auto=*/true});
  return spec.ok() && !spec->schedule.auto_fields.empty();
}

// Range tests also carry role=lr_range_test among their display params (ListTrials shows params;
// the trial's typed role, TrialRecord::role, is what the coordinator decides by).
constexpr char kRoleParam[] = "role";
constexpr char kRangeTestRole[] = "lr_range_test";

}  // namespace

bool AutoLrPlanner::IsRangeTest(const TrialRecord& t) { return t.role == TrialRole::kLrRangeTest; }

std::vector<int64_t> AutoLrPlanner::AddRangeTests(std::vector<ExpandedTrial>& expanded) {
  std::vector<ExpandedTrial> range_tests;
  std::map<std::string, size_t> group_index;
  std::vector<int64_t> waits_for(expanded.size(), -1);  // index into range_tests
  for (size_t i = 0; i < expanded.size(); ++i) {
    const TrialSpec& spec = expanded[i].spec;
    if (spec.schedule.auto_fields.empty()) continue;
    auto [it, added] = group_index.emplace(AutoLrGroup(spec), range_tests.size());
    if (added) {
      ExpandedTrial r;
      r.spec = spec;
      r.spec.schedule = ScheduleSpec{LrRangeTestSchedule{}, {}};
      r.spec.epochs = 1;
      r.spec.budget_seconds = 0;
      r.params = {{kRoleParam, kRangeTestRole},
                  {"batch_size", std::to_string(spec.batch_size)},
                  {"momentum", absl::StrFormat("%g", spec.momentum)},
                  {"weight_decay", absl::StrFormat("%g", spec.weight_decay)}};
      range_tests.push_back(std::move(r));
    }
    waits_for[i] = static_cast<int64_t>(it->second);
  }
  if (!range_tests.empty()) {
    expanded.insert(expanded.begin(), range_tests.begin(), range_tests.end());
    waits_for.insert(waits_for.begin(), range_tests.size(), -1);
  }
  return waits_for;
}

std::map<std::string, std::string> AutoLrPlanner::HeldAfterRestart(
    const std::vector<TrialRecord>& trials) {
  std::map<std::string, std::string> range_of_group;  // sweep id + group -> range-test id
  for (const auto& rec : trials) {
    if (!IsRangeTest(rec)) continue;
    auto spec = ParseTrialSpec(rec.spec_json, {true});
    if (spec.ok()) range_of_group[rec.sweep_id + "\n" + AutoLrGroup(*spec)] = rec.id;
  }
  std::map<std::string, std::string> held;
  if (range_of_group.empty()) return held;
  for (const auto& rec : trials) {
    if (rec.status != TrialStatus::kQueued || !HasAutoLr(rec.spec_json)) continue;
    auto spec = ParseTrialSpec(rec.spec_json, {true});
    auto r = range_of_group.find(rec.sweep_id + "\n" + AutoLrGroup(*spec));
    if (r != range_of_group.end()) held[rec.id] = r->second;
  }
  return held;
}

absl::StatusOr<double> AutoLrPlanner::PickLr(const TrialRecord& range, const LrCurveRecord* curve,
                                             const AutoLrOptions& options) {
  if (range.status != TrialStatus::kSucceeded) {
    return absl::FailedPreconditionError(
        absl::StrCat("LR range test ", range.id, " ended ", TrialStatusName(range.status),
                     range.reason.empty() ? "" : ": ", range.reason));
  }
  if (curve == nullptr || curve->points.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("LR range test ", range.id, " reported no curve"));
  }
  auto lr = RuleLr(*curve, options.rule);
  if (!lr.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("LR range test ", range.id, " gave no usable suggestion under rule ",
                     SuggestRuleName(options.rule), ": ", lr.status().message()));
  }
  return *lr * options.scale;
}

absl::StatusOr<double> AutoLrPlanner::RuleLr(const LrCurveRecord& curve, SuggestRule rule) {
  std::vector<LrCurvePoint> points;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (const auto& p : curve.points) {
    points.push_back(p.diverged ? LrCurvePoint{p.lr, kInf, kInf}
                                : LrCurvePoint{p.lr, p.loss, p.smoothed_loss});
  }
  return SuggestLr(points).Get(rule);
}

absl::Status AutoLrPlanner::Resolve(TrialRecord& held, const absl::StatusOr<double>& lr,
                                    const std::string& range_id, const AutoLrOptions& options) {
  if (!lr.ok()) return lr.status();
  auto spec = ParseTrialSpec(held.spec_json, {true});
  if (!spec.ok()) return spec.status();
  ResolveAutoLr(spec->schedule, *lr, options.div);
  held.spec_json = ToJson(*spec).dump();
  held.params.emplace_back("max_lr", absl::StrFormat("%.6g", *lr));
  held.params.emplace_back(
      "lr_from",
      absl::StrCat(range_id, " (", SuggestRuleName(options.rule),
                   options.scale == 1 ? "" : absl::StrFormat(" x %g", options.scale), ")"));
  return absl::OkStatus();
}

void AutoLrPlanner::Hold(const std::string& range_id, const std::string& trial_id) {
  held_[range_id].push_back(trial_id);
}

std::vector<std::string> AutoLrPlanner::RangeTests() const {
  std::vector<std::string> out;
  for (const auto& [range_id, deps] : held_) out.push_back(range_id);
  return out;
}

std::vector<std::string> AutoLrPlanner::TakeDependents(const std::string& range_id) {
  auto it = held_.find(range_id);
  if (it == held_.end()) return {};
  std::vector<std::string> deps = std::move(it->second);
  held_.erase(it);
  return deps;
}

void AutoLrPlanner::KeepCurve(const std::string& range_id, const LrCurveRecord& curve) {
  if (HasDependents(range_id)) curves_[range_id] = curve;
}

const LrCurveRecord* AutoLrPlanner::CurveOf(const std::string& range_id) const {
  auto it = curves_.find(range_id);
  return it == curves_.end() ? nullptr : &it->second;
}

}  // namespace hypersweep
