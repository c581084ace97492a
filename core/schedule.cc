#include "core/schedule.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/lr_finder.h"
#include "core/status_macros.h"

namespace hypersweep {
namespace {

constexpr double kPi = 3.14159265358979323846;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool IsAuto(const ScheduleSpec& spec, const std::string& field) {
  return std::find(spec.auto_fields.begin(), spec.auto_fields.end(), field) !=
         spec.auto_fields.end();
}

absl::Status Invalid(const std::string& path, const std::string& field, const std::string& what,
                     double got) {
  return absl::InvalidArgumentError(absl::StrFormat("%s.%s: %s, got %g", path, field, what, got));
}

absl::Status CheckPositive(const ScheduleSpec& spec, const std::string& path,
                           const std::string& field, double v) {
  if (IsAuto(spec, field)) return absl::OkStatus();
  if (!(v > 0) || !std::isfinite(v)) return Invalid(path, field, "must be > 0", v);
  return absl::OkStatus();
}

absl::Status CheckMomentumPair(const std::string& path, double base, double max) {
  if (!(base >= 0 && base < 1)) return Invalid(path, "base_momentum", "must be in [0, 1)", base);
  if (!(max >= 0 && max < 1)) return Invalid(path, "max_momentum", "must be in [0, 1)", max);
  if (base > max) {
    return Invalid(path, "max_momentum", "must be >= base_momentum", max);
  }
  return absl::OkStatus();
}

absl::Status CheckStepCount(const std::string& path, const std::string& field, const StepCount& c,
                            bool required) {
  if (c.steps && c.epochs) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", field, ": give either ", field,
                                                   " or ", field, "_epochs, not both"));
  }
  if (!c.set()) {
    if (required) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".", field, ": required (or ", field, "_epochs)"));
    }
    return absl::OkStatus();
  }
  if (c.steps && !(*c.steps > 0 && std::isfinite(*c.steps))) {
    return Invalid(path, field, "must be > 0", *c.steps);
  }
  if (c.epochs && !(*c.epochs > 0 && std::isfinite(*c.epochs))) {
    return Invalid(path, field + "_epochs", "must be > 0", *c.epochs);
  }
  return absl::OkStatus();
}

// Steps for a StepCount; epochs are converted with the run's steps per epoch.
double ResolveSteps(const StepCount& c, const RunGeometry& g, double fallback) {
  if (c.steps) return *c.steps;
  if (c.epochs) return *c.epochs * static_cast<double>(g.steps_per_epoch);
  return fallback;
}

double Anneal(AnnealStrategy s, double start, double end, double pct) {
  if (s == AnnealStrategy::kCos) return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1);
  return (end - start) * pct + start;
}

}  // namespace

std::string ScheduleName(const ScheduleSpec& spec) {
  return std::visit(Overloaded{
                        [](const ConstantSchedule&) { return "constant"; },
                        [](const OneCycleSchedule&) { return "one_cycle"; },
                        [](const CyclicSchedule&) { return "cyclic"; },
                        [](const CosineRestartsSchedule&) { return "cosine_restarts"; },
                        [](const LrRangeTestSchedule&) { return "lr_range_test"; },
                    },
                    spec.kind);
}

void ResolveAutoLr(ScheduleSpec& spec, double max_lr, double div) {
  auto take = [&](const std::string& field, double& slot, double value) {
    auto it = std::find(spec.auto_fields.begin(), spec.auto_fields.end(), field);
    if (it == spec.auto_fields.end()) return;
    slot = value;
    spec.auto_fields.erase(it);
  };
  std::visit(Overloaded{
                 [&](ConstantSchedule& s) { take("lr", s.lr, max_lr); },
                 [&](OneCycleSchedule& s) { take("max_lr", s.max_lr, max_lr); },
                 [&](CyclicSchedule& s) {
                   take("max_lr", s.max_lr, max_lr);
                   take("base_lr", s.base_lr, s.max_lr / div);
                 },
                 [&](CosineRestartsSchedule& s) { take("max_lr", s.max_lr, max_lr); },
                 [&](LrRangeTestSchedule&) {},
             },
             spec.kind);
}

