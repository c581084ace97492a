#include "core/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>

namespace hypersweep::tpe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Our own samplers on top of mt19937_64 (whose sequence the standard fixes); the standard
// library's distributions are implementation-defined.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t index) : engine_(SplitMix64(seed ^ SplitMix64(index))) {}
  // Uniform in [0, 1), 53 random bits.
  double Unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Standard normal (Marsaglia's polar method; the second value is discarded).
  double Normal() {
    for (;;) {
      const double u = 2 * Unit() - 1, v = 2 * Unit() - 1;
      const double s = u * u + v * v;
      if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
    }
  }
  // Index drawn with probability proportional to weights (which sum to > 0).
  size_t Pick(const std::vector<double>& weights, double total) {
    double u = Unit() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (u < weights[i]) return i;
      u -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  std::mt19937_64 engine_;
};

// P(l < Z < u) for a standard normal Z, accurate in both tails.
double NormalMass(double l, double u) {
  if (!(u > l)) return 0;
  constexpr double kSqrtHalf = 0.70710678118654752440;
  if (l >= 0) return 0.5 * (std::erfc(l * kSqrtHalf) - std::erfc(u * kSqrtHalf));
  if (u <= 0) return 0.5 * (std::erfc(-u * kSqrtHalf) - std::erfc(-l * kSqrtHalf));
  return 1 - 0.5 * std::erfc(u * kSqrtHalf) - 0.5 * std::erfc(-l * kSqrtHalf);
}

double LogMass(double l, double u) { return std::log(std::max(NormalMass(l, u), 1e-300)); }

double LogSumExp(const std::vector<double>& v) {
  double m = -kInf;
  for (double x : v) m = std::max(m, x);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

// One dimension's Parzen estimator: a mixture of truncated normals (numeric, in the internal
// space: log for log_uniform, [low - 0.5, high + 0.5] for int) or of categorical distributions,
// one component per observation plus the prior.
class Parzen {
 public:
  Parzen(const Dimension& dim, const std::vector<double>& internal, const Options& options)
      : dim_(dim), optuna31_density_(options.optuna31_density) {
    const auto n = static_cast<int64_t>(internal.size());
    weights_ = DefaultWeights(n);
    weights_.push_back(options.prior_weight);
    double total = 0;
    for (double w : weights_) total += w;
    for (double& w : weights_) w /= total;
    log_weights_.reserve(weights_.size());
    for (double w : weights_) log_weights_.push_back(std::log(w));

    if (dim.kind == Dimension::Kind::kChoice) {
      const int64_t k = dim.choices;
      const double base = options.prior_weight / static_cast<double>(n + 1);
      rows_.assign(static_cast<size_t>((n + 1) * k), base);
      for (int64_t i = 0; i < n; ++i) rows_[i * k + static_cast<int64_t>(internal[i])] += 1;
      for (int64_t i = 0; i <= n; ++i) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) s += rows_[i * k + c];
        for (int64_t c = 0; c < k; ++c) rows_[i * k + c] /= s;
      }
      return;
    }
    low_ = dim.low;
    high_ = dim.high;
    if (dim.kind == Dimension::Kind::kLogUniform) {
      low_ = std::log(dim.low);
      high_ = std::log(dim.high);
    } else if (dim.kind == Dimension::Kind::kInt) {
      low_ = dim.low - 0.5;
      high_ = dim.high + 0.5;
    }
    const double range = high_ - low_;
    mus_ = internal;
    mus_.push_back(0.5 * (low_ + high_));
    const size_t m = mus_.size();
    // Bandwidth: the larger gap to a sorted neighbour (the bounds count as neighbours, except
    // for the outermost points when there are at least two: consider_endpoints = False).
    std::vector<size_t> order(m);
    for (size_t i = 0; i < m; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return mus_[a] < mus_[b]; });
    std::vector<double> ends(m + 2);
    ends[0] = low_;
    for (size_t i = 0; i < m; ++i) ends[i + 1] = mus_[order[i]];
    ends[m + 1] = high_;
    std::vector<double> sorted_sigma(m);
    for (size_t i = 0; i < m; ++i) {
      sorted_sigma[i] = std::max(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
    }
    if (m >= 2) {
      sorted_sigma[0] = ends[2] - ends[1];
      sorted_sigma[m - 1] = ends[m] - ends[m - 1];
    }
    // "Magic clip": no kernel narrower than range / min(100, m + 1) nor wider than the range.
    const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(m));
    sigmas_.resize(m);
    for (size_t i = 0; i < m; ++i) {
      sigmas_[order[i]] = std::clamp(sorted_sigma[i], min_sigma, range);
    }
    sigmas_[m - 1] = range;  // the prior
    log_accept_.resize(m);
    for (size_t i = 0; i < m; ++i) {
      log_accept_[i] = LogMass((low_ - mus_[i]) / sigmas_[i], (high_ - mus_[i]) / sigmas_[i]);
    }
  }

  // A draw in the internal space (int: already rounded and clipped; choice: the index).
  double Sample(Rng& rng) const {
    const size_t c = rng.Pick(weights_, 1.0);
    if (dim_.kind == Dimension::Kind::kChoice) {
      const int64_t k = dim_.choices;
      std::vector<double> row(rows_.begin() + static_cast<int64_t>(c) * k,
                              rows_.begin() + static_cast<int64_t>(c + 1) * k);
      return static_cast<double>(rng.Pick(row, 1.0));
    }
    // Truncated normal by rejection: the component's mean lies inside [low, high] and its sigma
    // is at most the range, so at least ~1/3 of draws are accepted.
    double x = mus_[c];
    for (int tries = 0; tries < 1000; ++tries) {
      const double z = mus_[c] + sigmas_[c] * rng.Normal();
      if (z >= low_ && z <= high_) {
        x = z;
        break;
      }
    }
    if (dim_.kind == Dimension::Kind::kInt) {
      x = std::clamp(std::round(x), dim_.low, dim_.high);
    }
    return x;
  }

  double LogPdf(double x) const {
    std::vector<double> terms(weights_.size());
    if (dim_.kind == Dimension::Kind::kChoice) {
      const int64_t k = dim_.choices;
      double p = 0;
      for (size_t i = 0; i < weights_.size(); ++i) {
        p += weights_[i] * rows_[static_cast<int64_t>(i) * k + static_cast<int64_t>(x)];
      }
      return std::log(p);
    }
    constexpr double kLogSqrt2Pi = 0.91893853320467274178;
    for (size_t i = 0; i < mus_.size(); ++i) {
      double log_pdf;
      if (dim_.kind == Dimension::Kind::kInt) {
        const double lo = std::max(x - 0.5, low_), hi = std::min(x + 0.5, high_);
        log_pdf =
            LogMass((lo - mus_[i]) / sigmas_[i], (hi - mus_[i]) / sigmas_[i]) - log_accept_[i];
      } else {
        const double z = (x - mus_[i]) / sigmas_[i];
        log_pdf = -0.5 * z * z - kLogSqrt2Pi - log_accept_[i];
        if (!optuna31_density_) log_pdf -= std::log(sigmas_[i]);
      }
      terms[i] = log_weights_[i] + log_pdf;
    }
    return LogSumExp(terms);
  }

 private:
  Dimension dim_;
  bool optuna31_density_;
  std::vector<double> weights_, log_weights_;
  double low_ = 0, high_ = 0;
  std::vector<double> mus_, sigmas_, log_accept_;
  std::vector<double> rows_;  // choice: (observations + 1) x choices, each row sums to 1
};

