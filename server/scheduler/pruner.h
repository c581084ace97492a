// Early stopping (the sweep spec's `pruner:`), decided by the coordinator when a report stores new
// epochs. The rules follow Optuna 3.1 (MedianPruner, and SuccessiveHalvingPruner with
// min_early_stopping_rate 0, i.e. ASHA), with these mappings (docs/PRUNERS.md):
//
//  - Steps. An epoch report {epoch: e} (0-based) is Optuna's step e + 1, the epochs trained.
//    warmup_epochs, interval and the ASHA rungs (min_epochs * reduction_factor^k) count steps.
//  - Values. The value of an epoch is the sweep's objective metric; an epoch without it (or with a
//    non-finite value, which the scheduler drops) is not judged and gives no value.
//  - Points. Trials whose params are equal but for `seed` and `fold` are one point (the
//    "trial" of Optuna's rules). A point's value at an epoch is the mean of its trials' values at
//    that epoch, over those of its trials that have one. Every trial of a point is judged by its
//    point's value; each trial is judged, and stopped, on its own reports. LR range tests are
//    neither points nor judged.
//  - Median: a point is "completed" when every one of its trials ended SUCCEEDED. Like Optuna 3.1,
//    the point's best value over the steps so far is compared with the median (numpy's linear
//    interpolation) of the completed points' values at exactly this step; no completed point with
//    a value there means no pruning.
//  - ASHA: a point's value at a rung is its value at the rung's epoch exactly (Optuna records the
//    value of the first report at or after the rung; with a report per epoch that is the same).
//    A trial is judged at a rung when the report that stores that epoch arrives; its competitors
//    are every other point with a value there (whatever its status: running, pruned, ended),
//    plus itself. It continues iff it is within the best max(1, floor(n / reduction_factor)) of
//    those n values (ties continue).
//  - Reports of several epochs are judged epoch by epoch in order, as if each had come alone; the
//    first epoch that prunes decides. A repeated epoch is not judged again.
//
// Everything is derived from stored epochs and statuses, so a coordinator restart that reloads them
// (Scheduler::Load) judges the next report exactly as before; a decision to prune is durable as the
// trial's PRUNED status, committed in the same batch as the epochs that caused it.
//
// Not thread-safe; called with Scheduler::mu_ held. The free functions are pure.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_PRUNER_H_
#define HYPERSWEEP_SERVER_SCHEDULER_PRUNER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/sweep_spec.h"
#include "server/store/records.h"

namespace hypersweep {

// step (epochs trained, >= 1) -> value.
using PrunerCurve = std::map<int64_t, double>;

// ---- The rules on one judged step (pure) ----

// The 50th percentile of `values` with numpy's default linear interpolation. `values` not empty.
double Median(std::vector<double> values);

struct MedianVerdict {
  bool prune = false;
  double best = 0;    // the point's best value so far (when judged)
  double median = 0;  // of the completed points at the step (when judged)
  int64_t completed = 0;
};
// Optuna 3.1's MedianPruner.prune for a point whose values so far are `own` (its last step is
// `step`, which `own` holds), against `completed` (the completed points' curves).
MedianVerdict JudgeMedian(const PrunerSpec& spec, bool maximize, const PrunerCurve& own,
                          int64_t step, const std::vector<const PrunerCurve*>& completed);

// The ASHA rung whose step is `step` (min_epochs * reduction_factor^k == step), if any.
std::optional<int64_t> AshaRungAt(const PrunerSpec& spec, int64_t step);
// Optuna's _is_trial_promotable_to_next_rung: `competing` includes `value` itself.
bool AshaPromotes(double value, std::vector<double> competing, int64_t reduction_factor,
                  bool maximize);

// ---- One sweep's pruner ----

class SweepPruner {
 public:
  SweepPruner(PrunerSpec spec, Objective objective);

  bool enabled() const { return spec_.kind != PrunerSpec::Kind::kNone; }
  const PrunerSpec& spec() const { return spec_; }
  const std::string& metric() const { return objective_.metric; }

  // Adds a trial of the sweep (train trials only; range tests are ignored). Its point is its
  // params without "seed" and "fold".
  void AddTrial(const TrialRecord& t);
  // Keeps the objective value of one stored epoch of a trial (a no-op without it).
  void Record(const std::string& trial_id, const EpochRecord& e);

  // Whether `trial_id` stops after its newly stored epochs `new_epochs` (0-based, any order):
  // the reason when it does. `status` answers each trial's current status.
  std::optional<std::string> Judge(
      const std::string& trial_id, const std::vector<int64_t>& new_epochs,
      const std::function<TrialStatus(const std::string&)>& status) const;

 private:
  struct Point {
    std::vector<std::string> trials;
  };
  // The point's mean value at each epoch up to `last_epoch` (inclusive), as steps.
  PrunerCurve CurveOf(const Point& p, int64_t last_epoch) const;
  std::optional<double> ValueAt(const Point& p, int64_t epoch) const;
  std::optional<std::string> JudgeStep(
      const std::string& point_key, int64_t epoch,
      const std::function<TrialStatus(const std::string&)>& status) const;

  PrunerSpec spec_;
  Objective objective_;
  std::map<std::string, Point> points_;                                // by key, in key order
  std::unordered_map<std::string, std::string> point_of_;              // trial id -> point key
  std::unordered_map<std::string, std::map<int64_t, double>> values_;  // trial -> epoch -> value
};

// The pruners of every sweep that has one, by sweep id.
class Pruners {
 public:
  // Starts a sweep's pruner (nothing when the spec has none).
  void AddSweep(const std::string& sweep_id, const PrunerSpec& spec, const Objective& objective);
  // The sweep's pruner, or nullptr when it has none.
  SweepPruner* Find(const std::string& sweep_id);
  void Clear() { by_sweep_.clear(); }

 private:
  std::map<std::string, SweepPruner> by_sweep_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_PRUNER_H_
