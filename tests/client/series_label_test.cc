// Series names in human terms (client/series_label.h): only what differs, schedule words and
// values, never ids, indexes or the coordinator's bookkeeping params.
#include "client/series_label.h"

#include <string>
#include <vector>

#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const char kArrow[] = "\xE2\x86\x92";

// A subject whose spec is `yaml` (dataset added) and whose params are `params`.
SeriesSubject Subject(const std::string& yaml, std::map<std::string, std::string> params = {}) {
  ParseOptions options;
  options.allow_auto = true;
  auto spec = ParseTrialSpec("dataset: {fashion_mnist: {}}\n" + yaml, options);
  EXPECT_TRUE(spec.ok()) << spec.status() << "\n" << yaml;
  SeriesSubject s;
  if (spec.ok()) s.spec = *spec;
  s.params = std::move(params);
  return s;
}

TEST(SeriesLabelTest, SeriesThatDifferOnlyInScheduleAreNamedByTheirSchedules) {
  const auto labels = SeriesLabels({
      Subject("schedule: {constant: {lr: 0.05}}",
              {{"schedule", "constant"}, {"schedule_index", "0"}}),
      Subject("schedule: {one_cycle: {max_lr: 0.096, cycle_momentum: false}}",
              {{"schedule", "one_cycle"}, {"schedule_index", "1"}}),
      Subject("schedule: {cyclic: {base_lr: 0.001, max_lr: 0.1, step_size_up_epochs: 2, "
              "cycle_momentum: false}}",
              {{"schedule", "cyclic"}, {"schedule_index", "2"}}),
      Subject("schedule: {cosine_restarts: {max_lr: 0.1, t_0_epochs: 2}}",
              {{"schedule", "cosine_restarts"}, {"schedule_index", "3"}}),
      Subject("schedule: {lr_range_test: {}}", {{"role", "lr_range_test"}}),
  });
  EXPECT_THAT(labels, ElementsAre("constant lr 0.05", "1cycle max_lr 0.096", "triangular 0.001-0.1",
                                  "cosine restarts lr 0.1 T0 2", "LR range test"));
}

TEST(SeriesLabelTest, SeriesThatDifferOnlyInWeightDecayAreNamedByIt) {
  const std::string s = "schedule: {constant: {lr: 0.05}}\n";
  EXPECT_THAT(SeriesLabels({Subject(s + "weight_decay: 0", {{"weight_decay", "0"}}),
                            Subject(s + "weight_decay: 1e-4", {{"weight_decay", "0.0001"}}),
                            Subject(s + "weight_decay: 5e-4", {{"weight_decay", "0.0005"}})}),
              ElementsAre("wd 0", "wd 1e-4", "wd 5e-4"));
}

TEST(SeriesLabelTest, BatchMomentumAndOtherParamsInWords) {
  const std::string s = "schedule: {constant: {lr: 0.01}}\n";
  EXPECT_THAT(SeriesLabels({Subject(s + "batch_size: 64\nmomentum: 0.9"),
                            Subject(s + "batch_size: 128\nmomentum: 0.95")}),
              ElementsAre("batch 64, momentum 0.9", "batch 128, momentum 0.95"));
  // A cyclic schedule with equal bounds is a constant LR; cycling momentum reads max -> base.
  const std::string cyc =
      "schedule: {cyclic: {base_lr: 0.01, max_lr: 0.01, step_size_up_epochs: 2, "
      "base_momentum: 0.85, max_momentum: 0.95}}\n";
  EXPECT_THAT(SeriesLabels({Subject(cyc), Subject(s + "momentum: 0.9")}),
              ElementsAre(std::string("momentum 0.95") + kArrow + "0.85", "momentum 0.9"));
  // A swept model field is named by its field; the coordinator's params never show.
  EXPECT_THAT(SeriesLabels({Subject(s + "model: {mlp: {dropout: 0.1}}",
                                    {{"model.dropout", "0.1"}, {"lr_warning", "uncertain"}}),
                            Subject(s + "model: {mlp: {dropout: 0.3}}",
                                    {{"model.dropout", "0.3"}, {"lr_warning", "other"}})}),
              ElementsAre("dropout 0.1", "dropout 0.3"));
}

