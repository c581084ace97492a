#include "core/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace hypersweep {
namespace {

std::vector<size_t> OrderByScoreDesc(const std::vector<float>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

}  // namespace

double WeightedAuc(const std::vector<float>& scores, const std::vector<float>& labels,
                   const std::vector<float>& weights) {
  const auto order = OrderByScoreDesc(scores);
  auto w = [&](size_t i) { return weights.empty() ? 1.0 : static_cast<double>(weights[i]); };
  double pos_total = 0, neg_total = 0;
  for (size_t i = 0; i < scores.size(); ++i) (labels[i] > 0.5f ? pos_total : neg_total) += w(i);
  if (pos_total <= 0 || neg_total <= 0) return std::nan("");
  // Walk thresholds from high to low score; each group of tied scores adds a trapezoid.
  double area = 0, tp = 0;
  size_t i = 0;
  while (i < order.size()) {
    double dtp = 0, dfp = 0;
    const float s = scores[order[i]];
    while (i < order.size() && scores[order[i]] == s) {
      (labels[order[i]] > 0.5f ? dtp : dfp) += w(order[i]);
      ++i;
    }
    area += dfp * (tp + dtp / 2);
    tp += dtp;
  }
  return area / (pos_total * neg_total);
}

double Ams(double s, double b, double b_reg) {
  const double br = b + b_reg;
  const double v = 2 * ((s + br) * std::log1p(s / br) - s);
  return v > 0 ? std::sqrt(v) : 0.0;
}

double BestAms(const std::vector<float>& scores, const std::vector<float>& labels,
               const std::vector<float>& weights, double scale, double b_reg) {
  const auto order = OrderByScoreDesc(scores);
  double s = 0, b = 0, best = 0;
  size_t i = 0;
  while (i < order.size()) {
    const float sc = scores[order[i]];
    while (i < order.size() && scores[order[i]] == sc) {
      const double w = (weights.empty() ? 1.0 : weights[order[i]]) * scale;
      (labels[order[i]] > 0.5f ? s : b) += w;
      ++i;
    }
    best = std::max(best, Ams(s, b, b_reg));
  }
  return best;
}

double Mean(const std::vector<double>& xs) {
  if (xs.empty()) return std::nan("");
  return std::accumulate(xs.begin(), xs.end(), 0.0) / static_cast<double>(xs.size());
}

Difference PairedDifference(const std::map<uint64_t, double>& a,
                            const std::map<uint64_t, double>& b) {
  std::vector<double> d;
  for (const auto& [seed, va] : a) {
    auto it = b.find(seed);
    if (it != b.end() && std::isfinite(va) && std::isfinite(it->second)) {
      d.push_back(va - it->second);
    }
  }
  return {Mean(d), StandardError(d), static_cast<int>(d.size())};
}

Verdict Judge(const Difference& d, bool lower_is_better) {
  if (d.pairs < 2 || !std::isfinite(d.se)) return Verdict::kTooFewPairs;
  if (std::abs(d.mean) <= kClearSes * d.se) return Verdict::kNoClearDifference;
  return (d.mean < 0) == lower_is_better ? Verdict::kFirstBetter : Verdict::kSecondBetter;
}

double StandardError(const std::vector<double>& xs) {
  if (xs.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const double m = Mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - m) * (x - m);
  const double n = static_cast<double>(xs.size());
  return std::sqrt(ss / (n - 1)) / std::sqrt(n);
}

}  // namespace hypersweep
