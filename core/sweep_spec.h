// A sweep: the schema of DESIGN.md ("Sweep spec"), parsed from YAML or JSON with errors that name
// the field path and line, and expanded into the trials it stands for (grid product x random
// samples x seeds x folds). Each trial is a core TrialSpec; the coordinator stores and ships it as
// canonical JSON (ToJson(spec).dump()).
#ifndef HYPERSWEEP_CORE_SWEEP_SPEC_H_
#define HYPERSWEEP_CORE_SWEEP_SPEC_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/lr_finder.h"
#include "core/trial_spec.h"

namespace hypersweep {

enum class Goal { kMinimize, kMaximize };

// The metric is one of metrics::MetricRegistry::Builtin()'s objectives (checked at parse); without
// a goal, the metric's own direction decides.
struct Objective {
  std::string metric = "val_loss";  // metrics::kDefaultObjective
  Goal goal = Goal::kMinimize;
};

// One random-search dimension. `key` is a trial field (momentum, weight_decay, batch_size,
// epochs) or a field of the trial's schedule, model or optimizer written as "schedule.max_lr",
// "model.dropout", "optimizer.beta2" (it applies to whichever kind the trial has).
struct RandomParam {
  enum class Kind { kUniform, kLogUniform, kInt, kChoice };
  std::string key;
  Kind kind = Kind::kUniform;
  double low = 0, high = 0;          // uniform, log_uniform (low > 0), int (inclusive)
  std::vector<std::string> choices;  // choice: YAML scalars as written
};

struct RandomSearch {
  int64_t trials = 0;  // samples per grid point; 0: no random search
  uint64_t seed = 0;   // sampling seed; the same spec always expands the same way
  std::vector<RandomParam> params;
};

// Adaptive search (core/tpe.h, docs/SEARCH.md): the coordinator proposes `trials` points one
// after another from the results of finished ones, at most `parallel` outstanding (queued or
// running) at a time. Each point runs as seeds x folds trials; its value is their mean.
struct TpeSearch {
  int64_t trials = 0;               // points in all; 0: no TPE search
  uint64_t seed = 0;                // the same spec and results always propose the same points
  int64_t startup_trials = 10;      // random points before the model is used
  int64_t parallel = 1;             // most points outstanding at once
  std::vector<RandomParam> params;  // the same syntax as random.params
};

struct AutoLrOptions {
  SuggestRule rule = kDefaultSuggestRule;
  // Range tests per group (different seeds); their LRs are combined by geometric mean.
  int64_t range_tests = 3;
  double div = 10;   // base_lr = max_lr / div where base_lr is auto
  double scale = 1;  // max_lr = the rule's suggestion x scale, in (0, 1]
};

// Early stopping, decided by the coordinator when an epoch is reported (server/scheduler/pruner.h;
// the rules in docs/PRUNERS.md). Epoch e (0-based) is Optuna's step e + 1: the epochs trained.
struct PrunerSpec {
  enum class Kind { kNone, kMedian, kAsha };
  Kind kind = Kind::kNone;
  // median (Optuna's MedianPruner): judge nothing until `startup_trials` points have completed,
  // nor before `warmup_epochs` epochs are trained, then every `interval` epochs.
  int64_t startup_trials = 5;
  int64_t warmup_epochs = 0;
  int64_t interval = 1;
  // asha (asynchronous successive halving, Optuna's SuccessiveHalvingPruner with
  // min_early_stopping_rate 0): rungs after min_epochs * reduction_factor^k epochs trained.
  int64_t min_epochs = 1;
  int64_t reduction_factor = 3;
};

struct SweepSpec {
  std::string name;
  Objective objective;
  // The trial every point starts from: dataset, model, optimizer, epochs, validation, budget, and
  // single-valued batch_size/momentum/weight_decay/schedule when not in the grid.
  TrialSpec base;
  bool has_base_schedule = false;
  std::vector<uint64_t> seeds = {0};
  // Grid dimensions; an empty vector means "not swept" (the base value is used).
  std::vector<int64_t> batch_sizes;
  std::vector<double> momenta;
  std::vector<double> weight_decays;
  std::vector<ScheduleSpec> schedules;
  std::vector<OptimizerSpec> optimizers;
  RandomSearch random;
  TpeSearch tpe;  // exclusive with grid and random
  AutoLrOptions auto_lr;
  PrunerSpec pruner;
};

// Sweeps larger than this are rejected (INVALID_ARGUMENT) rather than queued. A grid or random
// sweep costs the coordinator nothing per point until the point is handed out (its trials are
// made from the spec and their index: ExpandRange), so the bound is high.
inline constexpr int64_t kMaxTrialsPerSweep = 100'000'000;
// What may be expanded whole: sweeps with `auto` LR (whose range tests and held trials are planned
// at submit), the points a TPE sweep proposes, ExpandSweep.
inline constexpr int64_t kMaxExpandedTrialsPerSweep = 1'000'000;

// Parses and validates a sweep spec (YAML or JSON). INVALID_ARGUMENT names the field path and
// line of the first problem ("grid.schedule[1].one_cycle.pct_start (line 9): must be in (0, 1)");
// unknown fields are errors. `auto` LR fields are accepted and kept in schedule.auto_fields.
absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& text);

