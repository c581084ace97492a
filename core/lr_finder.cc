#include "core/lr_finder.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace hypersweep {

absl::StatusOr<SuggestRule> ParseSuggestRule(const std::string& name) {
  if (name == "steepest") return SuggestRule::kSteepest;
  if (name == "min_div_10") return SuggestRule::kMinDiv10;
  if (name == "min") return SuggestRule::kMin;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown rule '", name, "'; expected steepest, min_div_10 or min"));
}

const char* SuggestRuleName(SuggestRule rule) {
  switch (rule) {
    case SuggestRule::kSteepest:
      return "steepest";
    case SuggestRule::kMinDiv10:
      return "min_div_10";
    case SuggestRule::kMin:
      return "min";
  }
  return "?";
}

bool LrRangeTracker::Add(double lr, double loss) {
  if (!std::isfinite(loss)) {
    curve_.push_back({lr, loss, loss});
    return true;
  }
  ++n_;
  avg_ = kBeta * avg_ + (1 - kBeta) * loss;
  const double smoothed = avg_ / (1 - std::pow(kBeta, n_));
  curve_.push_back({lr, loss, smoothed});
  if (n_ == 1 || smoothed < best_) best_ = smoothed;
  return smoothed > kStopFactor * best_;
}

absl::StatusOr<LrSuggestion> SuggestLr(const std::vector<LrCurvePoint>& curve) {
  // Only the finite prefix counts.
  size_t n = 0;
  while (n < curve.size() && std::isfinite(curve[n].smoothed) && curve[n].lr > 0) ++n;
  if (n < 5) {
    return absl::FailedPreconditionError(
        absl::StrCat("LR range test too short for a suggestion (", n, " usable steps)"));
  }
  // The first steps are noise the EMA has not averaged out yet (batch losses vary a lot at tiny
  // LRs): the minimum and the steepest descent are looked for after them, and the minimum must be
  // below everything seen during them.
  const size_t warm = std::max<size_t>(3, n / 10);
  if (n < warm + 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("LR range test too short for a suggestion (", n, " usable steps)"));
  }
  double early_max = curve[0].smoothed;
  for (size_t i = 1; i < warm; ++i) early_max = std::max(early_max, curve[i].smoothed);
  size_t imin = warm;
  for (size_t i = warm + 1; i < n; ++i) {
    if (curve[i].smoothed < curve[imin].smoothed) imin = i;
  }
  if (!(curve[imin].smoothed < early_max)) {
    return absl::FailedPreconditionError(
        "LR range test loss never fell below its starting level: lower min_lr or raise max_lr");
  }
  size_t isteep = imin;
  double best_slope = 0;
  // Slopes over a window of +-k steps (a twentieth of the curve): single-step slopes of a noisy
  // curve would pick noise at tiny LRs.
  const size_t k = std::max<size_t>(1, n / 20);
  for (size_t i = warm; i < imin; ++i) {
    const size_t lo = i >= k ? i - k : 0;
    const size_t hi = std::min(i + k, imin);
    const double dx = std::log(curve[hi].lr) - std::log(curve[lo].lr);
    if (dx <= 0) continue;
    const double slope = (curve[hi].smoothed - curve[lo].smoothed) / dx;
    if (slope < best_slope) {
      best_slope = slope;
      isteep = i;
    }
  }
  LrSuggestion s;
  s.at_min = curve[imin].lr;
  s.min_div_10 = s.at_min / 10;
  s.steepest = best_slope < 0 ? curve[isteep].lr : s.min_div_10;
  return s;
}

}  // namespace hypersweep
