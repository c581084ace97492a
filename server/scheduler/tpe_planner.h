// A TPE sweep's adaptive search (the spec's `tpe:`, docs/SEARCH.md), derived from the sweep's
// stored trials alone, so a coordinator restart continues it exactly: which points exist, which
// are outstanding, what the finished ones scored, and which points come next.
//
// Points are numbered 0, 1, ... in proposal order; point p is the trials with index
// p * TrialsPerPoint(spec) + j (its seeds x folds). A point is outstanding while any of its
// trials is not final. Whenever fewer than tpe.parallel points are outstanding and fewer than
// tpe.trials exist, the next points are proposed by core/tpe from the finished points, in point
// order: point p = tpe::Propose(space, history, options, tpe.seed, p). A finished point's value is
// the mean of its trials' objective values at their last reported epoch:
//  - every trial SUCCEEDED: a completed observation;
//  - any trial PRUNED (and none diverged): a pruned observation at the fewest epochs its trials
//    reported (Optuna ranks pruned trials after completed ones, by epochs then value);
//  - any trial DIVERGED: a completed observation with the worst value (NaN);
//  - any trial FAILED or CANCELLED (and none diverged), or no value at all: not an observation
//    (Optuna ignores failed trials); the point still counts towards tpe.trials.
//
// Pure functions, no locks.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_TPE_PLANNER_H_
#define HYPERSWEEP_SERVER_SCHEDULER_TPE_PLANNER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/sweep_spec.h"
#include "core/tpe.h"
#include "server/store/records.h"

namespace hypersweep {

// What the planner needs of one stored trial of the sweep.
struct TpeTrialView {
  int64_t index = 0;
  TrialStatus status = TrialStatus::kQueued;
  TrialParams params;                // as ExpandTpePoint wrote them
  std::optional<double> last_value;  // the objective at the trial's last reported epoch
  int64_t epochs_reported = 0;
};

struct TpeSearchState {
  int64_t points = 0;                     // proposed so far
  int64_t outstanding = 0;                // proposed and not finished
  std::vector<tpe::Observation> history;  // finished points that count, in point order
};

// The search space of spec.tpe.params for core/tpe.
std::vector<tpe::Dimension> TpeSpace(const SweepSpec& spec);

// Rebuilds the state from the sweep's trials (any order). INVALID_ARGUMENT when a trial's params
// do not hold a value of the space (a database written by something else).
absl::StatusOr<TpeSearchState> TpeStateOf(const SweepSpec& spec,
                                          const std::vector<TpeTrialView>& trials);

// A proposed point and its trials; trial j of point p gets index p * TrialsPerPoint(spec) + j.
struct TpeNewPoint {
  int64_t point = 0;
  std::vector<double> values;  // core/tpe's external form
  std::vector<ExpandedTrial> trials;
};

// The points to add now: min(tpe.parallel - outstanding, tpe.trials - points) of them (none when
// that is <= 0). INVALID_ARGUMENT when a proposed point is not a valid trial (the corners of the
// space are checked at submit, so only a non-monotone trial constraint can cause it).
absl::StatusOr<std::vector<TpeNewPoint>> NextTpePoints(const SweepSpec& spec, bool maximize,
                                                       const TpeSearchState& state);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_TPE_PLANNER_H_
