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

// An auto-LR sweep as the coordinator exports it: range tests (role=lr_range_test) and 1cycle
// trials whose params name the range tests' ids (lr_from) and the grid's schedule_index. The
// report names runs as the plots do and shows none of those ids or params.
TEST(DemoReportTest, AutoLrRunsAreNamedInWordsWithoutIds) {
  json trials = json::array();
  for (uint64_t seed : {0, 1, 2}) {
    json range = Trial({{"lr_range_test", json::object()}}, seed, {2.0});
    range["params"] = {{"role", "lr_range_test"}, {"batch_size", "128"}, {"seed", "0"}};
    trials.push_back(range);
  }
  for (uint64_t seed : {0, 1, 2}) {
    json t = Trial({{"one_cycle", {{"max_lr", 0.00127458}}}}, seed, {0.5, 0.3 + 0.01 * seed});
    t["params"] = {{"max_lr", "0.00127458"},
                   {"schedule_index", "0"},
                   {"lr_from",
                    "sw-eeb160dd-0, sw-eeb160dd-1, sw-eeb160dd-2 (min, geometric mean "
                    "of 3)"}};
    trials.push_back(t);
  }
  json base = json::array();
  for (uint64_t seed : {0, 1, 2}) base.push_back(Trial(kConstant05, seed, {0.5, 0.35}));
  const std::string md =
      Report({{"one-cycle", {{"trials", trials}}}, {"one-cycle-baseline", {{"trials", base}}}});
  EXPECT_THAT(md, HasSubstr("| 1cycle max_lr 0.00127, momentum 0.95\xE2\x86\x92"
                            "0.85 |"));
  EXPECT_THAT(md, HasSubstr("| constant lr 0.05 |"));
  EXPECT_THAT(md, HasSubstr("1cycle's max_lr, 0.00127458, came from 3 range tests (min, geometric "
                            "mean of 3)."));
  for (const char* bad : {"sw-", "lr_from", "schedule_index", "role"}) {
    EXPECT_THAT(md, Not(HasSubstr(bad))) << md;
  }
}

// The momentum findings pair runs by their labels, which carry cycled momentum as "max→base".
TEST(DemoReportTest, MomentumPairsAreFoundByThePlotsLabels) {
  const json cycled = {{"cyclic",
                        {{"base_lr", 0.01},
                         {"max_lr", 0.01},
                         {"step_size_up_epochs", 2},
                         {"base_momentum", 0.85},
                         {"max_momentum", 0.95}}}};
  json constant = json::array(), cyc = json::array();
  for (uint64_t seed : {0, 1, 2}) {
    constant.push_back(Trial(kConstant01, seed, {0.5, 0.40 + 0.001 * seed}));
    cyc.push_back(Trial(cycled, seed, {0.5, 0.30 + 0.002 * seed}));
  }
  const std::string md = Report(
      {{"momentum-constant", {{"trials", constant}}}, {"momentum-cycled", {{"trials", cyc}}}});
  EXPECT_THAT(md, HasSubstr("| constant lr 0.01, momentum 0.9 |"));
  EXPECT_THAT(md, HasSubstr("under a constant LR of 0.01, best validation loss: momentum cycled "
                            "0.95-0.85 minus constant momentum 0.9"));
}

}  // namespace
}  // namespace hypersweep
