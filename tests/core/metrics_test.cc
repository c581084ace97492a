#include "core/metrics.h"

#include <cmath>
#include <limits>

#include "core/sweep_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricRegistryTest, BuiltinKnowsTheTrainersMetricsAndWhichAreObjectives) {
  const MetricRegistry& r = MetricRegistry::Builtin();
  for (const char* name : {kTrainLoss, kValLoss, kValAccuracy, kValAuc, kValAms}) {
    EXPECT_TRUE(r.IsObjective(name)) << name;
  }
  for (const char* name : {kLr, kMomentum, kSeconds, kSamplesPerSecond, kSteps, kPartial}) {
    EXPECT_TRUE(r.Contains(name)) << name;
    EXPECT_FALSE(r.IsObjective(name)) << name;
  }
  EXPECT_FALSE(r.Contains("val_los"));
  EXPECT_EQ(r.DirectionOf(kValAccuracy), Direction::kHigherIsBetter);
  EXPECT_EQ(r.DirectionOf(kValLoss), Direction::kLowerIsBetter);
  EXPECT_EQ(r.DirectionOf("unknown"), Direction::kNeither);
  EXPECT_THAT(r.ObjectiveNames(), HasSubstr("val_loss"));
  EXPECT_EQ(std::string(kDefaultObjective), kValLoss);
}

TEST(MetricRegistryTest, ATrialKindRegistersItsOwnMetricsWithoutChangingTheBuiltins) {
  const MetricRegistry custom =
      MetricRegistry::Builtin().With({{"val_f1", Direction::kHigherIsBetter, true},
                                      {"val_loss", Direction::kHigherIsBetter, false}});
  EXPECT_TRUE(custom.IsObjective("val_f1"));
  EXPECT_EQ(custom.DirectionOf("val_f1"), Direction::kHigherIsBetter);
  // A name that is already known keeps its meaning.
  EXPECT_EQ(custom.DirectionOf(kValLoss), Direction::kLowerIsBetter);
  EXPECT_TRUE(custom.IsObjective(kValLoss));
  EXPECT_FALSE(MetricRegistry::Builtin().Contains("val_f1"));
}
TEST(MetricRegistryTest, KindSaysHowAValueIsWritten) {
  const MetricRegistry& r = MetricRegistry::Builtin();
  EXPECT_EQ(r.KindOf(kValLoss), ValueKind::kReal);
  EXPECT_EQ(r.KindOf(kSteps), ValueKind::kCount);
  EXPECT_EQ(r.KindOf(kPartial), ValueKind::kFlag);
  EXPECT_EQ(r.KindOf("my_metric"), ValueKind::kReal);  // unknown names are real numbers
}

TEST(EpochMetricsTest, GetSetHasOnAnyName) {
  EpochMetrics m;
  m.epoch = 2;
  EXPECT_FALSE(m.Has(kValLoss));
  EXPECT_TRUE(std::isnan(m.Get(kValLoss)));
  EXPECT_EQ(m.Get(kValLoss, -1), -1);
  m.Set(kValLoss, 0.5);
  m.Set("my_metric", 7);
  EXPECT_TRUE(m.Has(kValLoss));
  EXPECT_EQ(m.Get(kValLoss), 0.5);
  EXPECT_EQ(m.Get("my_metric"), 7);
  m.Set(kValAuc, std::numeric_limits<double>::quiet_NaN());  // a NaN value is still present
  EXPECT_TRUE(m.Has(kValAuc));
  EXPECT_EQ(m.values.size(), 3u);
}

constexpr char kBase[] =
    "dataset: {synthetic: {}}\nmodel: {mlp: {hidden: [16]}}\nepochs: 2\n"
    "schedule: {constant: {lr: 0.1}}\n";

TEST(ObjectiveTest, UnknownMetricIsRefusedNamingTheField) {
  auto spec = ParseSweepSpec(std::string(kBase) + "objective: {metric: val_los}\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("objective.metric"));
  EXPECT_THAT(spec.status().message(), HasSubstr("val_accuracy"));  // says what is allowed
}

TEST(ObjectiveTest, WithoutAGoalTheMetricsDirectionDecides) {
  auto acc = ParseSweepSpec(std::string(kBase) + "objective: {metric: val_accuracy}\n");
  ASSERT_TRUE(acc.ok()) << acc.status();
  EXPECT_EQ(acc->objective.goal, Goal::kMaximize);
  auto loss = ParseSweepSpec(std::string(kBase) + "objective: {metric: val_loss}\n");
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_EQ(loss->objective.goal, Goal::kMinimize);
  // An explicit goal wins.
  auto odd = ParseSweepSpec(std::string(kBase) + "objective: {metric: val_accuracy, goal: min}\n");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->objective.goal, Goal::kMinimize);
  // No objective at all: val_loss, minimized.
  auto none = ParseSweepSpec(kBase);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->objective.metric, kDefaultObjective);
  EXPECT_EQ(none->objective.goal, Goal::kMinimize);
}

}  // namespace
}  // namespace hypersweep::metrics
