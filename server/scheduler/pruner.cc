#include "server/scheduler/pruner.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/scheduler/auto_lr_planner.h"

namespace hypersweep {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const double pos = 0.5 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = static_cast<size_t>(std::ceil(pos));
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

MedianVerdict JudgeMedian(const PrunerSpec& spec, bool maximize, const PrunerCurve& own,
                          int64_t step, const std::vector<const PrunerCurve*>& completed) {
  MedianVerdict v;
  v.completed = static_cast<int64_t>(completed.size());
  if (completed.empty() || v.completed < spec.startup_trials) return v;
  if (step < spec.warmup_epochs) return v;
  // Judged only at the first step reported in each interval (Optuna's
  // _is_first_in_interval_step): the last step before this one lies before the interval's start.
  const int64_t interval_start =
      (step - spec.warmup_epochs) / spec.interval * spec.interval + spec.warmup_epochs;
  int64_t second_last = -1;
  for (const auto& [s, value] : own) {
    if (s != step && s <= step) second_last = std::max(second_last, s);
  }
  if (second_last >= interval_start) return v;
  bool any = false;
  for (const auto& [s, value] : own) {
    if (s > step) continue;
    if (!any || (maximize ? value > v.best : value < v.best)) v.best = value;
    any = true;
  }
  if (!any) return v;
  std::vector<double> at_step;
  for (const PrunerCurve* c : completed) {
    if (auto it = c->find(step); it != c->end()) at_step.push_back(it->second);
  }
  if (at_step.empty()) return v;  // Optuna's n_min_trials = 1
  v.median = Median(std::move(at_step));
  v.prune = maximize ? v.best < v.median : v.best > v.median;
  return v;
}

std::optional<int64_t> AshaRungAt(const PrunerSpec& spec, int64_t step) {
  int64_t rung_step = spec.min_epochs;
  for (int64_t k = 0; rung_step <= step; ++k) {
    if (rung_step == step) return k;
    if (rung_step > step / spec.reduction_factor) break;  // the next would pass step (or overflow)
    rung_step *= spec.reduction_factor;
  }
  return std::nullopt;
}

bool AshaPromotes(double value, std::vector<double> competing, int64_t reduction_factor,
                  bool maximize) {
  int64_t idx = static_cast<int64_t>(competing.size()) / reduction_factor - 1;
  if (idx < 0) idx = 0;
  std::sort(competing.begin(), competing.end());
  return maximize ? value >= competing[competing.size() - 1 - static_cast<size_t>(idx)]
                  : value <= competing[static_cast<size_t>(idx)];
}

SweepPruner::SweepPruner(PrunerSpec spec, Objective objective)
    : spec_(std::move(spec)), objective_(std::move(objective)) {}

void SweepPruner::AddTrial(const TrialRecord& t) {
  if (AutoLrPlanner::IsRangeTest(t) || point_of_.count(t.id) > 0) return;
  std::string key;
  for (const auto& [name, value] : t.params) {
    if (name == "seed" || name == "fold") continue;
    // Length-prefixed so that no value can imitate a separator.
    absl::StrAppend(&key, name.size(), ":", name, "=", value.size(), ":", value, ";");
  }
  point_of_[t.id] = key;
  points_[key].trials.push_back(t.id);
}

void SweepPruner::Record(const std::string& trial_id, const EpochRecord& e) {
  if (point_of_.count(trial_id) == 0) return;
  auto it = e.values.find(objective_.metric);
  if (it == e.values.end() || !std::isfinite(it->second)) return;
  values_[trial_id][e.epoch] = it->second;
}

std::optional<double> SweepPruner::ValueAt(const Point& p, int64_t epoch) const {
  double sum = 0;
  int64_t n = 0;
  for (const auto& id : p.trials) {
    auto v = values_.find(id);
    if (v == values_.end()) continue;
    if (auto e = v->second.find(epoch); e != v->second.end()) {
      sum += e->second;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

PrunerCurve SweepPruner::CurveOf(const Point& p, int64_t last_epoch) const {
  std::set<int64_t> epochs;
  for (const auto& id : p.trials) {
    auto v = values_.find(id);
    if (v == values_.end()) continue;
    for (const auto& [e, value] : v->second) {
      if (e <= last_epoch) epochs.insert(e);
    }
  }
  PrunerCurve c;
  for (int64_t e : epochs) c[e + 1] = *ValueAt(p, e);
  return c;
}

std::optional<std::string> SweepPruner::JudgeStep(
    const std::string& point_key, int64_t epoch,
    const std::function<TrialStatus(const std::string&)>& status) const {
  const Point& own = points_.at(point_key);
  const int64_t step = epoch + 1;
  const bool maximize = objective_.goal == Goal::kMaximize;
  if (spec_.kind == PrunerSpec::Kind::kMedian) {
    std::vector<PrunerCurve> completed;
    for (const auto& [key, p] : points_) {
      if (key == point_key) continue;
      const bool done = std::all_of(p.trials.begin(), p.trials.end(), [&](const std::string& id) {
        return status(id) == TrialStatus::kSucceeded;
      });
      if (!done) continue;
      PrunerCurve c;
      if (auto v = ValueAt(p, epoch)) c[step] = *v;
      completed.push_back(std::move(c));
    }
    std::vector<const PrunerCurve*> refs;
    for (const auto& c : completed) refs.push_back(&c);
    const MedianVerdict v = JudgeMedian(spec_, maximize, CurveOf(own, epoch), step, refs);
    if (!v.prune) return std::nullopt;
    return absl::StrCat("pruned by median at epoch ", epoch, ": best ", objective_.metric, " ",
                        v.best, " is worse than the median ", v.median, " of ", v.completed,
                        " completed points");
  }
  if (spec_.kind == PrunerSpec::Kind::kAsha) {
    const std::optional<int64_t> rung = AshaRungAt(spec_, step);
    if (!rung) return std::nullopt;
    const std::optional<double> value = ValueAt(own, epoch);
    if (!value) return std::nullopt;
    std::vector<double> competing = {*value};
    for (const auto& [key, p] : points_) {
      if (key == point_key) continue;
      if (auto v = ValueAt(p, epoch)) competing.push_back(*v);
    }
    const size_t n = competing.size();
    if (AshaPromotes(*value, std::move(competing), spec_.reduction_factor, maximize)) {
      return std::nullopt;
    }
    return absl::StrCat("pruned by asha at epoch ", epoch, " (rung ", *rung,
                        "): ", objective_.metric, " ", *value, " is not in the best 1/",
                        spec_.reduction_factor, " of the ", n, " points that reached it");
  }
  return std::nullopt;
}

std::optional<std::string> SweepPruner::Judge(
    const std::string& trial_id, const std::vector<int64_t>& new_epochs,
    const std::function<TrialStatus(const std::string&)>& status) const {
  if (!enabled()) return std::nullopt;
  auto p = point_of_.find(trial_id);
  auto v = values_.find(trial_id);
  if (p == point_of_.end() || v == values_.end()) return std::nullopt;
  std::vector<int64_t> epochs = new_epochs;
  std::sort(epochs.begin(), epochs.end());
  for (int64_t e : epochs) {
    if (v->second.count(e) == 0) continue;  // no objective value: not judged
    if (auto why = JudgeStep(p->second, e, status)) return why;
  }
  return std::nullopt;
}

void Pruners::AddSweep(const std::string& sweep_id, const PrunerSpec& spec,
                       const Objective& objective) {
  if (spec.kind == PrunerSpec::Kind::kNone) return;
  by_sweep_.insert_or_assign(sweep_id, SweepPruner(spec, objective));
}

SweepPruner* Pruners::Find(const std::string& sweep_id) {
  auto it = by_sweep_.find(sweep_id);
  return it == by_sweep_.end() ? nullptr : &it->second;
}

}  // namespace hypersweep