double ToInternal(const Dimension& d, double x) {
  return d.kind == Dimension::Kind::kLogUniform ? std::log(x) : x;
}

double ToExternal(const Dimension& d, double x) {
  return d.kind == Dimension::Kind::kLogUniform ? std::clamp(std::exp(x), d.low, d.high) : x;
}

double RandomValue(const Dimension& d, Rng& rng) {
  const double u = rng.Unit();
  switch (d.kind) {
    case Dimension::Kind::kUniform:
      return d.low + (d.high - d.low) * u;
    case Dimension::Kind::kLogUniform:
      return std::clamp(std::exp(std::log(d.low) + (std::log(d.high) - std::log(d.low)) * u), d.low,
                        d.high);
    case Dimension::Kind::kInt:
      return std::min(d.low + std::floor(u * (d.high - d.low + 1)), d.high);
    case Dimension::Kind::kChoice:
      return std::min(std::floor(u * static_cast<double>(d.choices)),
                      static_cast<double>(d.choices - 1));
  }
  return d.low;
}

}  // namespace

int64_t Gamma(int64_t n) { return std::min<int64_t>((n + 9) / 10, 25); }

std::vector<double> DefaultWeights(int64_t n) {
  if (n <= 0) return {};
  if (n < 25) return std::vector<double>(static_cast<size_t>(n), 1.0);
  std::vector<double> w(static_cast<size_t>(n), 1.0);
  const int64_t ramp = n - 25;  // numpy.linspace(1/n, 1, ramp)
  const double start = 1.0 / static_cast<double>(n);
  for (int64_t i = 0; i < ramp; ++i) {
    w[i] = ramp == 1 ? start : start + (1.0 - start) * static_cast<double>(i) / (ramp - 1);
  }
  return w;
}

