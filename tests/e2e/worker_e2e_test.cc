// The worker agent against a real coordinator: real processes on loopback, real signals.
#include <set>

#include "core/lr_finder.h"
#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/worker/test_util.h"

namespace hypersweep::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// What a worker logs when a call to the coordinator fails for want of the coordinator.
constexpr char kUnreachable[] = "coordinator unreachable";

void ExpectEveryEpochOnce(Cluster& c, const std::string& sweep, int epochs) {
  c.client().ExpectEveryEpochOnce(sweep, epochs);
}

std::optional<v1::Trial> RunningTrial(Cluster& c, const std::string& sweep, int min_epochs) {
  return c.client().RunningTrial(sweep, min_epochs);
}

TEST(WorkerE2eTest, TwoWorkersRunATwelveTrialSweep) {
  Cluster c;
  c.StartCoordinator();
  c.StartWorker("w1");
  c.StartWorker("w2");
  const std::string sweep = c.Submit(SyntheticSweep(
      "twelve", 3, 3000,
      "seeds: [0, 1]\ngrid: {momentum: [0.8, 0.9], weight_decay: [0, 1e-4, 1e-3]}\n"));
  ASSERT_EQ(c.Trials(sweep).size(), 12u);
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 120s)) << c.Logs();
  ExpectEveryEpochOnce(c, sweep, 3);
  std::set<std::string> workers;
  for (const auto& t : c.Trials(sweep)) workers.insert(t.worker_id());
  EXPECT_EQ(workers, (std::set<std::string>{"w1", "w2"})) << "both workers should have trained";
}

TEST(WorkerE2eTest, KilledWorkersTrialResumesElsewhereFromItsCheckpoint) {
  Cluster c;
  c.StartCoordinator("2s");
  c.StartWorker("w1");
  const std::string sweep = c.Submit(SyntheticSweep("kill", 6, 40000, ""));
  std::optional<v1::Trial> t;
  ASSERT_TRUE(WaitFor([&] { return (t = RunningTrial(c, sweep, 2)).has_value(); }, 60s))
      << c.Logs();
  c.worker("w1").Signal(SIGKILL);
  c.worker("w1").Wait();
  c.StartWorker("w2");
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 90s)) << c.Logs();
  ExpectEveryEpochOnce(c, sweep, 6);
  const auto done = c.Trials(sweep).at(0);
  EXPECT_EQ(done.worker_id(), "w2");
  EXPECT_GE(done.attempt(), 2);
  // The second attempt resumed; it did not start over.
  EXPECT_THAT(c.worker("w2").log(), HasSubstr("resumed from checkpoint"));
  EXPECT_THAT(c.worker("w2").log(), ::testing::Not(HasSubstr("at epoch 0 batch 0")));
}

TEST(WorkerE2eTest, PausedWorkerPastItsLeaseIsFencedOff) {
  Cluster c;
  c.StartCoordinator("1s");
  c.StartWorker("w1");
  const std::string sweep = c.Submit(SyntheticSweep("pause", 6, 40000, ""));
  std::optional<v1::Trial> t;
  ASSERT_TRUE(WaitFor([&] { return (t = RunningTrial(c, sweep, 1)).has_value(); }, 60s))
      << c.Logs();
  c.worker("w1").Signal(SIGSTOP);
  c.StartWorker("w2");
  // w2 takes the trial over once w1's lease has expired.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ts = c.Trials(sweep);
        return !ts.empty() && ts[0].worker_id() == "w2" && ts[0].status() == v1::LEASED;
      },
      30s))
      << c.Logs();
  c.worker("w1").Signal(SIGCONT);
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 90s)) << c.Logs();
  ExpectEveryEpochOnce(c, sweep, 6);
  const auto done = c.Trials(sweep).at(0);
  EXPECT_EQ(done.worker_id(), "w2");
  EXPECT_EQ(done.status(), v1::SUCCEEDED);
  // w1 learnt it lost the lease and dropped the trial.
  ASSERT_TRUE(WaitFor(
      [&] { return c.worker("w1").log().find("dropping the trial") != std::string::npos; }, 20s))
      << c.worker("w1").log();
}

