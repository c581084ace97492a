#include "core/lr_finder.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hypersweep {

absl::StatusOr<SuggestRule> ParseSuggestRule(const std::string& name) {
  for (SuggestRule r : kAllSuggestRules) {
    if (name == SuggestRuleName(r)) return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown rule '", name, "'; expected min, min_div_10, steepest or valley"));
}

const char* SuggestRuleName(SuggestRule rule) {
  switch (rule) {
    case SuggestRule::kSteepest:
      return "steepest";
    case SuggestRule::kMinDiv10:
      return "min_div_10";
    case SuggestRule::kMin:
      return "min";
    case SuggestRule::kValley:
      return "valley";
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

CentredCurve SmoothCentred(const std::vector<LrCurvePoint>& curve) {
  CentredCurve out;
  std::vector<double> x, y;
  for (const auto& p : curve) {
    if (!std::isfinite(p.loss)) {
      out.diverged = true;
      continue;
    }
    if (!(p.lr > 0)) continue;
    x.push_back(std::log10(p.lr));
    y.push_back(p.loss);
  }
  const int m = static_cast<int>(x.size());
  if (m == 0) return out;
  const double decades = x.back() - x.front();
  int k = kMinHalfWindow;
  if (decades > 0) {
    k = std::max(k, static_cast<int>(std::lround(kHalfWindowDecades * (m - 1) / decades)));
  }
  k = std::min(k, std::max(0, (m - 1) / 2));
  out.full_half_window = k;
  // Prefix sums of dx, dx^2, y and dx*y, with dx measured from the first point so that the sums
  // stay small: each window's sums are then two lookups, and the whole curve costs O(m) whatever
  // the window (a curve comes from a remote worker; its length and density are not ours to pick).
  std::vector<double> px(m + 1, 0), pxx(m + 1, 0), py(m + 1, 0), pxy(m + 1, 0);
  for (int j = 0; j < m; ++j) {
    const double dx = x[j] - x[0];
    px[j + 1] = px[j] + dx;
    pxx[j + 1] = pxx[j] + dx * dx;
    py[j + 1] = py[j] + y[j];
    pxy[j + 1] = pxy[j] + dx * y[j];
  }
  for (int i = 0; i < m; ++i) {
    const int h = std::min({k, i, m - 1 - i});
    // Least squares y = a + b (x - x_i) over the window; a is the value at x_i. With c = x_i - x_0
    // and u = x - x_0: sums of (u - c) expand into the prefix sums of u.
    const int lo = i - h, hi = i + h + 1;
    const double n = 2 * h + 1, c = x[i] - x[0];
    const double su = px[hi] - px[lo], suu = pxx[hi] - pxx[lo];
    const double sy = py[hi] - py[lo], suy = pxy[hi] - pxy[lo];
    const double sx = su - n * c;
    const double sxx = suu - 2 * c * su + n * c * c;
    const double sxy = suy - c * sy;
    const double det = n * sxx - sx * sx;
    double a = sy / n, b = 0;
    if (h > 0 && det > 0) {
      b = (n * sxy - sx * sy) / det;
      a = (sy - b * sx) / n;
    }
    out.points.push_back({std::pow(10.0, x[i]), a, b, h});
  }
  return out;
}

absl::StatusOr<double> LrSuggestions::Get(SuggestRule rule) const {
  auto it = by_rule.find(rule);
  if (it == by_rule.end()) return absl::FailedPreconditionError("no LR range test curve");
  return it->second;
}

bool LrSuggestions::AnyOk() const {
  for (const auto& [rule, lr] : by_rule) {
    if (lr.ok()) return true;
  }
  return false;
}

namespace {

LrSuggestions AllFail(const absl::Status& s) {
  LrSuggestions out;
  for (SuggestRule r : kAllSuggestRules) out.by_rule.emplace(r, s);
  return out;
}

// Whether the EMA stop rule fired: the last finite EMA above kStopFactor x its minimum.
bool StopRuleFired(const std::vector<LrCurvePoint>& curve) {
  double best = 0, last = 0;
  bool any = false;
  for (const auto& p : curve) {
    if (!std::isfinite(p.smoothed)) continue;
    if (!any || p.smoothed < best) best = p.smoothed;
    last = p.smoothed;
    any = true;
  }
  return any && best > 0 && last > LrRangeTracker::kStopFactor * best;
}

}  // namespace

LrSuggestions SuggestLr(const std::vector<LrCurvePoint>& curve) {
  const CentredCurve c = SmoothCentred(curve);
  const auto& s = c.points;
  const int m = static_cast<int>(s.size());
  if (m < kMinUsablePoints) {
    return AllFail(
        absl::FailedPreconditionError(absl::StrCat("LR range test too short for a suggestion (", m,
                                                   " usable steps, need ", kMinUsablePoints, ")")));
  }
  if (!(s.back().lr > s.front().lr)) {
    return AllFail(absl::FailedPreconditionError("the LR range test's lr never increased"));
  }
  // Only points with a full window: at the ends the smoothing shrinks to the raw, noisy losses.
  const int k = c.full_half_window;
  const int lo = k, hi = m - 1 - k;
  const double start = s[lo].loss;
  int imin = lo;
  for (int i = lo + 1; i <= hi; ++i) {
    if (s[i].loss < s[imin].loss) imin = i;
  }
  const double fall = start - s[imin].loss;
  if (!(fall >= kMinFall * std::abs(start)) || !(fall > 0)) {
    return AllFail(absl::FailedPreconditionError(absl::StrFormat(
        "the smoothed loss never fell clearly below its starting level (%.4g at lr %.3g, lowest "
        "%.4g; need %g%% lower): lower min_lr or raise max_lr",
        start, s[lo].lr, s[imin].loss, 100 * kMinFall)));
  }
  LrSuggestions out;
  const double lowest = s[imin].loss;

  // Whether the loss rises clearly after the minimum, and where: the first point at the rise
  // level (hi + 1 when none).
  double need = lowest + kRiseFraction * fall;
  if (lowest > 0) need = std::min(need, kRiseFactor * lowest);
  int rise = hi + 1;
  for (int i = imin + 1; i <= hi && rise > hi; ++i) {
    if (s[i].loss >= need) rise = i;
  }
  // The bottom: from the first point within kBottomFraction of the fall above the lowest loss to
  // the last such point before the rise. Its middle (in log lr) is the minimum's LR: on a flat,
  // noisy bottom the lowest point itself wanders over the whole bottom from seed to seed, while
  // the bottom's edges (where the fall ends, where the rise starts) stay put.
  const double floor_level = lowest + kBottomFraction * fall;
  int left = imin, right = imin;
  for (int i = lo; i <= imin; ++i) {
    if (s[i].loss <= floor_level) {
      left = i;
      break;
    }
  }
  for (int i = imin; i < rise; ++i) {
    if (s[i].loss <= floor_level) right = i;
  }
  const double lr_min = std::sqrt(s[left].lr * s[right].lr);
  if (rise <= hi || c.diverged || StopRuleFired(curve)) {
    out.by_rule.emplace(SuggestRule::kMin, lr_min);
  } else {
    double after = lowest;
    for (int i = imin + 1; i <= hi; ++i) after = std::max(after, s[i].loss);
    out.by_rule.emplace(
        SuggestRule::kMin,
        absl::FailedPreconditionError(absl::StrFormat(
            "the loss does not clearly rise after its lowest point (%.4g at lr %.3g): it reaches "
            "only %.4g after it, below %.4g (the lower of the minimum + %g of its fall and %g x "
            "the minimum), and the test neither diverged nor hit its stop rule; it probably "
            "ended at its step limit: raise max_lr",
            lowest, s[imin].lr, after, need, kRiseFraction, kRiseFactor)));
  }
  out.by_rule.emplace(SuggestRule::kMinDiv10, lr_min / 10);

  // steepest: the most negative slope before the minimum.
  int isteep = -1;
  for (int i = lo; i < imin; ++i) {
    if (s[i].slope < 0 && (isteep < 0 || s[i].slope < s[isteep].slope)) isteep = i;
  }
  if (isteep < 0) {
    out.by_rule.emplace(SuggestRule::kSteepest,
                        absl::FailedPreconditionError(absl::StrFormat(
                            "the smoothed loss has no descent before its minimum at lr %.3g "
                            "(the curve starts at its lowest slope): lower min_lr",
                            lr_min)));
  } else {
    out.by_rule.emplace(SuggestRule::kSteepest, s[isteep].lr);
  }

  // valley: the longest run of consecutive points where the smoothed loss falls (negative local
  // slope; the tolerance only keeps rounding on an exactly flat curve from counting as a fall).
  int v0 = lo, v1 = lo - 1;
  for (int i = lo; i <= hi;) {
    if (!(s[i].slope < -1e-9 * std::abs(s[i].loss))) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 <= hi && s[j + 1].slope < -1e-9 * std::abs(s[j + 1].loss)) ++j;
    if (j - i > v1 - v0) v0 = i, v1 = j;
    i = j + 1;
  }
  if (v1 - v0 < 2) {
    out.by_rule.emplace(SuggestRule::kValley, absl::FailedPreconditionError(
                                                  "the smoothed loss has no falling stretch of 3 "
                                                  "or more points"));
  } else {
    const int third = (v1 - v0) / 3;  // fastai's index: a third plus half a third of the way
    out.by_rule.emplace(SuggestRule::kValley, s[v0 + third + third / 2].lr);
  }
  return out;
}

}  // namespace hypersweep
