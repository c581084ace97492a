// Tree-structured Parzen Estimator (Bergstra et al. 2011), univariate, with Optuna 3.1's
// TPESampler defaults as the reference (docs/SEARCH.md lists what differs). Torch-free and
// deterministic: a proposal is a function of (seed, proposal index, ordered history) only, drawn
// with std::mt19937_64 (whose output the standard fixes) and our own uniform/normal samplers, so
// the same inputs give the same point on every platform with the same libm.
#ifndef HYPERSWEEP_CORE_TPE_H_
#define HYPERSWEEP_CORE_TPE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hypersweep::tpe {

// One search dimension, in its external form.
struct Dimension {
  enum class Kind { kUniform, kLogUniform, kInt, kChoice };
  Kind kind = Kind::kUniform;
  double low = 0, high = 1;  // uniform, log_uniform (low > 0), int (inclusive, integers)
  int64_t choices = 0;       // choice: the number of choices (>= 1)
};

// A finished point. `x` has one value per dimension in external form: the number itself for
// uniform, log_uniform and int; the choice index for choice.
struct Observation {
  std::vector<double> x;
  double value = 0;     // the objective (NaN: treated as the worst value)
  bool pruned = false;  // stopped early: `value` is the last reported value, at `steps` epochs
  int64_t steps = 0;    // pruned only: epochs trained (0: nothing reported)
};

struct Options {
  bool maximize = false;
  int64_t startup_trials = 10;  // random points until this many observations exist
  int64_t ei_candidates = 24;   // candidates drawn from l(x); the best l(x)/g(x) wins
  double prior_weight = 1.0;
  // Optuna 3.1's truncated-normal log density leaves out the -log(sigma) term (its
  // _truncnorm.logpdf standardises x but never divides by the scale), which favours wide kernels.
  // true: do the same, so proposals follow Optuna 3.1's distribution; false: the textbook density.
  bool optuna31_density = true;
};

// gamma(n) = min(ceil(n / 10), 25): how many observations form the "good" group l(x).
int64_t Gamma(int64_t n);

// Mixture weights of n observations in chronological order: 1 each for n < 25, else a linear
// ramp from 1/n to 1 over the oldest n - 25 and 1 for the newest 25 (Optuna's default_weights).
std::vector<double> DefaultWeights(int64_t n);

// Indices (chronological, ascending) of the gamma(n) best observations: completed ones by value,
// then pruned ones by steps trained (more is better) and then by value; ties by age.
std::vector<size_t> BelowIndices(const std::vector<Observation>& history, bool maximize);

// The log density at `x` of the Parzen estimator built from `observations` (values in external
// form, chronological), as Optuna 3.1's _ParzenEstimator.log_pdf computes it (log_uniform: the
// density of log x). For tests against Optuna's numbers.
double ParzenLogPdf(const Dimension& dim, const std::vector<double>& observations,
                    const Options& options, double x);

// The next point: random (uniform in each dimension, log-uniform in log space) while
// history.size() < startup_trials, else TPE. `index` is the proposal's number in its search (0,
// 1, ...); with `seed` it seeds the point's own random stream. Precondition: every dimension is
// valid and every observation has one in-range value per dimension.
std::vector<double> Propose(const std::vector<Dimension>& space,
                            const std::vector<Observation>& history, const Options& options,
                            uint64_t seed, uint64_t index);

}  // namespace hypersweep::tpe

#endif  // HYPERSWEEP_CORE_TPE_H_
