// The pruners' decisions: hand-computed cases of each rule, the fold/seed grouping, and a replay of
// studies run by Optuna 3.1 itself (tests/data/pruner_fixtures.json, tools/gen_pruner_fixtures.py)
// through SweepPruner, one trial per point, expecting Optuna's answer to every report.
#include "server/scheduler/pruner.h"

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

PrunerSpec MedianSpec(int64_t startup, int64_t warmup, int64_t interval) {
  PrunerSpec s;
  s.kind = PrunerSpec::Kind::kMedian;
  s.startup_trials = startup;
  s.warmup_epochs = warmup;
  s.interval = interval;
  return s;
}

PrunerSpec AshaSpec(int64_t min_epochs, int64_t r) {
  PrunerSpec s;
  s.kind = PrunerSpec::Kind::kAsha;
  s.min_epochs = min_epochs;
  s.reduction_factor = r;
  return s;
}

TEST(PrunerRulesTest, MedianInterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(Median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(Median({7}), 7);
}

TEST(PrunerRulesTest, MedianRuleByHand) {
  const PrunerCurve a = {{1, 0.5}, {2, 0.4}}, b = {{1, 0.7}, {2, 0.6}}, c = {{1, 0.9}};
  const std::vector<const PrunerCurve*> done = {&a, &b, &c};
  // Step 2: the completed points with a value there are a and b: median 0.5. Own best 0.55.
  EXPECT_TRUE(JudgeMedian(MedianSpec(3, 0, 1), false, {{1, 0.8}, {2, 0.55}}, 2, done).prune);
  // The best so far counts, not the last value: 0.45 at step 1 is below the median.
  EXPECT_FALSE(JudgeMedian(MedianSpec(3, 0, 1), false, {{1, 0.45}, {2, 0.9}}, 2, done).prune);
  // Fewer completed points than startup_trials, or before warmup: never pruned.
  EXPECT_FALSE(JudgeMedian(MedianSpec(4, 0, 1), false, {{1, 0.8}, {2, 0.9}}, 2, done).prune);
  EXPECT_FALSE(JudgeMedian(MedianSpec(3, 3, 1), false, {{1, 0.8}, {2, 0.9}}, 2, done).prune);
  // Maximize: below the median prunes.
  EXPECT_TRUE(JudgeMedian(MedianSpec(0, 0, 1), true, {{1, 0.45}, {2, 0.49}}, 2, done).prune);
  EXPECT_FALSE(JudgeMedian(MedianSpec(0, 0, 1), true, {{1, 0.45}, {2, 0.51}}, 2, done).prune);
  // No completed point has a value at step 3: no verdict.
  EXPECT_FALSE(JudgeMedian(MedianSpec(0, 0, 1), false, {{3, 9.0}}, 3, done).prune);
  // Interval 2 from warmup 1: steps 1, 3, 5 start intervals; with step 1 reported, step 2 is not
  // judged, and step 3 is.
  const PrunerCurve d = {{1, 0.1}, {2, 0.1}, {3, 0.1}};
  const std::vector<const PrunerCurve*> one = {&d};
  EXPECT_FALSE(JudgeMedian(MedianSpec(1, 1, 2), false, {{1, 0.5}, {2, 0.5}}, 2, one).prune);
  EXPECT_TRUE(
      JudgeMedian(MedianSpec(1, 1, 2), false, {{1, 0.5}, {2, 0.5}, {3, 0.5}}, 3, one).prune);
  // A report that skipped the interval's first step is judged at the next one it reaches.
  EXPECT_TRUE(JudgeMedian(MedianSpec(1, 1, 2), false, {{1, 0.5}, {3, 0.5}}, 3, one).prune);
}

TEST(PrunerRulesTest, AshaRungsAndPromotionByHand) {
  EXPECT_EQ(AshaRungAt(AshaSpec(1, 3), 1), 0);
  EXPECT_EQ(AshaRungAt(AshaSpec(1, 3), 3), 1);
  EXPECT_EQ(AshaRungAt(AshaSpec(1, 3), 9), 2);
  EXPECT_EQ(AshaRungAt(AshaSpec(1, 3), 2), std::nullopt);
  EXPECT_EQ(AshaRungAt(AshaSpec(1, 3), 6), std::nullopt);
  EXPECT_EQ(AshaRungAt(AshaSpec(2, 2), 1), std::nullopt);
  EXPECT_EQ(AshaRungAt(AshaSpec(2, 2), 8), 2);
  EXPECT_EQ(AshaRungAt(AshaSpec(100000, 100), 100000), 0);
  // Fewer than r values: only the best continues (Optuna's promotable index floors at 0).
  EXPECT_TRUE(AshaPromotes(1, {1, 2}, 3, false));
  EXPECT_FALSE(AshaPromotes(2, {1, 2}, 3, false));
  EXPECT_TRUE(AshaPromotes(5, {5}, 3, false));
  // Six values, r = 3: the best two continue; a tie with the second continues.
  EXPECT_TRUE(AshaPromotes(2, {6, 5, 4, 3, 2, 1}, 3, false));
  EXPECT_FALSE(AshaPromotes(3, {6, 5, 4, 3, 2, 1}, 3, false));
  EXPECT_TRUE(AshaPromotes(2, {6, 5, 4, 2, 2, 1}, 3, false));
  EXPECT_TRUE(AshaPromotes(5, {6, 5, 4, 3, 2, 1}, 3, true));
  EXPECT_FALSE(AshaPromotes(4, {6, 5, 4, 3, 2, 1}, 3, true));
}

TrialRecord Trial(const std::string& id, TrialParams params, TrialRole role = TrialRole::kTrain) {
  TrialRecord t;
  t.id = id;
  t.params = std::move(params);
  t.role = role;
  return t;
}

EpochRecord Epoch(int64_t e, double val_loss) {
  EpochRecord r;
  r.epoch = e;
  r.values[metrics::kValLoss] = val_loss;
  return r;
}

TEST(SweepPrunerTest, SeedsAndFoldsOfAPointAreJudgedByTheirMean) {
  SweepPruner p(AshaSpec(1, 2), Objective{});
  p.AddTrial(Trial("a0", {{"momentum", "0.9"}, {"seed", "0"}}));
  p.AddTrial(Trial("a1", {{"momentum", "0.9"}, {"seed", "1"}}));
  p.AddTrial(Trial("b0", {{"momentum", "0.5"}, {"seed", "0"}}));
  p.AddTrial(Trial("b1", {{"momentum", "0.5"}, {"seed", "1"}}));
  p.AddTrial(Trial("lr", {}, TrialRole::kLrRangeTest));
  auto running = [](const std::string&) { return TrialStatus::kLeased; };
  p.Record("a0", Epoch(0, 0.1));
  // Alone at the rung: a0 is the best so far.
  EXPECT_EQ(p.Judge("a0", {0}, running), std::nullopt);
  p.Record("b0", Epoch(0, 0.4));
  p.Record("b1", Epoch(0, 0.4));
  // b's mean 0.4 against a's 0.1: two values, the better one continues.
  auto why = p.Judge("b1", {0}, running);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("asha at epoch 0"));
  p.Record("a1", Epoch(0, 0.9));
  // a's mean is now 0.5, worse than b's 0.4: a1 stops, and b0 would now continue.
  EXPECT_TRUE(p.Judge("a1", {0}, running).has_value());
  EXPECT_EQ(p.Judge("b0", {0}, running), std::nullopt);
  // Range tests are never judged, epochs without the objective neither.
  p.Record("lr", Epoch(0, 99));
  EXPECT_EQ(p.Judge("lr", {0}, running), std::nullopt);
  EpochRecord no_metric;
  no_metric.epoch = 1;
  p.Record("a0", no_metric);
  EXPECT_EQ(p.Judge("a0", {1}, running), std::nullopt);
}

