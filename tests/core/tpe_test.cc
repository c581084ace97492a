#include "core/tpe.h"

#include <cmath>
#include <set>

#include "gtest/gtest.h"

namespace hypersweep::tpe {
namespace {

using Kind = Dimension::Kind;

std::vector<Dimension> MixedSpace() {
  return {{Kind::kUniform, -5, 10, 0},
          {Kind::kLogUniform, 1e-4, 1, 0},
          {Kind::kInt, 1, 8, 0},
          {Kind::kChoice, 0, 0, 3}};
}

// A smooth objective over MixedSpace with its minimum 0 at (2, 1e-2, 5, choice 1).
double Objective(const std::vector<double>& x) {
  const double a = (x[0] - 2) / 15, b = (std::log10(x[1]) + 2) / 4, c = (x[2] - 5) / 7;
  return a * a + b * b + c * c + (x[3] == 1 ? 0 : 0.2);
}

std::vector<Observation> RunSearch(const Options& options, uint64_t seed, int n,
                                   bool flip_sign = false) {
  std::vector<Observation> history;
  for (int i = 0; i < n; ++i) {
    const std::vector<double> x = Propose(MixedSpace(), history, options, seed, i);
    const double v = Objective(x);
    history.push_back({x, flip_sign ? -v : v, false, 0});
  }
  return history;
}

void ExpectInSpace(const std::vector<double>& x) {
  const auto space = MixedSpace();
  ASSERT_EQ(x.size(), space.size());
  for (size_t d = 0; d < space.size(); ++d) {
    if (space[d].kind == Kind::kChoice) {
      EXPECT_TRUE(x[d] == 0 || x[d] == 1 || x[d] == 2) << x[d];
      continue;
    }
    EXPECT_GE(x[d], space[d].low);
    EXPECT_LE(x[d], space[d].high);
    if (space[d].kind == Kind::kInt) {
      EXPECT_EQ(x[d], std::round(x[d]));
    }
  }
}

TEST(TpeTest, GammaIsOptunaDefault) {
  EXPECT_EQ(Gamma(0), 0);
  EXPECT_EQ(Gamma(1), 1);
  EXPECT_EQ(Gamma(10), 1);
  EXPECT_EQ(Gamma(11), 2);
  EXPECT_EQ(Gamma(100), 10);
  EXPECT_EQ(Gamma(241), 25);
  EXPECT_EQ(Gamma(100000), 25);
}

TEST(TpeTest, DefaultWeightsRampLikeNumpyLinspace) {
  EXPECT_TRUE(DefaultWeights(0).empty());
  EXPECT_EQ(DefaultWeights(24), std::vector<double>(24, 1.0));
  EXPECT_EQ(DefaultWeights(25), std::vector<double>(25, 1.0));
  const std::vector<double> w = DefaultWeights(30);  // numpy.linspace(1/30, 1, 5) + 25 ones
  ASSERT_EQ(w.size(), 30u);
  const double expected[] = {1.0 / 30, 0.275, 0.51666666666666667, 0.75833333333333333, 1.0};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(w[i], expected[i], 1e-15) << i;
  for (int i = 5; i < 30; ++i) EXPECT_EQ(w[i], 1.0);
}

// Reference numbers: Optuna 3.1's _ParzenEstimator(...).log_pdf with TPESampler's defaults
// (prior_weight 1, magic clip, no endpoints, default_weights), printed with repr().
TEST(TpeTest, ParzenDensityMatchesOptuna31) {
  const Options o;
  struct Case {
    Dimension dim;
    std::vector<double> obs, xs, expected;
  };
  const std::vector<Case> cases = {
      {{Kind::kUniform, -5, 10, 0},
       {1.0, 2.5, -3.0, 7.0, 2.6},
       {-4.0, 0.0, 2.55, 9.5},
       {-1.162651334217732, -0.8350912844445932, -0.7549768216902626, -1.3425561990811683}},
      {{Kind::kLogUniform, 1e-4, 1, 0},
       {1e-3, 2e-2, 0.5},
       {2e-4, 1e-2, 0.9},
       {-0.9604845617903324, -0.6334460597738956, -0.7752593483292608}},
      {{Kind::kInt, 1, 8, 0},
       {2, 5, 5, 7},
       {1, 3, 5, 8},
       {-2.636966220243437, -2.1285190460040333, -1.7187069138503446, -2.4023768109716177}},
      {{Kind::kChoice, 0, 0, 3},
       {0, 2, 2},
       {0, 1, 2},
       {-1.0986122886681096, -1.6582280766035324, -0.7419373447293772}},
      // 30 observations: the oldest 5 get the ramp weights.
      {{Kind::kUniform, 0, 1, 0},
       {0.0856, 0.2368, 0.8013, 0.5822, 0.0941, 0.4331, 0.4791, 0.1597, 0.7346, 0.1137,
        0.3912, 0.5167, 0.4306, 0.5868, 0.7378, 0.9563, 0.2842, 0.6485, 0.6962, 0.2927,
        0.0015, 0.9735, 0.2984, 0.314,  0.8917, 0.5852, 0.4713, 0.7733, 0.0303, 0.707},
       {0.1, 0.5, 0.93},
       {-2.500449859663881, -2.3569282675884393, -2.6032520298943043}},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    for (size_t i = 0; i < cases[c].xs.size(); ++i) {
      EXPECT_NEAR(ParzenLogPdf(cases[c].dim, cases[c].obs, o, cases[c].xs[i]), cases[c].expected[i],
                  1e-9)
          << "case " << c << " x " << cases[c].xs[i];
    }
  }
  // The textbook density differs by -log(sigma) per kernel.
  Options textbook;
  textbook.optuna31_density = false;
  EXPECT_GT(std::abs(ParzenLogPdf(cases[0].dim, cases[0].obs, textbook, 0.0) -
                     ParzenLogPdf(cases[0].dim, cases[0].obs, o, 0.0)),
            0.1);
}

TEST(TpeTest, BelowRanksCompletedThenPrunedByEpochsThenValue) {
  std::vector<Observation> h;
  for (int i = 0; i < 12; ++i) h.push_back({{0.0}, 10.0 + i, false, 0});  // 12 -> gamma 2
  h[7].value = 1;                                                         // best completed
  h[3] = {{0.0}, -100, true, 3};  // pruned: ranks after every completed point
  h[5] = {{0.0}, 0.5, false, 0};  // second best completed
  EXPECT_EQ(BelowIndices(h, false), (std::vector<size_t>{5, 7}));
  // Maximizing: the largest values win; the pruned one still ranks after completed ones.
  EXPECT_EQ(BelowIndices(h, true), (std::vector<size_t>{10, 11}));
  // With only pruned points: more epochs first, then value, and "nothing reported" last.
  std::vector<Observation> p = {
      {{0.0}, 5, true, 2}, {{0.0}, 9, true, 4}, {{0.0}, 1, true, 0}, {{0.0}, 7, true, 4}};
  for (int i = 0; i < 8; ++i) p.push_back({{0.0}, 100, true, 1});
  // 12 points -> 2 below: the two with 4 epochs (7 beats 9 when minimizing).
  EXPECT_EQ(BelowIndices(p, false), (std::vector<size_t>{1, 3}));
  // NaN is the worst value.
  std::vector<Observation> n = {{{0.0}, std::nan(""), false, 0}, {{0.0}, 3, false, 0}};
  EXPECT_EQ(BelowIndices(n, false), (std::vector<size_t>{1}));
}

TEST(TpeTest, StartupPointsAreRandomAndInSpace) {
  Options options;
  std::set<double> firsts;
  for (uint64_t i = 0; i < 10; ++i) {
    const auto x = Propose(MixedSpace(), {}, options, 42, i);
    ExpectInSpace(x);
    firsts.insert(x[0]);
  }
  EXPECT_EQ(firsts.size(), 10u);  // every index draws its own point
}

TEST(TpeTest, SameSeedAndHistoryGiveSamePoints) {
  Options options;
  const auto a = RunSearch(options, 7, 40);
  const auto b = RunSearch(options, 7, 40);
  const auto c = RunSearch(options, 8, 40);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].x, b[i].x) << i;
    ExpectInSpace(a[i].x);
  }
  EXPECT_NE(a[20].x, c[20].x);
  // A proposal depends only on (seed, index, history): recomputing one later gives the same point.
  const std::vector<Observation> prefix(a.begin(), a.begin() + 25);
  EXPECT_EQ(Propose(MixedSpace(), prefix, options, 7, 25), a[25].x);
}