TEST(WorkerE2eTest, CoordinatorKilledAndRestartedMidSweep) {
  Cluster c;
  c.StartCoordinator("5s");
  c.StartWorker("w1");
  c.StartWorker("w2");
  // Both registered before the outage: a worker that first meets the coordinator down logs that it
  // cannot register, not that it lost the coordinator (the first trial can report an epoch within
  // a tenth of a second of the submission).
  for (const char* w : {"w1", "w2"}) {
    ASSERT_TRUE(WaitFor(
        [&] { return c.worker(w).log().find("registered with") != std::string::npos; }, 30s))
        << c.Logs();
  }
  const std::string sweep =
      c.Submit(SyntheticSweep("restart", 4, 8000, "grid: {weight_decay: [0, 1e-5, 1e-4, 1e-3]}\n"));
  ASSERT_TRUE(WaitFor([&] { return RunningTrial(c, sweep, 1).has_value(); }, 60s)) << c.Logs();
  const int64_t reported_before = [&] {
    int64_t n = 0;
    for (const auto& t : c.Trials(sweep)) n += t.epochs_reported();
    return n;
  }();
  const int unreachable_before_w1 = CountOccurrences(c.worker("w1").log(), kUnreachable);
  const int unreachable_before_w2 = CountOccurrences(c.worker("w2").log(), kUnreachable);
  c.coordinator().Signal(SIGKILL);
  c.coordinator().Wait();
  // Both workers notice the outage (and keep training, buffering their reports) before the
  // coordinator comes back.
  ASSERT_TRUE(WaitFor(
      [&] {
        return CountOccurrences(c.worker("w1").log(), kUnreachable) > unreachable_before_w1 &&
               CountOccurrences(c.worker("w2").log(), kUnreachable) > unreachable_before_w2;
      },
      30s))
      << c.Logs();
  c.StartCoordinator("5s");
  int64_t reported_after = 0;
  for (const auto& t : c.Trials(sweep)) reported_after += t.epochs_reported();
  EXPECT_GE(reported_after, reported_before) << "an acknowledged epoch was lost";
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 120s)) << c.Logs();
  ExpectEveryEpochOnce(c, sweep, 4);
  EXPECT_TRUE(c.worker("w1").running());
  EXPECT_TRUE(c.worker("w2").running());
}

TEST(WorkerE2eTest, SigtermHandsTheTrialBackWithoutBurningAnAttempt) {
  Cluster c;
  c.StartCoordinator("30s");
  c.StartWorker("w1");
  // max_attempts 1: a burnt attempt would fail the trial.
  grpc::ClientContext ctx;
  v1::SubmitSweepRequest req;
  req.set_spec(SyntheticSweep("term", 6, 40000, ""));
  req.set_max_attempts(1);
  v1::SubmitSweepResponse resp;
  ASSERT_TRUE(c.sweeps().SubmitSweep(&ctx, req, &resp).ok());
  const std::string sweep = resp.sweep().id();
  ASSERT_TRUE(WaitFor([&] { return RunningTrial(c, sweep, 2).has_value(); }, 60s)) << c.Logs();
  const auto t0 = std::chrono::steady_clock::now();
  c.worker("w1").Signal(SIGTERM);
  const int status = c.worker("w1").Wait(30s);
  ASSERT_NE(status, -1) << "did not exit within 30 s\n" << c.worker("w1").log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << c.worker("w1").log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  // Requeued at once (no lease expiry wait: the TTL is 30 s).
  ASSERT_TRUE(WaitFor([&] { return c.Trials(sweep).at(0).status() == v1::QUEUED; }, 5s))
      << c.Logs();
  c.StartWorker("w2");
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 90s)) << c.Logs();
  ExpectEveryEpochOnce(c, sweep, 6);
  EXPECT_THAT(c.worker("w2").log(), HasSubstr("resumed from checkpoint"));
}

TEST(WorkerE2eTest, MissingDatasetIsAUserErrorAndTheWorkerCarriesOn) {
  Cluster c;
  c.StartCoordinator();
  c.StartWorker("w1");
  const std::string bad = c.Submit(R"(
name: missing-data
dataset: {csv: {path: /nonexistent/higgs.csv, label: Label, positive: s}}
schedule: {constant: {lr: 0.1}}
epochs: 2
)");
  const std::string good = c.Submit(SyntheticSweep("after", 2, 2000, ""));
  ASSERT_TRUE(WaitFor([&] { return c.Done(bad) && c.Done(good); }, 60s)) << c.Logs();
  const auto failed = c.Trials(bad).at(0);
  EXPECT_EQ(failed.status(), v1::FAILED);
  EXPECT_THAT(failed.reason(), HasSubstr("/nonexistent/higgs.csv"));
  EXPECT_EQ(failed.attempt(), 1) << "a user error is not retried";
  EXPECT_EQ(c.Trials(good).at(0).status(), v1::SUCCEEDED);
  EXPECT_TRUE(c.worker("w1").running());
}

}  // namespace
}  // namespace hypersweep::e2e