// Auto-LR trials carry lr_from (the range tests' ids), max_lr and schedule_index among their
// params: the label names the resolved LR from the spec and none of those.
TEST(SeriesLabelTest, AutoLrTrialsShowTheResolvedLrNotItsBookkeeping) {
  std::vector<SeriesSubject> subjects;
  for (const auto& [bs, lr] : {std::pair<int, double>{64, 0.00105831}, {128, 0.00147841}}) {
    subjects.push_back(
        Subject("batch_size: " + std::to_string(bs) +
                    "\nschedule: {one_cycle: {max_lr: " + std::to_string(lr) + "}}",
                {{"batch_size", std::to_string(bs)},
                 {"schedule", "one_cycle"},
                 {"schedule_index", "0"},
                 {"max_lr", std::to_string(lr)},
                 // Each batch size had its own range tests.
                 {"lr_from", "sw-eeb160dd-" + std::to_string(bs) + ", sw-eeb160dd-" +
                                 std::to_string(bs + 1) + " (min_div_10, geometric mean of 2)"},
                 {"role", "lr_range_test"},
                 {"seed", "1"},
                 {"fold", "0"}}));
  }
  const auto labels = SeriesLabels(subjects);
  EXPECT_THAT(labels,
              ElementsAre("1cycle max_lr 0.00106, batch 64", "1cycle max_lr 0.00148, batch 128"));
  for (const auto& l : labels) {
    for (const char* bad : {"sw-", "lr_from", "schedule_index", "role", "seed", "fold", "="}) {
      EXPECT_THAT(l, Not(HasSubstr(bad))) << l;
    }
  }
  // Not resolved yet: "auto".
  EXPECT_THAT(SeriesLabels({Subject("schedule: {one_cycle: {max_lr: auto}}")}),
              ElementsAre("1cycle max_lr auto"));
}

TEST(SeriesLabelTest, NothingDiffersGivesTheScheduleAndCloseValuesGetMoreDigits) {
  EXPECT_THAT(SeriesLabels({Subject("schedule: {constant: {lr: 0.05}}")}),
              ElementsAre("constant lr 0.05"));
  EXPECT_THAT(SeriesLabels({Subject("schedule: {constant: {lr: 0.09631}}"),
                            Subject("schedule: {constant: {lr: 0.09634}}")}),
              ElementsAre("constant lr 0.09631", "constant lr 0.09634"));
  // Alike in everything a label shows: counted, not indexed.
  EXPECT_THAT(SeriesLabels({Subject("seed: 1\nschedule: {constant: {lr: 0.1}}"),
                            Subject("seed: 2\nschedule: {constant: {lr: 0.1}}")}),
              ElementsAre("constant lr 0.1", "constant lr 0.1 (2)"));
}

TEST(SeriesLabelTest, Numbers) {
  EXPECT_EQ(LabelNumber(0.0001), "1e-4");
  EXPECT_EQ(LabelNumber(2.5e-5), "2.5e-5");
  EXPECT_EQ(LabelNumber(0.096), "0.096");
  EXPECT_EQ(LabelNumber(0.0963417), "0.0963");
  EXPECT_EQ(LabelNumber(0.00105831), "0.00106");
  EXPECT_EQ(LabelNumber(128), "128");
  EXPECT_EQ(LabelNumber(0), "0");
  EXPECT_EQ(LabelNumber(250000), "2.5e5");
  EXPECT_EQ(DescribeSchedule(ScheduleSpec{CosineRestartsSchedule{0.1, {500.0, {}}, 2, 0}, {}}),
            "cosine restarts lr 0.1 T0 500 steps Tmult 2");
}

}  // namespace
}  // namespace hypersweep
