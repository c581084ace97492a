#include "server/scheduler/tpe_planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace hypersweep {
namespace {

// The value of `p` in a trial's params, in core/tpe's external form.
absl::StatusOr<double> ValueOf(const RandomParam& p, const TrialParams& params, int64_t index) {
  for (const auto& [key, text] : params) {
    if (key != p.key) continue;
    if (p.kind == RandomParam::Kind::kChoice) {
      for (size_t c = 0; c < p.choices.size(); ++c) {
        if (p.choices[c] == text) return static_cast<double>(c);
      }
    } else if (double v; absl::SimpleAtod(text, &v) && v >= p.low && v <= p.high) {
      return v;
    }
    break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tpe: trial ", index, " holds no value of tpe.params.", p.key));
}

}  // namespace

std::vector<tpe::Dimension> TpeSpace(const SweepSpec& spec) {
  std::vector<tpe::Dimension> space;
  for (const RandomParam& p : spec.tpe.params) {
    tpe::Dimension d;
    switch (p.kind) {
      case RandomParam::Kind::kUniform:
        d.kind = tpe::Dimension::Kind::kUniform;
        break;
      case RandomParam::Kind::kLogUniform:
        d.kind = tpe::Dimension::Kind::kLogUniform;
        break;
      case RandomParam::Kind::kInt:
        d.kind = tpe::Dimension::Kind::kInt;
        break;
      case RandomParam::Kind::kChoice:
        d.kind = tpe::Dimension::Kind::kChoice;
        d.choices = static_cast<int64_t>(p.choices.size());
        break;
    }
    d.low = p.low;
    d.high = p.high;
    space.push_back(d);
  }
  return space;
}

absl::StatusOr<TpeSearchState> TpeStateOf(const SweepSpec& spec,
                                          const std::vector<TpeTrialView>& trials) {
  const int64_t per = std::max<int64_t>(TrialsPerPoint(spec), 1);
  std::map<int64_t, std::vector<const TpeTrialView*>> by_point;
  for (const TpeTrialView& t : trials) by_point[t.index / per].push_back(&t);
  TpeSearchState state;
  state.points = by_point.empty() ? 0 : by_point.rbegin()->first + 1;
  for (const auto& [point, members] : by_point) {
    bool final = true, diverged = false, pruned = false, failed = false;
    int64_t min_epochs = std::numeric_limits<int64_t>::max();
    double sum = 0;
    int64_t with_value = 0;
    for (const TpeTrialView* t : members) {
      final = final && IsFinal(t->status);
      diverged = diverged || t->status == TrialStatus::kDiverged;
      pruned = pruned || t->status == TrialStatus::kPruned;
      failed = failed || t->status == TrialStatus::kFailed || t->status == TrialStatus::kCancelled;
      min_epochs = std::min(min_epochs, t->epochs_reported);
      if (t->last_value && std::isfinite(*t->last_value)) {
        sum += *t->last_value;
        ++with_value;
      }
    }
    if (!final || static_cast<int64_t>(members.size()) < per) {
      ++state.outstanding;
      continue;
    }
    tpe::Observation o;
    for (const RandomParam& p : spec.tpe.params) {
      ASSIGN_OR_RETURN(double v, ValueOf(p, members.front()->params, members.front()->index));
      o.x.push_back(v);
    }
    if (diverged) {
      o.value = std::numeric_limits<double>::quiet_NaN();
    } else if (failed || with_value == 0) {
      continue;
    } else {
      o.value = sum / static_cast<double>(with_value);
      o.pruned = pruned;
      o.steps = pruned ? min_epochs : 0;
    }
    state.history.push_back(std::move(o));
  }
  return state;
}

absl::StatusOr<std::vector<TpeNewPoint>> NextTpePoints(const SweepSpec& spec, bool maximize,
                                                       const TpeSearchState& state) {
  const int64_t n = std::min(spec.tpe.parallel - state.outstanding, spec.tpe.trials - state.points);
  std::vector<TpeNewPoint> out;
  if (n <= 0) return out;
  const std::vector<tpe::Dimension> space = TpeSpace(spec);
  tpe::Options options;
  options.maximize = maximize;
  options.startup_trials = spec.tpe.startup_trials;
  for (int64_t k = 0; k < n; ++k) {
    TpeNewPoint p;
    p.point = state.points + k;
    p.values =
        tpe::Propose(space, state.history, options, spec.tpe.seed, static_cast<uint64_t>(p.point));
    ASSIGN_OR_RETURN(p.trials, ExpandTpePoint(spec, p.values));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace hypersweep