TEST(TpeTest, TpeBeatsItsOwnStartupAndFindsTheOptimum) {
  Options options;
  int better = 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const auto h = RunSearch(options, seed, 80);
    double best_random = 1e9, mean_random = 0, mean_tpe = 0, best = 1e9;
    for (int i = 0; i < 10; ++i) {
      best_random = std::min(best_random, h[i].value);
      mean_random += h[i].value / 10;
    }
    for (int i = 60; i < 80; ++i) mean_tpe += h[i].value / 20;
    for (const auto& o : h) best = std::min(best, o.value);
    EXPECT_LT(mean_tpe, mean_random) << seed;  // later proposals concentrate on good regions
    if (best < 0.01) ++better;
  }
  EXPECT_GE(better, 4);
}

TEST(TpeTest, MaximizeMirrorsMinimize) {
  Options min_opts, max_opts;
  max_opts.maximize = true;
  const auto a = RunSearch(min_opts, 3, 30);
  const auto b = RunSearch(max_opts, 3, 30, /*flip_sign=*/true);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].x, b[i].x) << i;
}

TEST(TpeTest, ZeroStartupProposesFromThePriorAlone) {
  Options options;
  options.startup_trials = 0;
  ExpectInSpace(Propose(MixedSpace(), {}, options, 1, 0));
  const std::vector<Observation> one = {{{2, 0.01, 5, 1}, 0, false, 0}};
  ExpectInSpace(Propose(MixedSpace(), one, options, 1, 1));
}

TEST(TpeTest, ChoiceConcentratesOnTheGoodChoice) {
  // One choice dimension where only choice 2 of 4 is good: after startup TPE picks it far more
  // often than 1/4 of the time.
  const std::vector<Dimension> space = {{Kind::kChoice, 0, 0, 4}};
  Options options;
  std::vector<Observation> h;
  int twos = 0;
  for (int i = 0; i < 60; ++i) {
    const auto x = Propose(space, h, options, 11, i);
    if (i >= 20 && x[0] == 2) ++twos;
    h.push_back({x, x[0] == 2 ? 0.0 : 1.0, false, 0});
  }
  EXPECT_GT(twos, 25);
}

}  // namespace
}  // namespace hypersweep::tpe
