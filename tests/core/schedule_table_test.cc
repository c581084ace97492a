// The schedule preview table and its CSV, shared by `hypersweep schedule` and
// `hypersweep-worker schedule`.
#include <sstream>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

ScheduleSpec Spec(const std::string& yaml) {
  ParseOptions options;
  options.allow_auto = true;  // so that Create() sees an unresolved auto field
  auto spec = ParseSchedule(YAML::Load(yaml), "schedule", options);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : ScheduleSpec{};
}

std::string Csv(const std::vector<ScheduleRow>& rows) {
  std::ostringstream out;
  WriteScheduleCsv(rows, out);
  return out.str();
}

TEST(ScheduleTableTest, ConstantScheduleCsv) {
  ScheduleTableOptions options;
  options.steps = 3;
  options.steps_per_epoch = 2;
  auto rows = ScheduleTable(Spec("{constant: {lr: 0.05}}"), options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(Csv(*rows),
            "step,epoch,lr,momentum\n"
            "0,0,0.05,0.9\n"
            "1,0,0.05,0.9\n"
            "2,1,0.05,0.9\n");
}

TEST(ScheduleTableTest, OneCycleCsvMatchesPyTorch) {
  ScheduleTableOptions options;
  options.steps = 10;
  options.steps_per_epoch = 5;
  auto rows = ScheduleTable(Spec("{one_cycle: {max_lr: 0.1, anneal_strategy: linear}}"), options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::istringstream in(Csv(*rows));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines[0], "step,epoch,lr,momentum");
  EXPECT_EQ(lines[1], "0,0,0.004,0.95");  // max_lr / div_factor 25, max_momentum
  EXPECT_EQ(lines[3], "2,0,0.1,0.85");    // the peak at pct_start * total - 1
  // Linear annealing over steps 2..9: 0.1 + (4e-7 - 0.1) / 7, 0.85 + (0.95 - 0.85) / 7.
  EXPECT_EQ(lines[4], "3,0,0.08571434286,0.8642857143");
  EXPECT_EQ(lines[10], "9,1,4e-07,0.95");  // max_lr / (25 * 1e4)
}

TEST(ScheduleTableTest, MaxRowsSamplesAndKeepsTheLastStep) {
  ScheduleTableOptions options;
  options.steps = 10;
  options.max_rows = 4;  // every 3rd step, then the last
  auto rows = ScheduleTable(Spec("{constant: {lr: 1}}"), options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<int64_t> steps;
  for (const auto& r : *rows) steps.push_back(r.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 3, 6, 9}));
}

TEST(ScheduleTableTest, RejectsBadArgumentsNamingTheField) {
  ScheduleTableOptions options;
  options.steps = 0;
  auto rows = ScheduleTable(Spec("{constant: {lr: 1}}"), options);
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rows.status().message()), HasSubstr("steps"));
  options.steps = 10;
  rows = ScheduleTable(Spec("{one_cycle: {max_lr: auto}}"), options);
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rows.status().message()), HasSubstr("max_lr"));
}

}  // namespace
}  // namespace hypersweep