TEST(SweepPrunerTest, MedianCountsOnlyPointsWhoseTrialsAllSucceeded) {
  SweepPruner p(MedianSpec(1, 0, 1), Objective{});
  std::map<std::string, TrialStatus> status;
  for (const char* id : {"a0", "a1", "b0"}) {
    const std::string seed = id[1] == '0' ? "0" : "1";
    p.AddTrial(Trial(id, {{"weight_decay", std::string(1, id[0])}, {"seed", seed}}));
    status[id] = TrialStatus::kLeased;
  }
  auto of = [&](const std::string& id) { return status.at(id); };
  p.Record("a0", Epoch(0, 0.2));
  p.Record("a1", Epoch(0, 0.4));
  status["a0"] = TrialStatus::kSucceeded;
  p.Record("b0", Epoch(0, 0.5));
  // Point a is not completed while a1 runs.
  EXPECT_EQ(p.Judge("b0", {0}, of), std::nullopt);
  status["a1"] = TrialStatus::kSucceeded;
  // Now a (mean 0.3) is completed: 0.5 > 0.3.
  auto why = p.Judge("b0", {0}, of);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("median"));
}

TEST(SweepPrunerTest, ReplaysOptunaStudies) {
  std::ifstream in(std::string(HYPERSWEEP_SOURCE_DIR) + "/tests/data/pruner_fixtures.json");
  const nlohmann::json fixtures = nlohmann::json::parse(in);
  ASSERT_GE(fixtures["cases"].size(), 8u);
  int pruned = 0;
  for (const auto& c : fixtures["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    PrunerSpec spec;
    if (c["pruner"].contains("median")) {
      const auto& m = c["pruner"]["median"];
      spec = MedianSpec(m["startup_trials"], m["warmup_epochs"], m["interval"]);
    } else {
      const auto& a = c["pruner"]["asha"];
      spec = AshaSpec(a["min_epochs"], a["reduction_factor"]);
    }
    Objective objective;
    objective.goal = c["maximize"].get<bool>() ? Goal::kMaximize : Goal::kMinimize;
    SweepPruner p(spec, objective);
    std::map<std::string, TrialStatus> status;
    const int64_t trials = c["trials"], epochs = c["epochs"];
    for (int64_t i = 0; i < trials; ++i) {
      const std::string id = absl::StrCat("t", i);
      p.AddTrial(Trial(id, {{"sample", absl::StrCat(i)}}));
      status[id] = TrialStatus::kLeased;
    }
    auto of = [&](const std::string& id) { return status.at(id); };
    for (const auto& e : c["events"]) {
      const std::string id = absl::StrCat("t", e["trial"].get<int64_t>());
      const int64_t epoch = e["epoch"];
      ASSERT_EQ(status[id], TrialStatus::kLeased) << id << " reported after it ended";
      p.Record(id, Epoch(epoch, e["value"].get<double>()));
      const bool prune = p.Judge(id, {epoch}, of).has_value();
      EXPECT_EQ(prune, e["prune"].get<bool>()) << id << " at epoch " << epoch;
      if (prune) {
        status[id] = TrialStatus::kPruned;
        ++pruned;
      } else if (epoch == epochs - 1) {
        status[id] = TrialStatus::kSucceeded;
      }
    }
  }
  EXPECT_GE(pruned, 50);  // the fixtures prune often enough to mean something
}

}  // namespace
}  // namespace hypersweep
