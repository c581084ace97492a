// Statistics used for metrics and aggregation: weighted ROC AUC, AMS, mean and standard error.
// Pure functions; thread-safe.
#ifndef HYPERSWEEP_CORE_STATS_H_
#define HYPERSWEEP_CORE_STATS_H_

#include <cstdint>
#include <map>
#include <vector>

namespace hypersweep {

// Weighted area under the ROC curve. labels are 0/1; weights may be empty (all 1). Ties in score
// count half. Returns NaN when either class has zero total weight.
double WeightedAuc(const std::vector<float>& scores, const std::vector<float>& labels,
                   const std::vector<float>& weights);

// Approximate median significance with regularisation b_reg (HiggsML: 10):
// sqrt(2 ((s + b + b_reg) ln(1 + s / (b + b_reg)) - s)).
double Ams(double s, double b, double b_reg = 10.0);

// The best AMS over all score thresholds, with s and b the weighted sums of signal and background
// above the threshold. `scale` multiplies the weights first (e.g. 1 / validation fraction).
double BestAms(const std::vector<float>& scores, const std::vector<float>& labels,
               const std::vector<float>& weights, double scale = 1.0, double b_reg = 10.0);

double Mean(const std::vector<double>& xs);
// Standard error of the mean: sample standard deviation / sqrt(n); NaN for n < 2 (one run says
// nothing about its spread: callers show no SE, never 0).
double StandardError(const std::vector<double>& xs);

// The mean difference a - b over the seeds (or folds) both have, with its standard error: pairing
// removes what the seed does to both (the split, the initialisation), so a difference can be
// clear when each side's own spread is wide. se is NaN with fewer than two pairs.
struct Difference {
  double mean = 0;
  double se = 0;
  int pairs = 0;
};
Difference PairedDifference(const std::map<uint64_t, double>& a,
                            const std::map<uint64_t, double>& b);

// What a difference supports: within kClearSes standard errors of 0 (or with fewer than two
// pairs, whose uncertainty is unknown) it is no clear difference.
inline constexpr double kClearSes = 2.0;
enum class Verdict { kFirstBetter, kSecondBetter, kNoClearDifference, kTooFewPairs };
Verdict Judge(const Difference& d, bool lower_is_better);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_STATS_H_