absl::Status ValidateSchedule(const ScheduleSpec& spec, const std::string& base) {
  const std::string path = absl::StrCat(base, base.empty() ? "" : ".", ScheduleName(spec));
  return std::visit(
      Overloaded{
          [&](const ConstantSchedule& s) { return CheckPositive(spec, path, "lr", s.lr); },
          [&](const OneCycleSchedule& s) -> absl::Status {
            RETURN_IF_ERROR(CheckPositive(spec, path, "max_lr", s.max_lr));
            if (!(s.pct_start > 0 && s.pct_start < 1)) {
              return Invalid(path, "pct_start", "must be in (0, 1)", s.pct_start);
            }
            if (s.three_phase && !(s.pct_start < 0.5)) {
              return Invalid(path, "pct_start", "must be < 0.5 with three_phase", s.pct_start);
            }
            RETURN_IF_ERROR(CheckPositive(spec, path, "div_factor", s.div_factor));
            RETURN_IF_ERROR(CheckPositive(spec, path, "final_div_factor", s.final_div_factor));
            RETURN_IF_ERROR(CheckStepCount(path, "total_steps", s.total_steps, false));
            if (s.cycle_momentum)
              RETURN_IF_ERROR(CheckMomentumPair(path, s.base_momentum, s.max_momentum));
            return absl::OkStatus();
          },
          [&](const CyclicSchedule& s) -> absl::Status {
            RETURN_IF_ERROR(CheckPositive(spec, path, "base_lr", s.base_lr));
            RETURN_IF_ERROR(CheckPositive(spec, path, "max_lr", s.max_lr));
            if (!IsAuto(spec, "max_lr") && !IsAuto(spec, "base_lr") && s.max_lr < s.base_lr) {
              return absl::InvalidArgumentError(absl::StrFormat(
                  "%s.max_lr: must be >= base_lr (%g), got %g", path, s.base_lr, s.max_lr));
            }
            RETURN_IF_ERROR(CheckStepCount(path, "step_size_up", s.step_size_up, true));
            RETURN_IF_ERROR(CheckStepCount(path, "step_size_down", s.step_size_down, false));
            RETURN_IF_ERROR(CheckPositive(spec, path, "gamma", s.gamma));
            if (s.cycle_momentum)
              RETURN_IF_ERROR(CheckMomentumPair(path, s.base_momentum, s.max_momentum));
            return absl::OkStatus();
          },
          [&](const CosineRestartsSchedule& s) -> absl::Status {
            RETURN_IF_ERROR(CheckPositive(spec, path, "max_lr", s.max_lr));
            RETURN_IF_ERROR(CheckStepCount(path, "t_0", s.t_0, true));
            if (s.t_mult < 1) return Invalid(path, "t_mult", "must be an integer >= 1", s.t_mult);
            if (!(s.eta_min >= 0) || !std::isfinite(s.eta_min)) {
              return Invalid(path, "eta_min", "must be >= 0", s.eta_min);
            }
            if (!IsAuto(spec, "max_lr") && s.eta_min > s.max_lr) {
              return Invalid(path, "eta_min", "must be <= max_lr", s.eta_min);
            }
            return absl::OkStatus();
          },
          [&](const LrRangeTestSchedule& s) -> absl::Status {
            RETURN_IF_ERROR(CheckPositive(spec, path, "min_lr", s.min_lr));
            RETURN_IF_ERROR(CheckPositive(spec, path, "max_lr", s.max_lr));
            if (!(s.max_lr > s.min_lr)) {
              return Invalid(path, "max_lr", "must be > min_lr", s.max_lr);
            }
            RETURN_IF_ERROR(CheckStepCount(path, "steps", s.steps, false));
            if (s.steps_per_decade < 0 || s.steps_per_decade > 10000) {
              return Invalid(path, "steps_per_decade", "must be in [1, 10000]",
                             static_cast<double>(s.steps_per_decade));
            }
            if (s.steps_per_decade > 0 && s.steps.set()) {
              return absl::InvalidArgumentError(
                  path + ".steps_per_decade: give either steps or steps_per_decade, not both");
            }
            return absl::OkStatus();
          },
      },
      spec.kind);
}

