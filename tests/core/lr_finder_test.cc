#include "core/lr_finder.h"

#include <cmath>

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

// A synthetic range-test curve: flat, falls fastest around lr=1e-2, bottoms at 1e-1, then blows up.
double CurveLoss(double lr) {
  const double x = std::log10(lr);
  if (x < 0) return 2.0 - 1.0 / (1 + std::exp(-4 * (x + 2))) + 0.0 * x;
  return 1.0 + 10 * x * x;
}

TEST(LrFinderTest, StopsWhenSmoothedLossExceedsFourTimesMinimum) {
  LrRangeTracker t;
  bool stopped = false;
  int steps = 0;
  for (int i = 0; i < 400 && !stopped; ++i, ++steps) {
    const double lr = 1e-5 * std::pow(10.0, i / 50.0);
    stopped = t.Add(lr, CurveLoss(lr));
  }
  EXPECT_TRUE(stopped);
  EXPECT_LT(steps, 400);
  const auto& c = t.curve();
  double best = 1e9;
  for (const auto& p : c) best = std::min(best, p.smoothed);
  EXPECT_GT(c.back().smoothed, 4 * best);
}

TEST(LrFinderTest, StopsOnNonFiniteLoss) {
  LrRangeTracker t;
  EXPECT_FALSE(t.Add(1e-3, 1.0));
  EXPECT_TRUE(t.Add(1e-2, std::nan("")));
}

TEST(LrFinderTest, SmoothingIsBiasCorrectedEma) {
  LrRangeTracker t;
  t.Add(1e-3, 2.0);
  EXPECT_DOUBLE_EQ(t.curve()[0].smoothed, 2.0);  // bias correction makes the first value exact
  t.Add(1e-3, 1.0);
  const double avg = 0.98 * (0.02 * 2.0) + 0.02 * 1.0;
  EXPECT_NEAR(t.curve()[1].smoothed, avg / (1 - 0.98 * 0.98), 1e-12);
}

TEST(LrFinderTest, SuggestionsBracketTheDescent) {
  LrRangeTracker t;
  for (int i = 0; i < 400; ++i) {
    const double lr = 1e-5 * std::pow(10.0, i / 50.0);
    if (t.Add(lr, CurveLoss(lr))) break;
  }
  auto s = SuggestLr(t.curve());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->steepest, 1e-3);
  EXPECT_LT(s->steepest, 1e-1);
  EXPECT_GT(s->at_min, 1e-2);
  EXPECT_LT(s->at_min, 3.0);
  EXPECT_DOUBLE_EQ(s->min_div_10, s->at_min / 10);
  EXPECT_LT(s->steepest, s->at_min);
}

TEST(LrFinderTest, RisingCurveHasNoSuggestion) {
  LrRangeTracker t;
  for (int i = 0; i < 50; ++i) t.Add(1e-4 * (i + 1), 1.0 + i);
  auto s = SuggestLr(t.curve());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LrFinderTest, RuleNames) {
  EXPECT_EQ(*ParseSuggestRule("steepest"), SuggestRule::kSteepest);
  EXPECT_EQ(*ParseSuggestRule("min_div_10"), SuggestRule::kMinDiv10);
  EXPECT_EQ(*ParseSuggestRule("min"), SuggestRule::kMin);
  LrSuggestion s{0.01, 0.05, 0.5};
  EXPECT_EQ(s.Get(SuggestRule::kSteepest), 0.01);
  EXPECT_EQ(s.Get(SuggestRule::kMinDiv10), 0.05);
  EXPECT_EQ(s.Get(SuggestRule::kMin), 0.5);
  EXPECT_FALSE(ParseSuggestRule("median").ok());
}

}  // namespace
}  // namespace hypersweep
