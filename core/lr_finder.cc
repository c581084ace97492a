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
  size_t imin = 0;
  for (size_t i = 1; i < n; ++i) {
    if (curve[i].smoothed < curve[imin].smoothed) imin = i;
  }
  if (imin == 0) {
    return absl::FailedPreconditionError(
        "LR range test loss never fell below its first value: lower min_lr");
  }
  // Skip the first steps, where the EMA has not settled.
  const size_t skip = std::min<size_t>(n / 20, imin / 2);
  size_t isteep = skip;
  double best_slope = 0;
  for (size_t i = skip; i < imin; ++i) {
    // Central difference where possible, in log(lr).
    const size_t a = i == 0 ? 0 : i - 1;
    const size_t b = i + 1;
    const double dx = std::log(curve[b].lr) - std::log(curve[a].lr);
    if (dx <= 0) continue;
    const double slope = (curve[b].smoothed - curve[a].smoothed) / dx;
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