absl::StatusOr<Schedule> Schedule::Create(const ScheduleSpec& spec, const RunGeometry& g) {
  if (!spec.auto_fields.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule.", ScheduleName(spec), ".", spec.auto_fields.front(),
                     ": 'auto' must be resolved by an LR range test before training"));
  }
  RETURN_IF_ERROR(ValidateSchedule(spec, "schedule"));
  if (g.steps_per_epoch < 1 || g.epochs < 1) {
    return absl::InvalidArgumentError("schedule: the run needs at least one step and one epoch");
  }
  Schedule s;
  s.kind_ = spec.kind;
  s.momentum_ = g.momentum;
  s.total_steps_ = g.steps_per_epoch * g.epochs;
  const std::string path = "schedule." + ScheduleName(spec);
  absl::Status st = std::visit(
      Overloaded{
          [&](const ConstantSchedule&) { return absl::OkStatus(); },
          [&](const OneCycleSchedule& o) -> absl::Status {
            s.one_cycle_total_ = std::floor(ResolveSteps(o.total_steps, g, s.total_steps_));
            if (s.one_cycle_total_ < 2) {
              return absl::InvalidArgumentError(path + ".total_steps: must be >= 2 steps");
            }
            s.cycles_momentum_ = o.cycle_momentum;
            return absl::OkStatus();
          },
          [&](const CyclicSchedule& c) -> absl::Status {
            s.step_up_ = ResolveSteps(c.step_size_up, g, 0);
            s.step_down_ = ResolveSteps(c.step_size_down, g, s.step_up_);
            s.cycles_momentum_ = c.cycle_momentum;
            return absl::OkStatus();
          },
          [&](const CosineRestartsSchedule& c) -> absl::Status {
            double t0 = std::round(ResolveSteps(c.t_0, g, 0));
            if (t0 < 1) return absl::InvalidArgumentError(path + ".t_0: must be >= 1 step");
            s.t_0_ = static_cast<int64_t>(t0);
            return absl::OkStatus();
          },
          [&](const LrRangeTestSchedule& r) -> absl::Status {
            const int64_t per_decade =
                r.steps_per_decade > 0 ? r.steps_per_decade : kDefaultRangeStepsPerDecade;
            const double by_decade = std::ceil(per_decade * std::log10(r.max_lr / r.min_lr));
            double steps = std::round(ResolveSteps(r.steps, g, by_decade));
            if (steps < 2) return absl::InvalidArgumentError(path + ".steps: must be >= 2");
            if (steps > static_cast<double>(kMaxLrCurvePoints)) {
              return absl::InvalidArgumentError(absl::StrCat(
                  path, ": ", steps, " steps; a range test may have at most ", kMaxLrCurvePoints,
                  " (fewer steps or steps_per_decade, or a narrower min_lr .. max_lr)"));
            }
            s.range_steps_ = static_cast<int64_t>(steps);
            s.total_steps_ = s.range_steps_;
            return absl::OkStatus();
          },
      },
      spec.kind);
  RETURN_IF_ERROR(st);
  return s;
}

namespace {

struct LrMom {
  double lr;
  double momentum;  // NaN when the schedule does not set it
};

LrMom OneCycleAt(const OneCycleSchedule& o, double total, int64_t step) {
  const double initial_lr = o.max_lr / o.div_factor;
  const double min_lr = initial_lr / o.final_div_factor;
  struct Phase {
    double end_step, start_lr, end_lr, start_m, end_m;
  };
  Phase phases[3];
  size_t n_phases = 0;
  if (o.three_phase) {
    phases[n_phases++] = {o.pct_start * total - 1, initial_lr, o.max_lr, o.max_momentum,
                          o.base_momentum};
    phases[n_phases++] = {2 * o.pct_start * total - 2, o.max_lr, initial_lr, o.base_momentum,
                          o.max_momentum};
    phases[n_phases++] = {total - 1, initial_lr, min_lr, o.max_momentum, o.max_momentum};
  } else {
    phases[n_phases++] = {o.pct_start * total - 1, initial_lr, o.max_lr, o.max_momentum,
                          o.base_momentum};
    phases[n_phases++] = {total - 1, o.max_lr, min_lr, o.base_momentum, o.max_momentum};
  }
  const double step_num = static_cast<double>(std::min<int64_t>(step, static_cast<int64_t>(total)));
  double start_step = 0;
  for (size_t i = 0; i < n_phases; ++i) {
    const Phase& p = phases[i];
    if (step_num <= p.end_step || i + 1 == n_phases) {
      const double pct = (step_num - start_step) / (p.end_step - start_step);
      return {Anneal(o.anneal_strategy, p.start_lr, p.end_lr, pct),
              Anneal(o.anneal_strategy, p.start_m, p.end_m, pct)};
    }
    start_step = p.end_step;
  }
  return {min_lr, o.max_momentum};  // unreachable
}

LrMom CyclicAt(const CyclicSchedule& c, double up, double down, int64_t step) {
  const double total_size = up + down;
  const double step_ratio = up / total_size;
  const double last = static_cast<double>(step);
  const double cycle = std::floor(1 + last / total_size);
  const double x = 1.0 + last / total_size - cycle;
  const double scale_factor = x <= step_ratio ? x / step_ratio : (x - 1) / (step_ratio - 1);
  double scale = 1.0;
  switch (c.mode) {
    case CyclicMode::kTriangular:
      scale = 1.0;
      break;
    case CyclicMode::kTriangular2:
      scale = 1.0 / std::pow(2.0, cycle - 1);
      break;
    case CyclicMode::kExpRange:
      scale = std::pow(c.gamma, last);
      break;
  }
  const double lr = c.base_lr + (c.max_lr - c.base_lr) * scale_factor * scale;
  const double m = c.max_momentum - (c.max_momentum - c.base_momentum) * scale_factor * scale;
  return {lr, m};
}

LrMom CosineRestartsAt(const CosineRestartsSchedule& c, int64_t t_0, int64_t step) {
  int64_t t_cur = step;
  int64_t t_i = t_0;
  if (c.t_mult == 1) {
    t_cur = step % t_0;
  } else {
    while (t_cur >= t_i) {
      t_cur -= t_i;
      t_i *= c.t_mult;
    }
  }
  const double lr =
      c.eta_min + (c.max_lr - c.eta_min) *
                      (1 + std::cos(kPi * static_cast<double>(t_cur) / static_cast<double>(t_i))) /
                      2;
  return {lr, std::nan("")};
}

LrMom RangeTestAt(const LrRangeTestSchedule& r, int64_t steps, int64_t step) {
  const double f = static_cast<double>(std::min(step, steps - 1)) / static_cast<double>(steps - 1);
  if (r.mode == RangeTestMode::kExp)
    return {r.min_lr * std::pow(r.max_lr / r.min_lr, f), std::nan("")};
  return {r.min_lr + (r.max_lr - r.min_lr) * f, std::nan("")};
}

}  // namespace

