// hypersweep-demo-report on hand-written sweep exports: what its tables and findings say.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// One trial of `schedule` with `seed` whose val_loss per epoch is `val_loss`.
json Trial(const json& schedule, uint64_t seed, const std::vector<double>& val_loss,
           double weight_decay = 0) {
  json epochs = json::array();
  for (size_t i = 0; i < val_loss.size(); ++i) {
    epochs.push_back({{"epoch", i}, {"val_loss", val_loss[i]}, {"val_accuracy", 1 - val_loss[i]}});
  }
  epochs.back()["test_accuracy"] = 0.8;
  return {{"status", "SUCCEEDED"},
          {"params", json::object()},
          {"spec",
           {{"schedule", schedule},
            {"batch_size", 256},
            {"seed", seed},
            {"weight_decay", weight_decay}}},
          {"epochs", epochs}};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Report(const std::map<std::string, json>& exports) {
  test_support::TempDir dir;
  for (const auto& [name, doc] : exports) std::ofstream(dir.File(name + ".json")) << doc.dump();
  const auto r = test_support::RunProgram({DEMO_REPORT_BIN, dir.path()});
  std::string md = ReadAll(dir.File("index.md"));
  EXPECT_FALSE(md.empty()) << r.err;
  return md;
}

const json kConstant05 = {{"constant", {{"lr", 0.05}}}};
const json kConstant01 = {{"constant", {{"lr", 0.01}}}};

// Three seeds per point: the tables give mean ± SE, and the finding is the paired difference
// with its SE. lr 0.05 is lower by 0.10 +- 0.01 on every seed: a clear difference.
TEST(DemoReportTest, ThreeSeedsGiveMeanSeAndAClearPairedDifference) {
  json trials = json::array();
  for (uint64_t seed : {0, 1, 2}) {
    trials.push_back(Trial(kConstant05, seed, {0.5, 0.30 + 0.01 * seed}));
    trials.push_back(Trial(kConstant01, seed, {0.6, 0.40 + 0.01 * seed + 0.002 * (seed % 2)}));
  }
  const std::string md = Report({{"schedules", {{"trials", trials}}}});
  EXPECT_THAT(md, HasSubstr("| constant lr 0.05 | 0.3100 ± 0.0058 (n=3) |"));
  EXPECT_THAT(md, HasSubstr("0.8000 ± 0.0000 (n=3)"));  // the final models' test accuracy
  EXPECT_THAT(md, HasSubstr("best validation loss (lowest two): constant lr 0.05 minus constant lr "
                            "0.01 = -0.1007 ± 0.0007 over 3 seeds: constant lr 0.05 is better"));
}

// The same means, but the differences scatter over the seeds: no clear difference.
TEST(DemoReportTest, ADifferenceWithinTwoStandardErrorsIsNoClearDifference) {
  json trials = json::array();
  const double a[] = {0.30, 0.45, 0.33}, b[] = {0.40, 0.31, 0.40};
  for (uint64_t seed : {0, 1, 2}) {
    trials.push_back(Trial(kConstant05, seed, {0.9, a[seed]}, 1e-4));
    trials.push_back(Trial(kConstant05, seed, {0.9, b[seed]}, 1e-3));
  }
  const std::string md = Report({{"weight-decay", {{"trials", trials}}}});
  EXPECT_THAT(md, HasSubstr("no clear difference (within 2 SE)"));
  EXPECT_THAT(md, Not(HasSubstr("is better")));
}

// One seed per point: a mean without an SE, and no finding either way.
TEST(DemoReportTest, OneSeedGivesNoFinding) {
  const json trials = {Trial(kConstant05, 0, {0.5, 0.3}), Trial(kConstant01, 0, {0.6, 0.4})};
  const std::string md = Report({{"schedules", {{"trials", trials}}}});
  EXPECT_THAT(md, HasSubstr("| constant lr 0.05 | 0.3000 (one run) |"));
  EXPECT_THAT(md, HasSubstr("no standard error, so no finding either way"));
}

}  // namespace
}  // namespace hypersweep