// One point of the expansion: the trial and the swept values that made it, for display
// (e.g. {"batch_size","256"}, {"schedule","one_cycle"}, {"seed","0"}, {"fold","3"}).
struct ExpandedTrial {
  TrialSpec spec;
  std::vector<std::pair<std::string, std::string>> params;
};

// Every trial of the sweep, in a deterministic order: grid points (batch_size, momentum,
// weight_decay, schedule, optimizer; last varies fastest) x random samples x seeds x folds.
// With k-fold validation each fold is its own trial (validation.fold set). INVALID_ARGUMENT when
// a point is invalid or the sweep has more than kMaxExpandedTrialsPerSweep trials.
absl::StatusOr<std::vector<ExpandedTrial>> ExpandSweep(const SweepSpec& spec);

// Trials [begin, end) of ExpandSweep's order (end is clipped to CountTrials), each on its own:
// an invalid point gives INVALID_ARGUMENT for its trials only. The same index always gives the
// same trial: a random sample is drawn from a generator seeded by random.seed and the sample's
// number alone. Empty for a TPE sweep. Work: O(end - begin) whatever `begin` is.
std::vector<absl::StatusOr<ExpandedTrial>> ExpandRange(const SweepSpec& spec, int64_t begin,
                                                       int64_t end);

// The number of trials ExpandSweep would return, without building them. A TPE sweep: every trial
// it will have once all its points are proposed (tpe.trials x seeds x folds, plus
// tpe.trials x auto.range_tests with an `auto` LR: each point runs its own range tests).
int64_t CountTrials(const SweepSpec& spec);

// Whether some trial of the sweep has an `auto` LR field (in the base schedule or a grid
// schedule): the coordinator then plans range tests for the whole sweep at submit.
bool HasAutoLr(const SweepSpec& spec);

// TPE sweeps (spec.tpe.trials > 0) are not expanded up front: ExpandSweep refuses them and the
// coordinator expands each proposed point with ExpandTpePoint.
bool IsTpe(const SweepSpec& spec);
// Trials per TPE point: seeds x folds.
int64_t TrialsPerPoint(const SweepSpec& spec);
// The trials of one point: `values` has one value per tpe.params entry, in order, the number
// itself (int: an integer) or, for choice, the index of the choice. Each trial's params hold
// the values as written (choices) or in their shortest round-trip decimal form (numbers).
// INVALID_ARGUMENT when the point is not a valid trial.
absl::StatusOr<std::vector<ExpandedTrial>> ExpandTpePoint(const SweepSpec& spec,
                                                          const std::vector<double>& values);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_SWEEP_SPEC_H_
