#include "core/stats.h"

#include <cmath>

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

TEST(StatsTest, AucPerfectAndInverted) {
  EXPECT_DOUBLE_EQ(WeightedAuc({0.9f, 0.8f, 0.2f, 0.1f}, {1, 1, 0, 0}, {}), 1.0);
  EXPECT_DOUBLE_EQ(WeightedAuc({0.1f, 0.2f, 0.8f, 0.9f}, {1, 1, 0, 0}, {}), 0.0);
}

TEST(StatsTest, AucTiesCountHalf) { EXPECT_DOUBLE_EQ(WeightedAuc({0.5f, 0.5f}, {1, 0}, {}), 0.5); }

TEST(StatsTest, AucMatchesPairCountingWithWeights) {
  // Reference: sum over (pos, neg) pairs of w_p w_n [s_p > s_n] + 0.5 [s_p == s_n], normalised.
  std::vector<float> s = {0.9f, 0.3f, 0.6f, 0.6f, 0.2f, 0.7f};
  std::vector<float> y = {1, 1, 0, 1, 0, 0};
  std::vector<float> w = {2, 1, 0.5f, 3, 1, 1.5f};
  double num = 0, den = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    for (size_t j = 0; j < s.size(); ++j) {
      if (y[i] == 1 && y[j] == 0) {
        den += w[i] * w[j];
        num += w[i] * w[j] * (s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0);
      }
    }
  }
  EXPECT_NEAR(WeightedAuc(s, y, w), num / den, 1e-12);
}

TEST(StatsTest, AucNanWithOneClass) { EXPECT_TRUE(std::isnan(WeightedAuc({0.1f}, {1}, {}))); }

TEST(StatsTest, AmsFormula) {
  const double s = 100, b = 1000;
  EXPECT_NEAR(Ams(s, b), std::sqrt(2 * ((s + b + 10) * std::log(1 + s / (b + 10)) - s)), 1e-12);
  EXPECT_DOUBLE_EQ(Ams(0, 5), 0.0);
}

TEST(StatsTest, BestAmsPicksBestThreshold) {
  // Signal on top: the best cut keeps both signal events and no background.
  std::vector<float> scores = {0.9f, 0.8f, 0.1f};
  std::vector<float> labels = {1, 1, 0};
  std::vector<float> w = {50, 50, 1000};
  EXPECT_NEAR(BestAms(scores, labels, w), Ams(100, 0), 1e-12);
  EXPECT_NEAR(BestAms(scores, labels, w, 2.0), Ams(200, 0), 1e-12);
}

TEST(StatsTest, MeanAndStandardError) {
  EXPECT_DOUBLE_EQ(Mean({1, 2, 3, 4}), 2.5);
  // sample sd of 1..4 = sqrt(5/3); se = sd / 2
  EXPECT_NEAR(StandardError({1, 2, 3, 4}), std::sqrt(5.0 / 3.0) / 2, 1e-12);
  EXPECT_TRUE(std::isnan(StandardError({3})));  // undefined, not 0
  EXPECT_TRUE(std::isnan(StandardError({})));
}

TEST(StatsTest, PairedDifferenceUsesTheSeedsBothHave) {
  // Seed 3 only in a; seed 1 non-finite in b: pairs 0 and 2 remain, differences 0.1 and 0.3.
  const auto d =
      PairedDifference({{0, 1.0}, {1, 2.0}, {2, 3.0}, {3, 9.0}}, {{0, 0.9}, {1, NAN}, {2, 2.7}});
  EXPECT_EQ(d.pairs, 2);
  EXPECT_NEAR(d.mean, 0.2, 1e-12);
  EXPECT_NEAR(d.se, StandardError({0.1, 0.3}), 1e-12);
}

TEST(StatsTest, JudgeSaysNoClearDifferenceWithinTwoStandardErrors) {
  // Differences of the same size: clear when consistent, unclear when they scatter around it.
  const Difference steady =
      PairedDifference({{0, 1.1}, {1, 1.2}, {2, 1.3}}, {{0, 1.0}, {1, 1.1}, {2, 1.2}});
  EXPECT_EQ(Judge(steady, /*lower_is_better=*/false), Verdict::kFirstBetter);
  EXPECT_EQ(Judge(steady, /*lower_is_better=*/true), Verdict::kSecondBetter);
  const Difference noisy =
      PairedDifference({{0, 1.4}, {1, 0.9}, {2, 1.3}}, {{0, 1.0}, {1, 1.1}, {2, 1.2}});
  EXPECT_NEAR(noisy.mean, 0.1, 1e-12);
  EXPECT_EQ(Judge(noisy, false), Verdict::kNoClearDifference);
  EXPECT_EQ(Judge(PairedDifference({{0, 2.0}}, {{0, 1.0}}), false), Verdict::kTooFewPairs);
}

}  // namespace
}  // namespace hypersweep
