// LR range test bookkeeping and suggestion rules (Smith 2018, sec. 4.1), independent of torch:
// the trainer feeds (lr, loss) per step; LrRangeTracker decides when to stop (with a lagging EMA,
// which is fine for a stop rule) and SuggestLr applies the rules to a lag-free smoothing of the
// raw losses (CentredCurve), so that a suggestion does not move with the batch size's step count.
#ifndef HYPERSWEEP_CORE_LR_FINDER_H_
#define HYPERSWEEP_CORE_LR_FINDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hypersweep {

struct LrCurvePoint {
  double lr = 0;
  double loss = 0;      // the batch's loss; not finite where the test diverged
  double smoothed = 0;  // EMA (beta 0.98) with bias correction: the stop rule's view
};

// Every rule reads the centred curve (below) over the points with a full smoothing window, after
// checking that the loss falls clearly (the minimum is at least kMinFall of the starting level
// below it); a rule that has no answer fails with FAILED_PRECONDITION saying why, never with
// another rule's value.
//   min:        the minimum's lr (Smith's max LR for 1cycle and cyclical schedules), taken as the
//               middle, in log lr, of the curve's bottom (kBottomFraction): the lowest point of a
//               flat, noisy bottom moves by up to a decade between seeds, the bottom's edges do
//               not. Needs the loss to rise clearly after the minimum (see kRiseFraction): a test
//               that ended at its step limit still falling has no minimum, only an end.
//   min_div_10: min's lr / 10, a safe constant LR. Needs only the clear fall: when the test ended
//               still falling, the bottom ends at the last point, an LR at which the loss fell.
//   steepest:   the lr of the most negative slope of the smoothed loss against log lr before the
//               minimum. Fails when there is no descent before the minimum.
//   valley:     after fastai's rule: the longest stretch over which the smoothed loss keeps
//   falling,
//               and the lr half way along it (fastai's index: a third of the stretch plus half a
//               third). The stretch is the longest run of consecutive points with a negative local
//               slope; fastai takes the longest decreasing subsequence of the raw losses, which
//               also threads through the wiggles of a flat, noisy start.
enum class SuggestRule { kSteepest, kMinDiv10, kMin, kValley };
inline constexpr SuggestRule kAllSuggestRules[] = {SuggestRule::kMin, SuggestRule::kMinDiv10,
                                                   SuggestRule::kSteepest, SuggestRule::kValley};

// The rule `max_lr: auto` and lr-find use unless told otherwise: the one whose LR trained best in
// bench/rule_comparison.py (1cycle on Fashion-MNIST, batch 64..1024, 3 seeds; docs/PERFORMANCE.md).
inline constexpr SuggestRule kDefaultSuggestRule = SuggestRule::kMin;

// Parses "min", "min_div_10", "steepest" or "valley".
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

// The lag-free smoothing. Diverged points (non-finite loss) and points with lr <= 0 are skipped.
// Point i's value is a least-squares line in log10(lr) through the raw losses of points i-h .. i+h
// (symmetric, so a trend is not delayed as an EMA delays it), taken at log10(lr_i); h is
// kHalfWindowDecades worth of points (from the curve's mean density, at least kMinHalfWindow), and
// shrinks near the ends so the window stays symmetric (h = 0 at the first and last point).
struct CentredPoint {
  double lr = 0;
  double loss = 0;      // the smoothed loss
  double slope = 0;     // its slope against log10(lr); 0 where h == 0
  int half_window = 0;  // h
};
struct CentredCurve {
  std::vector<CentredPoint> points;
  int full_half_window = 0;  // h away from the ends; the rules use only points that have it
  bool diverged = false;     // the test had a non-finite loss (it stops there)
};
inline constexpr double kHalfWindowDecades = 0.2;
inline constexpr int kMinHalfWindow = 2;
CentredCurve SmoothCentred(const std::vector<LrCurvePoint>& curve);

inline constexpr int kMinUsablePoints = 8;  // finite points needed for any suggestion
// The longest range test (steps) a spec may ask for, and so the most points a curve may carry
// when a worker reports it: the coordinator refuses longer curves.
inline constexpr int64_t kMaxLrCurvePoints = 100'000;
inline constexpr double kMinFall = 0.02;  // the minimum must be 2% of the start below it
// `min` needs a clear rise after the minimum: the smoothed loss after it reaches
// min + kRiseFraction x (start - min) or kRiseFactor x min (for a positive min), or the test
// diverged, or its stop rule (EMA > kStopFactor x its minimum) fired. A flat, noisy bottom at the
// step limit wiggles far less than either.
inline constexpr double kRiseFraction = 0.25;
inline constexpr double kRiseFactor = 1.5;
// The bottom of the curve: the points within kBottomFraction x (start - min) of the lowest
// smoothed loss, from where the fall ends to where the rise starts; `min` is its middle in log lr.
inline constexpr double kBottomFraction = 0.1;

// Each rule's LR, or why it has none.
struct LrSuggestions {
  std::map<SuggestRule, absl::StatusOr<double>> by_rule;
  absl::StatusOr<double> Get(SuggestRule rule) const;
  bool AnyOk() const;
};

LrSuggestions SuggestLr(const std::vector<LrCurvePoint>& curve);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_LR_FINDER_H_
