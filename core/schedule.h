// Learning-rate and momentum schedules: pure functions of the optimizer step.
//
// Names and semantics follow torch.optim.lr_scheduler (OneCycleLR, CyclicLR,
// CosineAnnealingWarmRestarts) so values carry over: Lr(i) and Momentum(i) are the values used for
// optimizer step i (0-based), i.e. what PyTorch's scheduler holds before its i-th step() call.
// This is the one file for schedules; the worker, the CLI preview and the tests all use it.
#ifndef HYPERSWEEP_CORE_SCHEDULE_H_
#define HYPERSWEEP_CORE_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace hypersweep {

// A step count given either in optimizer steps or in epochs (the `_epochs` spelling of a field).
struct StepCount {
  std::optional<double> steps;   // e.g. step_size_up: 2000
  std::optional<double> epochs;  // e.g. step_size_up_epochs: 4
  bool set() const { return steps.has_value() || epochs.has_value(); }
};

struct ConstantSchedule {
  double lr = 0;
};

enum class AnnealStrategy { kCos, kLinear };

struct OneCycleSchedule {
  double max_lr = 0;
  double pct_start = 0.3;
  AnnealStrategy anneal_strategy = AnnealStrategy::kCos;
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  StepCount total_steps;  // default: the whole run (epochs x steps per epoch)
};

enum class CyclicMode { kTriangular, kTriangular2, kExpRange };

struct CyclicSchedule {
  double base_lr = 0;
  double max_lr = 0;
  StepCount step_size_up;    // required
  StepCount step_size_down;  // default: step_size_up
  CyclicMode mode = CyclicMode::kTriangular;
  double gamma = 1.0;
  bool cycle_momentum = true;
  double base_momentum = 0.8;
  double max_momentum = 0.9;
};

struct CosineRestartsSchedule {
  double max_lr = 0;
  StepCount t_0;  // required
  int64_t t_mult = 1;
  double eta_min = 0;
};

enum class RangeTestMode { kExp, kLinear };

struct LrRangeTestSchedule {
  double min_lr = 1e-7;
  double max_lr = 10;
  // The test's length: `steps` (or `steps_epochs`), else steps_per_decade x log10(max_lr /
  // min_lr). Steps per decade, not epochs, so that the curve's resolution in LR (and with it the
  // suggestion) does not depend on the batch size; the default is chosen by measurement
  // (bench/lr_find_stability.py, docs/PERFORMANCE.md).
  StepCount steps;
  int64_t steps_per_decade = 0;  // 0: kDefaultRangeStepsPerDecade
  RangeTestMode mode = RangeTestMode::kExp;
};
inline constexpr int64_t kDefaultRangeStepsPerDecade = 100;

using ScheduleKind = std::variant<ConstantSchedule, OneCycleSchedule, CyclicSchedule,
                                  CosineRestartsSchedule, LrRangeTestSchedule>;

// A schedule as written in a spec. Fields written as `auto` hold NaN and are listed in
// auto_fields (e.g. "max_lr") until ResolveAutoLr() fills them in.
struct ScheduleSpec {
  ScheduleKind kind = ConstantSchedule{0.1};
  std::vector<std::string> auto_fields;
};

// The spec name of the schedule kind: "constant", "one_cycle", "cyclic", "cosine_restarts",
// "lr_range_test".
std::string ScheduleName(const ScheduleSpec& spec);

// Fills `auto` fields from an LR range test suggestion: max_lr (and lr for constant) become
// `max_lr`; base_lr becomes max_lr / div. No-op for fields that are not auto.
void ResolveAutoLr(ScheduleSpec& spec, double max_lr, double div);

// Everything a schedule needs to know about the run it drives.
struct RunGeometry {
  int64_t steps_per_epoch = 1;  // optimizer steps per epoch, >= 1
  int64_t epochs = 1;           // epochs in the run, >= 1
  double momentum = 0.9;        // the trial's momentum, used when the schedule does not cycle it
};

// A compiled schedule. Cheap to copy; thread-compatible (const methods only).
class Schedule {
 public:
  // Fails with INVALID_ARGUMENT (naming the field) when a value is out of range, a required
  // step count is missing, or an auto field is unresolved.
  static absl::StatusOr<Schedule> Create(const ScheduleSpec& spec, const RunGeometry& geometry);

  double Lr(int64_t step) const;
  double Momentum(int64_t step) const;
  // Steps the schedule is defined for: the run's total, or the range test's length.
  int64_t total_steps() const { return total_steps_; }
  bool cycles_momentum() const { return cycles_momentum_; }

 private:
  Schedule() = default;

  ScheduleKind kind_;
  int64_t total_steps_ = 0;
  double momentum_ = 0.9;
  bool cycles_momentum_ = false;
  // Resolved step counts.
  double one_cycle_total_ = 0;
  double step_up_ = 0, step_down_ = 0;
  int64_t t_0_ = 1;
  int64_t range_steps_ = 1;
};

// Checks the ranges of every schedule parameter without resolving step counts. `path` prefixes
// field names in the error (e.g. "grid.schedule[2].one_cycle").
absl::Status ValidateSchedule(const ScheduleSpec& spec, const std::string& path);

// ---- The schedule as a table ----
// One implementation behind both previews (`hypersweep schedule` and `hypersweep-worker
// schedule`) and the CLI's schedule plots, so they print and draw the same numbers.

struct ScheduleTableOptions {
  int64_t steps = 1;            // rows cover steps 0 .. steps-1; >= 1
  int64_t steps_per_epoch = 1;  // >= 1; the run has ceil(steps / steps_per_epoch) epochs
  double momentum = 0.9;        // used when the schedule does not cycle momentum
  // 0: a row for every step. Otherwise every k-th step (k = ceil(steps / max_rows)) plus the
  // last step, so at most max_rows + 1 rows (for plots of long runs).
  int64_t max_rows = 0;
};

// One optimizer step: the values Schedule::Lr(step) and Schedule::Momentum(step).
struct ScheduleRow {
  int64_t step = 0;
  int64_t epoch = 0;  // step / steps_per_epoch
  double lr = 0;
  double momentum = 0;
};

// The schedule's rows in step order. INVALID_ARGUMENT when steps or steps_per_epoch is < 1
// ("steps: must be >= 1") or when Schedule::Create rejects the spec (naming the field).
absl::StatusOr<std::vector<ScheduleRow>> ScheduleTable(const ScheduleSpec& spec,
                                                       const ScheduleTableOptions& options);

// Writes the rows as CSV: the header "step,epoch,lr,momentum", then one line per row; integers
// in decimal, lr and momentum with up to 10 significant digits ("%.10g": 0.1, 4e-07, nan).
void WriteScheduleCsv(const std::vector<ScheduleRow>& rows, std::ostream& out);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_SCHEDULE_H_