std::vector<size_t> BelowIndices(const std::vector<Observation>& history, bool maximize) {
  // Optuna's ranking: (step key, signed value) ascending, where completed points have step key
  // -inf, pruned ones -steps (more epochs rank better), pruned with no report 1 (value 0).
  using Key = std::tuple<double, double>;
  std::vector<Key> keys;
  keys.reserve(history.size());
  for (const Observation& o : history) {
    double v = maximize ? -o.value : o.value;
    if (std::isnan(v)) v = kInf;
    if (!o.pruned) {
      keys.emplace_back(-kInf, v);
    } else if (o.steps > 0) {
      keys.emplace_back(-static_cast<double>(o.steps), v);
    } else {
      keys.emplace_back(1.0, 0.0);
    }
  }
  std::vector<size_t> order(history.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  const auto n_below = static_cast<size_t>(Gamma(static_cast<int64_t>(history.size())));
  order.resize(std::min(n_below, order.size()));
  std::sort(order.begin(), order.end());
  return order;
}

double ParzenLogPdf(const Dimension& dim, const std::vector<double>& observations,
                    const Options& options, double x) {
  std::vector<double> internal;
  for (double v : observations) internal.push_back(ToInternal(dim, v));
  return Parzen(dim, internal, options).LogPdf(ToInternal(dim, x));
}

std::vector<double> Propose(const std::vector<Dimension>& space,
                            const std::vector<Observation>& history, const Options& options,
                            uint64_t seed, uint64_t index) {
  Rng rng(seed, index);
  std::vector<double> point(space.size());
  if (static_cast<int64_t>(history.size()) < options.startup_trials) {
    for (size_t d = 0; d < space.size(); ++d) point[d] = RandomValue(space[d], rng);
    return point;
  }
  const std::vector<size_t> below = BelowIndices(history, options.maximize);
  std::vector<bool> is_below(history.size(), false);
  for (size_t i : below) is_below[i] = true;
  const int64_t candidates = std::max<int64_t>(options.ei_candidates, 1);
  // Univariate: each dimension is chosen on its own, in order, from one random stream.
  for (size_t d = 0; d < space.size(); ++d) {
    std::vector<double> good, bad;
    for (size_t i = 0; i < history.size(); ++i) {
      (is_below[i] ? good : bad).push_back(ToInternal(space[d], history[i].x[d]));
    }
    const Parzen l(space[d], good, options), g(space[d], bad, options);
    double best_x = 0, best_score = -kInf;
    for (int64_t c = 0; c < candidates; ++c) {
      const double x = l.Sample(rng);
      double score = l.LogPdf(x) - g.LogPdf(x);
      if (std::isnan(score)) score = -kInf;
      if (c == 0 || score > best_score) {
        best_x = x;
        best_score = score;
      }
    }
    point[d] = ToExternal(space[d], best_x);
  }
  return point;
}

}  // namespace hypersweep::tpe
