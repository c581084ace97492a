// The demo report's runs, points and the texts of its statistics (tools/demo_runs.h).
#include "tools/demo_runs.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep::demo {
namespace {

using ::testing::HasSubstr;

json Trial(double lr, uint64_t seed, double val_loss) {
  return {{"status", "SUCCEEDED"},
          {"params", json::object()},
          {"spec", {{"schedule", {{"constant", {{"lr", lr}}}}}, {"seed", seed}}},
          {"epochs", {{{"epoch", 0}, {"val_loss", val_loss}}}}};
}

TEST(DemoRunsTest, PointsGroupTheRunsThatDifferOnlyInSeed) {
  json range = Trial(0.1, 0, 1.0);
  range["params"]["role"] = "lr_range_test";
  const std::vector<demo::Run> runs =
      Runs({{"trials",
             {range, Trial(0.05, 0, 0.30), Trial(0.01, 0, 0.40), Trial(0.05, 1, 0.32),
              Trial(0.01, 1, 0.41), Trial(0.05, 2, 0.31)}}});
  const std::vector<Point> points = Points(runs);  // the range test is no point
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].label, "constant lr 0.05");
  EXPECT_EQ(points[0].runs.size(), 3u);
  EXPECT_EQ(points[1].label, "constant lr 0.01");
  EXPECT_EQ(points[1].runs.size(), 2u);
  const auto loss = [](const demo::Run& r) { return r.Final("val_loss"); };
  EXPECT_EQ(points[0].Values(loss), (std::map<uint64_t, double>{{0, 0.30}, {1, 0.32}, {2, 0.31}}));
  EXPECT_EQ(MeanSe(points[0].Values(loss)), "0.3100 ± 0.0058 (n=3)");
  EXPECT_EQ(MeanSe({{0, 0.3}}), "0.3000 (one run)");
  EXPECT_EQ(MeanSe({}), "-");
}

// The report names schedules as the plots' legends do (client/series_label).
TEST(DemoRunsTest, ScheduleLabelsAreThePlotsWords) {
  EXPECT_EQ(ScheduleLabel({{"schedule", {{"constant", {{"lr", 0.05}}}}}}), "constant lr 0.05");
  EXPECT_EQ(ScheduleLabel({{"schedule",
                            {{"cyclic",
                              {{"base_lr", 0.005},
                               {"max_lr", 0.1},
                               {"step_size_up_epochs", 2},
                               {"cycle_momentum", false}}}}}}),
            "triangular 0.005-0.1");
  EXPECT_EQ(ScheduleLabel({{"schedule",
                            {{"cyclic",
                              {{"base_lr", 0.01},
                               {"max_lr", 0.01},
                               {"step_size_up_epochs", 2},
                               {"base_momentum", 0.85},
                               {"max_momentum", 0.95}}}}}}),
            "constant lr 0.01, momentum 0.95\xE2\x86\x92"
            "0.85");
  EXPECT_EQ(
      ScheduleLabel(
          {{"schedule",
            {{"cosine_restarts", {{"max_lr", 0.1}, {"t_0_epochs", 4}, {"eta_min", 0.001}}}}}}),
      "cosine restarts lr 0.1 T0 4");
  EXPECT_EQ(ScheduleLabel({{"schedule", {{"one_cycle", {{"max_lr", 0.00127458}}}}}}),
            "1cycle max_lr 0.00127, momentum 0.95\xE2\x86\x92"
            "0.85");
  EXPECT_EQ(ScheduleLabel({{"schedule", {{"lr_range_test", json::object()}}}}), "LR range test");
  EXPECT_EQ(ScheduleLabel({{"schedule", {{"warp_drive", {{"lr", 1}}}}}}), "warp_drive");
}

TEST(DemoRunsTest, ComparisonsStateTheDifferenceItsSeAndWhatItSupports) {
  const Difference clear = PairedDifference({{0, 0.30}, {1, 0.32}}, {{0, 0.40}, {1, 0.41}});
  EXPECT_THAT(Comparison("A", "B", "best val_loss", clear, /*lower_is_better=*/true),
              HasSubstr("best val_loss: A minus B = -0.0950 ± 0.0050 over 2 seeds: A is better"));
  const Difference unclear = PairedDifference({{0, 0.30}, {1, 0.42}}, {{0, 0.40}, {1, 0.41}});
  EXPECT_THAT(Comparison("A", "B", "best val_loss", unclear, true),
              HasSubstr("no clear difference"));
  EXPECT_THAT(Comparison("A", "B", "x", PairedDifference({{0, 1.0}}, {{0, 2.0}}), true),
              HasSubstr("no finding either way"));
}

}  // namespace
}  // namespace hypersweep::demo
