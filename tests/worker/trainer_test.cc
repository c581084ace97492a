// The training engine through its public, torch-free API, on small synthetic and CSV data.
#include "worker/trainer/trainer.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"

namespace hypersweep {
namespace {

using ::hypersweep::testing::RecordingSink;
using ::hypersweep::testing::TempDir;
using ::testing::HasSubstr;

TrialSpec Synthetic(const std::string& extra = "") {
  auto s = ParseTrialSpec(R"(
dataset: {synthetic: {samples: 1500, features: 12, classes: 3, noise: 0.3}}
model: {mlp: {hidden: [32, 32], dropout: 0.1}}
schedule: {one_cycle: {max_lr: 0.2}}
epochs: 5
batch_size: 64
validation: {holdout: 0.2}
)" + extra);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

// Everything but the timings.
std::vector<double> Numbers(const std::vector<EpochMetrics>& es) {
  std::vector<double> out;
  for (const auto& e : es) {
    for (const char* name : {metrics::kTrainLoss, metrics::kValLoss, metrics::kValAccuracy,
                             metrics::kLr, metrics::kMomentum, metrics::kSteps}) {
      out.push_back(e.Get(name));
    }
  }
  return out;
}

TEST(TrainerTest, LearnsSyntheticMulticlass) {
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  auto r = TrainTrial(Synthetic(), o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, TrialOutcome::kSucceeded);
  ASSERT_EQ(sink.epochs.size(), 5u);
  EXPECT_LT(sink.epochs.back().Get(metrics::kTrainLoss),
            sink.epochs.front().Get(metrics::kTrainLoss));
  EXPECT_GT(sink.epochs.back().Get(metrics::kValAccuracy), 0.6);      // 3 classes: chance is ~0.33
  EXPECT_TRUE(std::isnan(sink.epochs.back().Get(metrics::kValAuc)));  // not binary
  EXPECT_EQ(sink.epochs.back().Get(metrics::kSteps), 5 * ((1200 + 63) / 64));
  EXPECT_GT(sink.epochs.back().Get(metrics::kSamplesPerSecond), 0);
  // Every built-in metric each epoch, except the flag of an epoch cut by the budget.
  for (const auto& e : sink.epochs) {
    for (const metrics::MetricInfo& info : metrics::MetricRegistry::Builtin().all()) {
      // No test split in the synthetic data: no test_* metrics.
      EXPECT_EQ(e.Has(info.name),
                info.name != metrics::kPartial && !metrics::IsTestMetric(info.name))
          << info.name;
    }
  }
}

TEST(TrainerTest, SameSeedSameMetricsBitForBit) {
  TrainOptions o;
  o.threads = 1;
  RecordingSink a, b, c;
  ASSERT_TRUE(TrainTrial(Synthetic(), o, &a).ok());
  ASSERT_TRUE(TrainTrial(Synthetic(), o, &b).ok());
  ASSERT_TRUE(TrainTrial(Synthetic("seed: 5\n"), o, &c).ok());
  EXPECT_EQ(Numbers(a.epochs), Numbers(b.epochs));
  EXPECT_NE(Numbers(a.epochs), Numbers(c.epochs));
}

TEST(TrainerTest, ResumeAfterStopMatchesUninterruptedRun) {
  TempDir dir;
  TrainOptions o;
  o.threads = 1;
  RecordingSink full;
  ASSERT_TRUE(TrainTrial(Synthetic(), o, &full).ok());

  // Stop in the middle of epoch 2 (mid-epoch: exercises the RNG state and partial sums), then
  // resume.
  for (int stop_after_steps : {3 * 19 + 5, 2 * 19}) {
    SCOPED_TRACE(stop_after_steps);
    TrainOptions first = o;
    first.checkpoint_path = dir.File("ckpt-" + std::to_string(stop_after_steps) + ".pt");
    int polls = 0;
    first.should_stop = [&] { return polls++ == stop_after_steps; };
    RecordingSink part1;
    auto r1 = TrainTrial(Synthetic(), first, &part1);
    ASSERT_TRUE(r1.ok()) << r1.status();
    ASSERT_EQ(r1->outcome, TrialOutcome::kStopped);
    ASSERT_LT(part1.epochs.size(), 5u);

    TrainOptions second = o;
    second.checkpoint_path = first.checkpoint_path;
    second.resume = true;
    RecordingSink part2;
    auto r2 = TrainTrial(Synthetic(), second, &part2);
    ASSERT_TRUE(r2.ok()) << r2.status();
    EXPECT_EQ(r2->outcome, TrialOutcome::kSucceeded);
    EXPECT_EQ(r2->start_epoch, static_cast<int64_t>(part1.epochs.size()));
    std::vector<EpochMetrics> joined = part1.epochs;
    joined.insert(joined.end(), part2.epochs.begin(), part2.epochs.end());
    EXPECT_EQ(Numbers(joined), Numbers(full.epochs));
    EXPECT_EQ(Numbers(r2->epochs), Numbers(full.epochs));  // restored + new
    EXPECT_THAT(part2.logs.front(), HasSubstr("resumed from checkpoint"));
  }
}

TEST(TrainerTest, CorruptCheckpointRestartsFromScratch) {
  TempDir dir;
  TrainOptions o;
  o.threads = 1;
  o.checkpoint_path = dir.File("bad.pt");
  o.resume = true;
  hypersweep::testing::WriteFile(o.checkpoint_path, "PK\x03\x04 truncated");
  RecordingSink sink;
  auto r = TrainTrial(Synthetic(), o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->start_epoch, 0);
  EXPECT_EQ(sink.epochs.size(), 5u);
  ASSERT_FALSE(sink.logs.empty());
  EXPECT_THAT(sink.logs.front(), HasSubstr("restarting the trial from epoch 0"));
}

TEST(TrainerTest, HugeLearningRateDiverges) {
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  auto spec = Synthetic();
  spec.schedule.kind = ConstantSchedule{500.0};
  auto r = TrainTrial(spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, TrialOutcome::kDiverged);
  EXPECT_THAT(r->reason, HasSubstr("epoch 0"));
}

TEST(TrainerTest, BudgetStopsTrainingEarly) {
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  auto spec = Synthetic();
  spec.epochs = 100000;
  spec.budget_seconds = 0.5;
  auto r = TrainTrial(spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, TrialOutcome::kSucceeded);
  EXPECT_THAT(r->reason, HasSubstr("budget"));
  ASSERT_FALSE(sink.epochs.empty());
  EXPECT_LT(sink.epochs.size(), 100000u);
  EXPECT_GE(sink.epochs.back().Get(metrics::kElapsedSeconds), 0.5);
  // Checked at batch boundaries.
  EXPECT_LT(sink.epochs.back().Get(metrics::kElapsedSeconds), 0.5 + 1.0);
  for (size_t i = 0; i + 1 < sink.epochs.size(); ++i)
    EXPECT_FALSE(sink.epochs[i].Has(metrics::kPartial));
}

TEST(TrainerTest, HiggsLikeCsvWithWeightsReportsAucAndAms) {
  TempDir dir;
  const std::string csv = dir.File("higgs.csv");
  hypersweep::testing::WriteHiggsLikeCsv(csv, 3000, 1);
  auto spec = ParseTrialSpec(R"(
dataset: {csv: {path: )" + csv +
                             R"(, label: Label, positive: s, weight: KaggleWeight,
                drop: [EventId, Weight], where: {KaggleSet: t}, missing: -999, normalize_weights: true}}
model: {mlp: {hidden: [32, 32]}}
schedule: {one_cycle: {max_lr: 0.05}}
epochs: 4
batch_size: 128
validation: {folds: 5, fold: 1}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  auto r = TrainTrial(*spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(sink.epochs.size(), 4u);
  const auto& last = sink.epochs.back();
  EXPECT_GT(last.Get(metrics::kValAuc), 0.75);
  EXPECT_LE(last.Get(metrics::kValAuc), 1.0);
  EXPECT_TRUE(std::isfinite(last.Get(metrics::kValAms)));
  EXPECT_GT(last.Get(metrics::kValAms), 0);
  EXPECT_TRUE(std::isfinite(last.Get(metrics::kValLoss)));
}

TEST(TrainerTest, TestSplitScoresTheFinalModelOnceAndNeverValidates) {
  // A CSV with a separate test file: validation is a holdout of the training file by default,
  // and the test file is evaluated once, on the final model, reported with the last epoch only.
  TempDir dir;
  const std::string train = dir.File("train.csv"), test = dir.File("test.csv");
  hypersweep::testing::WriteHiggsLikeCsv(train, 1500, 1);
  hypersweep::testing::WriteHiggsLikeCsv(test, 500, 2);
  auto spec = ParseTrialSpec(R"(
dataset: {csv: {path: )" + train +
                             ", test_path: " + test +
                             R"(, label: Label, positive: s, weight: KaggleWeight,
                drop: [EventId, Weight, KaggleSet], missing: -999}}
model: {mlp: {hidden: [16]}}
schedule: {constant: {lr: 0.05}}
epochs: 3
batch_size: 128
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  ASSERT_TRUE(TrainTrial(*spec, o, &sink).ok());
  ASSERT_EQ(sink.epochs.size(), 3u);
  for (size_t i = 0; i + 1 < sink.epochs.size(); ++i) {
    for (const char* m :
         {metrics::kTestLoss, metrics::kTestAccuracy, metrics::kTestAuc, metrics::kTestAms}) {
      EXPECT_FALSE(sink.epochs[i].Has(m)) << m << " at epoch " << i;
    }
  }
  const auto& last = sink.epochs.back();
  EXPECT_GT(last.Get(metrics::kTestAccuracy), 0.5);
  EXPECT_GT(last.Get(metrics::kTestAuc), 0.6);
  EXPECT_TRUE(std::isfinite(last.Get(metrics::kTestLoss)));
  EXPECT_TRUE(std::isfinite(last.Get(metrics::kTestAms)));
  // Validation came from the training file: its score differs from the test file's.
  EXPECT_NE(last.Get(metrics::kValLoss), last.Get(metrics::kTestLoss));

  // validation: {test_split: true} validates on the test file and reports no separate test.
  auto on_test = *spec;
  on_test.validation.kind = ValidationSpec::Kind::kTestSplit;
  RecordingSink sink2;
  ASSERT_TRUE(TrainTrial(on_test, o, &sink2).ok());
  ASSERT_EQ(sink2.epochs.size(), 3u);
  for (const auto& e : sink2.epochs) EXPECT_FALSE(e.Has(metrics::kTestLoss));
}

TEST(TrainerTest, RangeTestSuggestsAnLr) {
  auto spec = Synthetic();
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  auto r = RunLrRangeTest(spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GT(r->curve.size(), 5u);
  EXPECT_EQ(sink.points.size(), r->curve.size());
  ASSERT_TRUE(r->suggestions.AnyOk());
  const auto steepest = r->suggestions.Get(SuggestRule::kSteepest);
  ASSERT_TRUE(steepest.ok()) << steepest.status();
  EXPECT_GT(*steepest, 1e-7);
  EXPECT_LT(*steepest, 10);
  EXPECT_GT(r->curve.back().lr, r->curve.front().lr);
}

TEST(TrainerTest, RangeTestTrainsFullBatchesOnly) {
  // 1200 training rows in batches of 7: 171 full batches and a partial one of 3 rows, which the
  // range test leaves out: its epochs are 171 steps, not 172. Its default length is 100 steps per
  // decade of LR (300 here), whatever the batch size.
  auto spec = Synthetic();
  spec.batch_size = 7;
  LrRangeTestSchedule range;
  range.min_lr = 1e-5;
  range.max_lr = 1e-2;
  spec.schedule = ScheduleSpec{range, {}};
  RecordingSink sink;
  TrainOptions o;
  o.threads = 1;
  auto r = RunLrRangeTest(spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->steps_per_epoch, 1200 / 7);
  EXPECT_EQ(r->curve.size(), 300u);
  EXPECT_EQ(sink.points.size(), 300u);
  spec.batch_size = 70;  // 17 full batches of 70, and 10 rows left out
  r = RunLrRangeTest(spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->steps_per_epoch, 17);
  EXPECT_EQ(r->curve.size(), 300u);
  spec.batch_size = 7;
  // Longer than an epoch: every epoch of the test is 171 steps.
  range.steps.steps = 400;
  spec.schedule = ScheduleSpec{range, {}};
  r = RunLrRangeTest(spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->curve.size(), 400u);
  // Fewer rows than one batch: no full batch to train.
  spec.batch_size = 2000;
  r = RunLrRangeTest(spec, o, &sink);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("fewer than one batch"));
}

TEST(TrainerTest, CsvWithNonNumericFeatureIsAUserError) {
  TempDir dir;
  const std::string csv = dir.File("bad.csv");
  hypersweep::testing::WriteFile(csv, "a,b,Label\n1,2,0\n3,oops,1\n");
  auto spec =
      ParseTrialSpec("dataset: {csv: {path: " + csv + "}}\nschedule: {constant: {lr: 0.1}}\n");
  ASSERT_TRUE(spec.ok());
  RecordingSink sink;
  auto r = TrainTrial(*spec, {}, &sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // The field, line and column; never the value (issue 15: a spec's author may not read the file).
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("dataset.csv.path: column 2 of line 3 is not a number"));
  EXPECT_THAT(std::string(r.status().message()), ::testing::Not(HasSubstr("oops")));
}

TEST(TrainerTest, MissingDataIsAUserErrorNamingThePath) {
  auto spec = ParseTrialSpec(
      "dataset: {mnist: {root: /nonexistent/mnist}}\nschedule: {constant: {lr: 0.1}}\n");
  ASSERT_TRUE(spec.ok());
  RecordingSink sink;
  auto r = TrainTrial(*spec, {}, &sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("/nonexistent/mnist"));
}

TEST(TrainerTest, CnnOnTabularDataIsAUserError) {
  auto spec = Synthetic();
  spec.model.kind = ModelSpec::Kind::kCnn;
  RecordingSink sink;
  auto r = TrainTrial(spec, {}, &sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainerTest, UnknownDeviceIsAUserError) {
  TrainOptions o;
  o.device = "tpu";
  RecordingSink sink;
  auto r = TrainTrial(Synthetic(), o, &sink);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hypersweep
