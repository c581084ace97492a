// hypersweep-demo-report on hand-written sweep exports: what its tables and findings say.
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

json Trial(const json& schedule, int batch_size, const std::vector<double>& val_loss,
           const std::vector<double>& val_accuracy) {
  json epochs = json::array();
  for (size_t i = 0; i < val_loss.size(); ++i) {
    epochs.push_back({{"epoch", i}, {"val_loss", val_loss[i]}, {"val_accuracy", val_accuracy[i]}});
  }
  return {{"status", "SUCCEEDED"},
          {"params", json::object()},
          {"spec", {{"schedule", schedule}, {"batch_size", batch_size}}},
          {"epochs", epochs}};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Tables and findings count epochs the same way, from 1 ("epoch k of N"): the constant run's
// best accuracy comes in its second epoch (epoch 1 in the export) and the 1cycle run matches it in
// its second epoch too.
TEST(DemoReportTest, TablesAndFindingsCountEpochsTheSameWay) {
  test_support::TempDir dir;
  const json schedules = {
      {"trials",
       {Trial({{"constant", {{"lr", 0.05}}}}, 256, {0.5, 0.4, 0.45}, {0.80, 0.85, 0.84})}}};
  const json one_cycle = {
      {"trials", {Trial({{"one_cycle", {{"max_lr", 0.1}}}}, 128, {0.6, 0.42}, {0.78, 0.86})}}};
  std::ofstream(dir.File("schedules.json")) << schedules.dump();
  std::ofstream(dir.File("one-cycle.json")) << one_cycle.dump();
  const auto r = test_support::RunProgram({DEMO_REPORT_BIN, dir.path()});
  const std::string md = ReadAll(dir.File("index.md"));
  ASSERT_FALSE(md.empty()) << r.err;
  // The schedules table: best val_loss 0.4 at epoch 2, best val_accuracy 0.85 at epoch 2.
  EXPECT_THAT(md, HasSubstr("| constant lr 0.05 | 0.4000 | 2 | 0.8500 | 2 |"));
  // The 1cycle table and finding: best 0.86 at epoch 2; the constant run's 0.85 at epoch 2 of 3.
  EXPECT_THAT(md, HasSubstr("| 2 | 0.8600 | 2 |"));
  EXPECT_THAT(md, HasSubstr("reached 0.8500 at epoch 2 of 3"));
  EXPECT_THAT(md, HasSubstr("matched (epoch 2)"));
}

}  // namespace
}  // namespace hypersweep
