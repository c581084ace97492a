// The auto-LR planner (`max_lr: auto` and friends). At submission it adds one LR range-test trial
// per group of points sharing (dataset, model, batch size, optimizer, momentum, weight decay),
// ahead of the others, and the group's trials are held (QUEUED but not leasable) until that range
// test ends. Then the sweep's auto rule picks the LR from the range test's curve and the held
// trials get it written into their spec (params "max_lr" and "lr_from" say what and where from);
// if the range test failed or the sweep's rule has no LR on its curve (each rule can fail on its
// own, e.g. `min` when the loss does not rise after its minimum), they fail with the reason, which
// names the rule. The rule's LR is also stored as the curve's suggested_lr when the curve arrives.
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

class AutoLrPlanner {
 public:
  // Whether `t` is an LR range-test trial. The one place that reads a trial's role.
  static bool IsRangeTest(const TrialRecord& t);

  // Inserts one range test per auto-LR group at the front of `expanded` and returns, for each
  // trial of the new expansion, the index of the range test it waits for, or -1.
  static std::vector<int64_t> AddRangeTests(std::vector<ExpandedTrial>& expanded);

  // Restart recovery: for each QUEUED auto-LR trial of `trials`, the id of the range test of its
  // sweep and group (trial id -> range-test id). Trials with no such range test are not listed.
  static std::map<std::string, std::string> HeldAfterRestart(
      const std::vector<TrialRecord>& trials);

  // The LR that `rule` reads from `curve` (before auto.scale), or FAILED_PRECONDITION saying why
  // that rule has none (core/lr_finder.h). Diverged points are left out of the smoothing.
  static absl::StatusOr<double> RuleLr(const LrCurveRecord& curve, SuggestRule rule);

  // The LR that the range test `range` (ended) gives its dependents under `options`, or
  // FAILED_PRECONDITION saying why there is none, naming the rule. `curve` may be null (none
  // reported).
  static absl::StatusOr<double> PickLr(const TrialRecord& range, const LrCurveRecord* curve,
                                       const AutoLrOptions& options);

  // Writes `lr` into the held trial's spec and params. `lr`'s error, or the spec's parse error,
  // is returned (and `held` unchanged) when there is no LR to give it.
  static absl::Status Resolve(TrialRecord& held, const absl::StatusOr<double>& lr,
                              const std::string& range_id, const AutoLrOptions& options);

  // ---- Held trials ----
  // `trial_id` waits for the range test `range_id`.
  void Hold(const std::string& range_id, const std::string& trial_id);
  bool HasDependents(const std::string& range_id) const { return held_.count(range_id) > 0; }
  // Range tests that trials wait for, in id order.
  std::vector<std::string> RangeTests() const;
  // The trials waiting for `range_id`, in the order they were held; they no longer wait.
  std::vector<std::string> TakeDependents(const std::string& range_id);

  // ---- Curves of range tests with dependents, kept until the dependents are released ----
  // Keeps `curve` if trials wait for `range_id` (else nothing to keep it for).
  void KeepCurve(const std::string& range_id, const LrCurveRecord& curve);
  // nullptr when none was kept. Valid until ForgetCurve(range_id).
  const LrCurveRecord* CurveOf(const std::string& range_id) const;
  void ForgetCurve(const std::string& range_id) { curves_.erase(range_id); }

 private:
  std::map<std::string, std::vector<std::string>> held_;  // range-test id -> waiting trials
  std::map<std::string, LrCurveRecord> curves_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_AUTO_LR_PLANNER_H_
