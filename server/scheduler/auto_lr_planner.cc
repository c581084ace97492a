#include "server/scheduler/auto_lr_planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

AutoLrPlanner::RangeTestPlan AutoLrPlanner::AddRangeTests(std::vector<ExpandedTrial>& expanded,
                                                          int64_t per_group) {
  std::vector<ExpandedTrial> range_tests;
  std::map<std::string, size_t> group_index;  // group -> its first range test in range_tests
  RangeTestPlan plan;
  plan.waits_for.resize(expanded.size());
  for (size_t i = 0; i < expanded.size(); ++i) {
    const TrialSpec& spec = expanded[i].spec;
    if (spec.schedule.auto_fields.empty()) continue;
    auto [it, added] = group_index.emplace(AutoLrGroup(spec), range_tests.size());
    if (added) {
      for (int64_t k = 0; k < per_group; ++k) {
        ExpandedTrial r;
        r.spec = spec;
        r.spec.schedule = ScheduleSpec{LrRangeTestSchedule{}, {}};
        r.spec.epochs = 1;
        r.spec.budget_seconds = 0;
        r.spec.seed = spec.seed + static_cast<uint64_t>(k);
        r.params = {{kRoleParam, kRangeTestRole},
                    {"batch_size", std::to_string(spec.batch_size)},
                    {"momentum", absl::StrFormat("%g", spec.momentum)},
                    {"weight_decay", absl::StrFormat("%g", spec.weight_decay)},
                    {"seed", std::to_string(r.spec.seed)}};
        range_tests.push_back(std::move(r));
      }
    }
    for (int64_t k = 0; k < per_group; ++k) {
      plan.waits_for[i].push_back(static_cast<int64_t>(it->second) + k);
    }
  }
  plan.range_tests = range_tests.size();
  if (!range_tests.empty()) {
    expanded.insert(expanded.begin(), range_tests.begin(), range_tests.end());
    plan.waits_for.insert(plan.waits_for.begin(), range_tests.size(), {});
  }
  return plan;
}

std::map<std::string, std::vector<std::string>> AutoLrPlanner::HeldAfterRestart(
    const std::vector<TrialRecord>& trials) {
  // sweep id + group -> range-test ids, in id order (trials come in any order)
  std::map<std::string, std::vector<std::string>> range_of_group;
  for (const auto& rec : trials) {
    if (!IsRangeTest(rec)) continue;
    auto spec = ParseTrialSpec(rec.spec_json, {true});
    if (spec.ok()) range_of_group[rec.sweep_id + "\n" + AutoLrGroup(*spec)].push_back(rec.id);
  }
  for (auto& [group, ids] : range_of_group) std::sort(ids.begin(), ids.end());
  std::map<std::string, std::vector<std::string>> held;
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
  return *lr;
}

absl::StatusOr<AutoLrPlanner::CombinedLr> AutoLrPlanner::Combine(
    const std::vector<EndedRangeTest>& tests, const AutoLrOptions& options) {
  std::vector<std::string> used, left_out;
  double log_sum = 0, lo = 0, hi = 0;
  for (const EndedRangeTest& t : tests) {
    absl::StatusOr<double> lr = PickLr(*t.trial, t.curve, options);
    if (!lr.ok()) {
      left_out.emplace_back(lr.status().message());
      continue;
    }
    lo = used.empty() ? *lr : std::min(lo, *lr);
    hi = used.empty() ? *lr : std::max(hi, *lr);
    log_sum += std::log(*lr);
    used.push_back(t.trial->id);
  }
  if (used.empty()) {
    return absl::FailedPreconditionError(absl::StrJoin(left_out, "; "));
  }
  CombinedLr out;
  out.lr = std::exp(log_sum / static_cast<double>(used.size())) * options.scale;
  out.spread = hi / lo;
  out.from = absl::StrCat(absl::StrJoin(used, ", "), " (", SuggestRuleName(options.rule),
                          used.size() > 1 ? absl::StrCat(", geometric mean of ", used.size()) : "",
                          options.scale == 1 ? "" : absl::StrFormat(", x %g", options.scale), ")");
  if (!left_out.empty()) {
    absl::StrAppend(&out.from, "; left out: ", absl::StrJoin(left_out, "; "));
  }
  return out;
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

absl::Status AutoLrPlanner::Resolve(TrialRecord& held, const absl::StatusOr<CombinedLr>& lr,
                                    const AutoLrOptions& options) {
  if (!lr.ok()) return lr.status();
  auto spec = ParseTrialSpec(held.spec_json, {true});
  if (!spec.ok()) return spec.status();
  ResolveAutoLr(spec->schedule, lr->lr, options.div);
  held.spec_json = ToJson(*spec).dump();
  held.params.emplace_back("max_lr", absl::StrFormat("%.6g", lr->lr));
  held.params.emplace_back("lr_from", lr->from);
  held.lr_spread = lr->spread;
  if (lr->spread > kMaxLrSpread) {
    held.params.emplace_back(
        "lr_warning",
        absl::StrFormat("the range tests' LRs spread %.2fx (more than %gx): the LR is uncertain; "
                        "raise auto.range_tests or the range test's steps_per_decade",
                        lr->spread, kMaxLrSpread));
  }
  return absl::OkStatus();
}

void AutoLrPlanner::Hold(const std::vector<std::string>& range_ids, const std::string& trial_id) {
  if (range_ids.empty()) return;
  auto it = group_of_.find(range_ids.front());
  if (it == group_of_.end()) {
    const int64_t key = next_group_++;
    groups_[key].range_ids = range_ids;
    for (const auto& id : range_ids) group_of_[id] = key;
    it = group_of_.find(range_ids.front());
  }
  groups_[it->second].held.push_back(trial_id);
}

std::vector<std::string> AutoLrPlanner::RangeTests() const {
  std::vector<std::string> out;
  for (const auto& [range_id, group] : group_of_) out.push_back(range_id);
  return out;
}

std::vector<std::string> AutoLrPlanner::GroupOf(const std::string& range_id) const {
  auto it = group_of_.find(range_id);
  if (it == group_of_.end()) return {};
  return groups_.at(it->second).range_ids;
}

std::vector<std::string> AutoLrPlanner::TakeDependents(const std::string& range_id) {
  auto it = group_of_.find(range_id);
  if (it == group_of_.end()) return {};
  auto g = groups_.find(it->second);
  std::vector<std::string> deps = std::move(g->second.held);
  for (const auto& id : g->second.range_ids) group_of_.erase(id);
  groups_.erase(g);
  return deps;
}

void AutoLrPlanner::KeepCurve(const std::string& range_id, const LrCurveRecord& curve) {
  if (HasDependents(range_id)) curves_[range_id] = curve;
}

const LrCurveRecord* AutoLrPlanner::CurveOf(const std::string& range_id) const {
  auto it = curves_.find(range_id);
  return it == curves_.end() ? nullptr : &it->second;
}

bool AutoLrPlanner::IsHeld(const std::string& trial_id) const {
  for (const auto& [key, group] : groups_) {
    for (const auto& id : group.held) {
      if (id == trial_id) return true;
    }
  }
  return false;
}

}  // namespace hypersweep
