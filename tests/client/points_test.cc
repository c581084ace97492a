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
  EXPECT_EQ(points[0].label, "batch 64");  // momentum is the same everywhere
  EXPECT_EQ(points[1].label, "batch 256");
  EXPECT_EQ(points[0].trials.size(), 3u);
  EXPECT_EQ(points[1].trials[2]->id(), "t2562");
}

// Two 1cycle entries of a schedule grid are told apart by their values, never by schedule_index.
TEST(PointsTest, SchedulesAreToldApartByTheirValuesNotTheirIndex) {
  auto with_spec = [](v1::Trial t, const std::string& schedule) {
    t.set_spec_json(R"({"dataset": {"fashion_mnist": {}}, "schedule": )" + schedule + "}");
    return t;
  };
  std::vector<v1::Trial> trials = {
      with_spec(MakeTrial("a", {{"schedule", "one_cycle"}, {"schedule_index", "0"}}),
                R"({"one_cycle": {"max_lr": 0.1}})"),
      with_spec(MakeTrial("b", {{"schedule", "one_cycle"}, {"schedule_index", "1"}}),
                R"({"one_cycle": {"max_lr": 0.3}})"),
      with_spec(MakeTrial("c", {{"schedule", "constant"}, {"schedule_index", "2"}}),
                R"({"constant": {"lr": 0.05}})")};
  auto points = GroupIntoPoints(trials);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].label,
            "1cycle max_lr 0.1, momentum 0.95\xE2\x86\x92"
            "0.85");
  EXPECT_EQ(points[1].label,
            "1cycle max_lr 0.3, momentum 0.95\xE2\x86\x92"
            "0.85");
  EXPECT_EQ(points[2].label, "constant lr 0.05, momentum 0.9");
  for (const auto& p : points) EXPECT_THAT(p.label, ::testing::Not(::testing::HasSubstr("index")));

  // Without a readable spec the params still name the kind, and alike points get a count.
  trials = {MakeTrial("a", {{"schedule", "one_cycle"}, {"schedule_index", "0"}}),
            MakeTrial("b", {{"schedule", "one_cycle"}, {"schedule_index", "1"}})};
  points = GroupIntoPoints(trials);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].label, "1cycle");
  EXPECT_EQ(points[1].label, "1cycle (2)");
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
