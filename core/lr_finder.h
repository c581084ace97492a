// LR range test bookkeeping and suggestion rules (Smith 2018, sec. 4.1), independent of torch:
// the trainer feeds (lr, loss) per step; this decides when to stop and what to suggest.
#ifndef HYPERSWEEP_CORE_LR_FINDER_H_
#define HYPERSWEEP_CORE_LR_FINDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hypersweep {

struct LrCurvePoint {
  double lr = 0;
  double loss = 0;
  double smoothed = 0;  // EMA (beta 0.98) with bias correction
};

// steepest: the steepest descent of the smoothed loss (vs log lr); min_div_10: the minimum's lr
// / 10 (a safe constant LR); min: the minimum's lr itself, the largest LR at which the loss was
// still falling (Smith's max LR for 1cycle and cyclical schedules).
enum class SuggestRule { kSteepest, kMinDiv10, kMin };

// Parses "steepest", "min_div_10" or "min".
absl::StatusOr<SuggestRule> ParseSuggestRule(const std::string& name);
const char* SuggestRuleName(SuggestRule rule);

// Accumulates the curve. Not thread-safe.
class LrRangeTracker {
 public:
  static constexpr double kBeta = 0.98;
  static constexpr double kStopFactor = 4.0;

  // Records one step; returns true when the test should stop (smoothed loss > 4x its minimum,
  // or a non-finite loss, which is recorded but not smoothed).
  bool Add(double lr, double loss);
  const std::vector<LrCurvePoint>& curve() const { return curve_; }

 private:
  std::vector<LrCurvePoint> curve_;
  double avg_ = 0;
  double best_ = 0;
  int n_ = 0;
};

struct LrSuggestion {
  double steepest = 0;    // lr at the most negative slope of smoothed loss vs log(lr)
  double min_div_10 = 0;  // lr at the smoothed-loss minimum, divided by 10
  double at_min = 0;      // lr at the smoothed-loss minimum
  double Get(SuggestRule rule) const {
    switch (rule) {
      case SuggestRule::kSteepest:
        return steepest;
      case SuggestRule::kMinDiv10:
        return min_div_10;
      case SuggestRule::kMin:
        return at_min;
    }
    return min_div_10;
  }
};

// FAILED_PRECONDITION when the curve is too short or never falls (no usable suggestion).
absl::StatusOr<LrSuggestion> SuggestLr(const std::vector<LrCurvePoint>& curve);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_LR_FINDER_H_