namespace hypersweep::e2e {
namespace {

TEST(AutoLrE2eTest, ThreeBatchSizesRunThreeRangeTestsAndUseTheirSuggestions) {
  Cluster c;
  c.StartCoordinator();
  c.StartWorker("w1");
  c.StartWorker("w2");
  const std::string sweep = c.Submit(R"(
name: auto-lr
dataset: {synthetic: {samples: 3000, features: 16, classes: 2}}
model: {mlp: {hidden: [32, 32]}}
epochs: 2
validation: {holdout: 0.2}
auto: {range_tests: 2}
grid:
  batch_size: [32, 64, 128]
  schedule:
    - {one_cycle: {max_lr: auto}}
    - {constant: {lr: 0.01}}
)");
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 120s)) << c.Logs();
  auto trials = c.Trials(sweep);
  ASSERT_EQ(trials.size(), 12u);  // 2 range tests per batch size + 6 points
  std::map<std::string, std::vector<std::string>> ranges_of_batch;
  for (const auto& t : trials) {
    EXPECT_EQ(t.status(), v1::SUCCEEDED) << t.id() << ": " << t.reason();
    if (t.schedule() == "lr_range_test") {
      ranges_of_batch[std::to_string(t.batch_size())].push_back(t.id());
    }
  }
  ASSERT_EQ(ranges_of_batch.size(), 3u);
  for (const auto& t : trials) {
    if (t.schedule() != "one_cycle") continue;
    // The geometric mean of what the default rule (min) reads off the batch size's two curves.
    double log_sum = 0, lo = 0, hi = 0;
    const auto& ranges = ranges_of_batch.at(std::to_string(t.batch_size()));
    ASSERT_EQ(ranges.size(), 2u);
    for (const std::string& range : ranges) {
      grpc::ClientContext ctx;
      v1::GetLrCurveRequest req;
      req.set_trial_id(range);
      v1::GetLrCurveResponse curve;
      ASSERT_TRUE(c.sweeps().GetLrCurve(&ctx, req, &curve).ok());
      std::vector<LrCurvePoint> points;
      for (const auto& p : curve.points()) {
        const double loss = p.diverged() ? std::nan("") : p.loss();
        points.push_back({p.lr(), loss, p.diverged() ? loss : p.smoothed_loss()});
      }
      auto want = SuggestLr(points).Get(kDefaultSuggestRule);
      ASSERT_TRUE(want.ok()) << want.status();
      // The coordinator stores the sweep's rule's LR with each curve and names the rule.
      EXPECT_EQ(curve.rule(), "min");
      ASSERT_TRUE(curve.has_suggested_lr()) << curve.rule_error();
      EXPECT_DOUBLE_EQ(curve.suggested_lr(), *want);
      EXPECT_THAT(t.params().at("lr_from"), HasSubstr(range));
      log_sum += std::log(*want);
      lo = lo == 0 ? *want : std::min(lo, *want);
      hi = std::max(hi, *want);
    }
    auto spec = ParseTrialSpec(t.spec_json());
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_NEAR(std::get<OneCycleSchedule>(spec->schedule.kind).max_lr, std::exp(log_sum / 2),
                1e-12)
        << t.id();
    ASSERT_TRUE(t.has_lr_spread());
    EXPECT_NEAR(t.lr_spread(), hi / lo, 1e-12);
  }
}

}  // namespace
}  // namespace hypersweep::e2e

namespace hypersweep::e2e {
namespace {

TEST(WorkerE2eTest, ConsecutiveFailuresQuarantineTheWorkerWhichStaysUp) {
  Cluster c;
  c.StartCoordinator();
  c.StartWorker("w1", {"--max-consecutive-failures", "2"});
  // A fault of the worker, not of the spec (a spec's USER_ERROR never counts): its checkpoint
  // directory becomes a file, so every trial fails writing its first checkpoint.
  ASSERT_TRUE(
      WaitFor([&] { return c.worker("w1").log().find("registered") != std::string::npos; }, 30s))
      << c.Logs();
  std::filesystem::remove_all(c.dir() + "/checkpoints");
  test_support::WriteFile(c.dir() + "/checkpoints", "not a directory");
  const std::string bad =
      c.Submit(SyntheticSweep("all-bad", 2, 600, "grid: {batch_size: [16, 32, 64]}\n", 8));
  // The coordinator quarantined the worker with its second failure, and the worker says so; from
  // then on nothing is leased to it, so at least one trial stays queued (failed ones are retried).
  ASSERT_TRUE(WaitFor(
      [&] {
        return c.worker("w1").log().find("quarantined after 2 consecutive failed trials") !=
               std::string::npos;
      },
      30s))
      << c.Logs();
  int queued = 0;
  for (const auto& t : c.Trials(bad)) queued += t.status() == v1::QUEUED;
  EXPECT_GE(queued, 1);
  grpc::ClientContext ctx;
  v1::ListWorkersResponse workers;
  ASSERT_TRUE(c.sweeps().ListWorkers(&ctx, v1::ListWorkersRequest(), &workers).ok());
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_TRUE(workers.workers(0).quarantined());
  EXPECT_EQ(workers.workers(0).consecutive_failures(), 2);
  EXPECT_EQ(workers.workers(0).capabilities().max_consecutive_failures(), 2);
  EXPECT_TRUE(c.worker("w1").running());
  EXPECT_THAT(c.worker("w1").log(), HasSubstr("quarantined after 2 consecutive failed trials"));
}

}  // namespace
}  // namespace hypersweep::e2e

