#include "client/points.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

v1::Trial MakeTrial(const std::string& id, std::map<std::string, std::string> params) {
  v1::Trial t;
  t.set_id(id);
  t.set_schedule(params.count("schedule") ? params["schedule"] : "constant");
  for (const auto& [k, v] : params) (*t.mutable_params())[k] = v;
  return t;
}

TEST(PointsTest, GroupsFoldsAndSeedsAndLabelsByWhatDiffers) {
  std::vector<v1::Trial> trials;
  for (const char* bs : {"64", "256"}) {
    for (const char* fold : {"0", "1", "2"}) {
      trials.push_back(
          MakeTrial(std::string("t") + bs + fold,
                    {{"batch_size", bs}, {"momentum", "0.9"}, {"fold", fold}, {"seed", "0"}}));
    }
  }
  auto points = GroupIntoPoints(trials);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].label, "batch_size=64");  // momentum is the same everywhere
  EXPECT_EQ(points[1].label, "batch_size=256");
  EXPECT_EQ(points[0].trials.size(), 3u);
  EXPECT_EQ(points[1].trials[2]->id(), "t2562");
}

TEST(PointsTest, ScheduleIndexOnlyWhenNeeded) {
  std::vector<v1::Trial> trials = {
      MakeTrial("a", {{"schedule", "one_cycle"}, {"schedule_index", "0"}}),
      MakeTrial("b", {{"schedule", "one_cycle"}, {"schedule_index", "1"}}),
      MakeTrial("c", {{"schedule", "constant"}, {"schedule_index", "2"}})};
  auto points = GroupIntoPoints(trials);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].label, "schedule=one_cycle, schedule_index=0");
  EXPECT_EQ(points[2].label, "schedule=constant, schedule_index=2");

  trials.pop_back();
  trials[1] = MakeTrial("b", {{"schedule", "constant"}, {"schedule_index", "1"}});
  points = GroupIntoPoints(trials);
  EXPECT_EQ(points[0].label, "schedule=one_cycle");
  EXPECT_EQ(points[1].label, "schedule=constant");
}

TEST(PointsTest, SinglePointIsLabelledBySchedule) {
  std::vector<v1::Trial> trials = {MakeTrial("a", {{"seed", "0"}}),
                                   MakeTrial("b", {{"seed", "1"}})};
  auto points = GroupIntoPoints(trials);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].label, "constant");
  EXPECT_EQ(points[0].trials.size(), 2u);
}

TEST(PointsTest, AggregateMeanAndStandardErrorPerEpoch) {
  std::vector<v1::TrialMetrics> tms(3);
  const double values[3][2] = {{1.0, 0.5}, {2.0, 0.7}, {3.0, NAN}};
  for (int t = 0; t < 3; ++t) {
    for (int e = 0; e < 2; ++e) {
      if (std::isnan(values[t][e])) continue;
      auto* em = tms[t].add_epochs();
      em->set_epoch(e);
      (*em->mutable_metrics())["val_loss"] = values[t][e];
    }
  }
  auto s = AggregateMetric({&tms[0], &tms[1], &tms[2]}, "val_loss");
  ASSERT_EQ(s.epoch.size(), 2u);
  EXPECT_DOUBLE_EQ(s.mean[0], 2.0);
  EXPECT_DOUBLE_EQ(s.se[0], 1.0 / std::sqrt(3.0));  // sd 1, n 3
  EXPECT_EQ(s.n[0], 3);
  EXPECT_DOUBLE_EQ(s.mean[1], 0.6);
  EXPECT_NEAR(s.se[1], 0.1, 1e-12);  // sd 0.1414, n 2
  EXPECT_EQ(s.n[1], 2);
  EXPECT_TRUE(AggregateMetric({&tms[0]}, "val_accuracy").epoch.empty());
  // One run: its standard error is undefined (NaN, shown empty), not 0.
  auto one = AggregateMetric({&tms[0]}, "val_loss");
  ASSERT_EQ(one.se.size(), 2u);
  EXPECT_TRUE(std::isnan(one.se[0]));
  EXPECT_EQ(one.n[0], 1);
}

}  // namespace
}  // namespace hypersweep