double Schedule::Lr(int64_t step) const {
  step = std::max<int64_t>(step, 0);
  return std::visit(
      Overloaded{
          [&](const ConstantSchedule& c) { return c.lr; },
          [&](const OneCycleSchedule& o) { return OneCycleAt(o, one_cycle_total_, step).lr; },
          [&](const CyclicSchedule& c) { return CyclicAt(c, step_up_, step_down_, step).lr; },
          [&](const CosineRestartsSchedule& c) { return CosineRestartsAt(c, t_0_, step).lr; },
          [&](const LrRangeTestSchedule& r) { return RangeTestAt(r, range_steps_, step).lr; },
      },
      kind_);
}

double Schedule::Momentum(int64_t step) const {
  if (!cycles_momentum_) return momentum_;
  step = std::max<int64_t>(step, 0);
  if (const auto* o = std::get_if<OneCycleSchedule>(&kind_)) {
    return OneCycleAt(*o, one_cycle_total_, step).momentum;
  }
  if (const auto* c = std::get_if<CyclicSchedule>(&kind_)) {
    return CyclicAt(*c, step_up_, step_down_, step).momentum;
  }
  return momentum_;
}

absl::StatusOr<std::vector<ScheduleRow>> ScheduleTable(const ScheduleSpec& spec,
                                                       const ScheduleTableOptions& options) {
  if (options.steps < 1) return absl::InvalidArgumentError("steps: must be >= 1");
  if (options.steps_per_epoch < 1) {
    return absl::InvalidArgumentError("steps_per_epoch: must be >= 1");
  }
  RunGeometry geometry;
  geometry.steps_per_epoch = options.steps_per_epoch;
  geometry.epochs = (options.steps + options.steps_per_epoch - 1) / options.steps_per_epoch;
  geometry.momentum = options.momentum;
  ASSIGN_OR_RETURN(const Schedule schedule, Schedule::Create(spec, geometry));
  auto row = [&](int64_t step) {
    return ScheduleRow{step, step / options.steps_per_epoch, schedule.Lr(step),
                       schedule.Momentum(step)};
  };
  const int64_t stride =
      options.max_rows > 0
          ? std::max<int64_t>(1, (options.steps + options.max_rows - 1) / options.max_rows)
          : 1;
  std::vector<ScheduleRow> rows;
  rows.reserve(options.steps / stride + 2);
  for (int64_t step = 0; step < options.steps; step += stride) rows.push_back(row(step));
  if (rows.back().step != options.steps - 1) rows.push_back(row(options.steps - 1));
  return rows;
}

void WriteScheduleCsv(const std::vector<ScheduleRow>& rows, std::ostream& out) {
  out << "step,epoch,lr,momentum\n";
  for (const ScheduleRow& r : rows) {
    out << absl::StrFormat("%d,%d,%.10g,%.10g\n", r.step, r.epoch, r.lr, r.momentum);
  }
}

}  // namespace hypersweep