namespace hypersweep::e2e {
namespace {

// examples/sweeps/higgs.yaml, as a user with the CERN file would run it, on a generated file of
// the same layout (fewer rows and epochs).
TEST(HiggsExampleE2eTest, RunsOnAFileInTheChallengeLayout) {
  Cluster c;
  hypersweep::testing::WriteHiggsLikeCsv(c.dir() + "/atlas-higgs-challenge-2014-v2.csv", 2500, 3);
  std::string spec = ReadAll(std::string(HYPERSWEEP_SOURCE_DIR) + "/examples/sweeps/higgs.yaml");
  const size_t at = spec.find("epochs: 20");
  ASSERT_NE(at, std::string::npos);
  spec.replace(at, 10, "epochs: 2");
  c.StartCoordinator();
  c.StartWorker("w1", {"--data-root", c.dir()});
  c.StartWorker("w2", {"--data-root", c.dir()});
  const std::string sweep = c.Submit(spec);
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 180s)) << c.Logs();
  auto trials = c.Trials(sweep);
  ASSERT_EQ(trials.size(), 3u + 4 * 5);  // 3 range tests (one group), 4 schedules x 5 folds
  std::set<int64_t> folds;
  for (const auto& t : trials) {
    EXPECT_EQ(t.status(), v1::SUCCEEDED) << t.id() << ": " << t.reason();
    if (t.schedule() != "lr_range_test") folds.insert(t.fold());
    if (t.schedule() == "one_cycle") {
      EXPECT_TRUE(t.params().count("lr_from")) << t.id();
    }
  }
  EXPECT_EQ(folds, (std::set<int64_t>{0, 1, 2, 3, 4}));
  grpc::ClientContext ctx;
  v1::GetTrialMetricsRequest req;
  req.add_trial_ids(trials.back().id());
  v1::GetTrialMetricsResponse resp;
  ASSERT_TRUE(c.sweeps().GetTrialMetrics(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.trials(0).epochs_size(), 2);
  const auto& m = resp.trials(0).epochs(1).metrics();
  ASSERT_TRUE(m.count("val_auc") && m.count("val_ams")) << "weighted binary metrics missing";
  EXPECT_GT(m.at("val_auc"), 0.6);
  EXPECT_GT(m.at("val_ams"), 0);
}

}  // namespace
}  // namespace hypersweep::e2e

namespace hypersweep::e2e {
namespace {

TEST(WorkerE2eTest, CancelledSweepsTrialStopsWithinTenSeconds) {
  Cluster c;
  c.StartCoordinator("30s");  // heartbeats every 10 s: the cancel must arrive by then
  c.StartWorker("w1");
  const std::string sweep = c.Submit(SyntheticSweep("cancel", 50, 40000, ""));
  ASSERT_TRUE(WaitFor([&] { return RunningTrial(c, sweep, 1).has_value(); }, 60s)) << c.Logs();
  const auto t0 = std::chrono::steady_clock::now();
  grpc::ClientContext ctx;
  v1::CancelSweepRequest req;
  req.set_sweep_id(sweep);
  v1::CancelSweepResponse resp;
  ASSERT_TRUE(c.sweeps().CancelSweep(&ctx, req, &resp).ok());
  ASSERT_TRUE(WaitFor([&] { return c.Trials(sweep).at(0).status() == v1::CANCELLED; }, 15s))
      << c.Logs();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 11s);
  EXPECT_LT(c.Trials(sweep).at(0).epochs_reported(), 50);
  // The worker learns of the cancel on its next heartbeat, stops the trial and logs it; it stays
  // up.
  EXPECT_TRUE(WaitFor(
      [&] { return c.worker("w1").log().find("finished CANCELLED") != std::string::npos; }, 30s))
      << c.worker("w1").log();
  EXPECT_TRUE(c.worker("w1").running());
}

}  // namespace
}  // namespace hypersweep::e2e
