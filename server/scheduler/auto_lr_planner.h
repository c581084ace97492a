// The auto-LR planner (`max_lr: auto` and friends). At submission it adds auto.range_tests LR
// range-test trials (different seeds) per group of points sharing (dataset, model, batch size,
// optimizer, momentum, weight decay), ahead of the others, and the group's trials are held (QUEUED
// but not leasable) until all of the group's range tests have ended. Then the sweep's auto rule
// reads each range test's curve, the values are combined by their geometric mean, and the held
// trials get it written into their spec (params "max_lr" and "lr_from" say what and where from;
// TrialRecord::lr_spread the max/min ratio of the values, with an "lr_warning" param above
// kMaxLrSpread). Range tests that failed, or on whose curve the rule has no LR, are left out with
// the reason in lr_from; when none gives an LR, the held trials fail with the reasons, which name
// the rule. The rule's LR is also stored as each curve's suggested_lr when the curve arrives.
//
// The planner decides and remembers who waits for whom; the Scheduler applies the transitions
// (trial_state.h), queues released trials and persists the changes.
// Not thread-safe; called with Scheduler::mu_ held. The static functions are pure.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_AUTO_LR_PLANNER_H_
#define HYPERSWEEP_SERVER_SCHEDULER_AUTO_LR_PLANNER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/sweep_spec.h"
#include "server/store/records.h"

namespace hypersweep {

// Above this max/min ratio of a group's range-test LRs, the LR is flagged as uncertain (the
// stability bound of bench/lr_find_stability.py: seeds within a factor of 2).
inline constexpr double kMaxLrSpread = 2.0;

class AutoLrPlanner {
 public:
  // Whether `t` is an LR range-test trial. The one place that reads a trial's role.
  static bool IsRangeTest(const TrialRecord& t);

  struct RangeTestPlan {
    size_t range_tests = 0;  // how many head the new expansion
    // For each trial of the new expansion, the indices of the range tests it waits for (empty:
    // none).
    std::vector<std::vector<int64_t>> waits_for;
  };
  // Inserts `per_group` range tests (seeds spec.seed, spec.seed + 1, ...) per auto-LR group at the
  // front of `expanded`.
  static RangeTestPlan AddRangeTests(std::vector<ExpandedTrial>& expanded, int64_t per_group);

  // Restart recovery: for each QUEUED auto-LR trial of `trials`, the ids of the range tests of its
  // sweep and group, in id order. Trials with no such range test are not listed.
  static std::map<std::string, std::vector<std::string>> HeldAfterRestart(
      const std::vector<TrialRecord>& trials);

  // The LR that `rule` reads from `curve` (before auto.scale), or FAILED_PRECONDITION saying why
  // that rule has none (core/lr_finder.h). Diverged points are left out of the smoothing.
  static absl::StatusOr<double> RuleLr(const LrCurveRecord& curve, SuggestRule rule);

  // The LR that one ended range test gives under `options` (before scale), or FAILED_PRECONDITION
  // saying why there is none, naming the rule. `curve` may be null (none reported).
  static absl::StatusOr<double> PickLr(const TrialRecord& range, const LrCurveRecord* curve,
                                       const AutoLrOptions& options);

  // A group's LR from its ended range tests.
  struct CombinedLr {
    double lr = 0;      // geometric mean of the range tests' LRs x options.scale
    double spread = 1;  // max / min of those LRs
    std::string from;   // "ID, ID (min, geometric mean of 3)" and the left-out tests with reasons
  };
  struct EndedRangeTest {
    const TrialRecord* trial;
    const LrCurveRecord* curve;  // may be null
  };
  static absl::StatusOr<CombinedLr> Combine(const std::vector<EndedRangeTest>& tests,
                                            const AutoLrOptions& options);

  // Writes the combined LR into the held trial's spec, params and lr_spread. `lr`'s error, or the
  // spec's parse error, is returned (and `held` unchanged) when there is no LR to give it.
  static absl::Status Resolve(TrialRecord& held, const absl::StatusOr<CombinedLr>& lr,
                              const AutoLrOptions& options);

  // ---- Held trials ----
  // `trial_id` waits for all of `range_ids` (one group: every trial of a group names the same).
  void Hold(const std::vector<std::string>& range_ids, const std::string& trial_id);
  bool HasDependents(const std::string& range_id) const { return group_of_.count(range_id) > 0; }
  // Whether `trial_id` waits for a group (linear in the held trials).
  bool IsHeld(const std::string& trial_id) const;
  // Range tests that trials wait for, in id order.
  std::vector<std::string> RangeTests() const;
  // The range tests of `range_id`'s group (including it), in the order they were held; empty when
  // nothing waits for it.
  std::vector<std::string> GroupOf(const std::string& range_id) const;
  // The trials waiting for `range_id`'s group, in the order they were held; they no longer wait.
  std::vector<std::string> TakeDependents(const std::string& range_id);

  // ---- Curves of range tests with dependents, kept until the dependents are released ----
  // Keeps `curve` if trials wait for `range_id` (else nothing to keep it for).
  void KeepCurve(const std::string& range_id, const LrCurveRecord& curve);
  // nullptr when none was kept. Valid until ForgetCurve(range_id).
  const LrCurveRecord* CurveOf(const std::string& range_id) const;
  void ForgetCurve(const std::string& range_id) { curves_.erase(range_id); }

 private:
  struct Group {
    std::vector<std::string> range_ids;
    std::vector<std::string> held;
  };
  std::map<int64_t, Group> groups_;
  std::map<std::string, int64_t> group_of_;  // range-test id -> key in groups_
  int64_t next_group_ = 0;
  std::map<std::string, LrCurveRecord> curves_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_AUTO_LR_PLANNER_H_
