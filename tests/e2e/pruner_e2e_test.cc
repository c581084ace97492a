// Early stopping end to end: real hypersweepd and hypersweep-worker processes on loopback, a
// random sweep with `pruner: {asha: ...}` against the same sweep without it, the CLI's view, and a
// kill -9 of the coordinator in the middle of a pruned sweep.
#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace hypersweep::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kAsha[] = "pruner: {asha: {min_epochs: 1, reduction_factor: 3}}\n";

// Nine random max_lr samples over four decades: their losses differ enough to rank.
std::string RandomSweep(const std::string& name, int epochs, int samples,
                        const std::string& extra) {
  return SyntheticSweep(name, epochs, samples,
                        "random: {trials: 9, seed: 7, params: {schedule.max_lr: {log_uniform: "
                        "[1e-4, 1.0]}}}\n" +
                            extra);
}

int64_t EpochsTrained(const std::vector<v1::Trial>& trials) {
  int64_t n = 0;
  for (const auto& t : trials) n += t.epochs_reported();
  return n;
}

int Count(const std::vector<v1::Trial>& trials, v1::TrialStatus s) {
  int n = 0;
  for (const auto& t : trials) n += t.status() == s;
  return n;
}

// The epoch a PRUNED trial was judged at, from its reason ("pruned by asha at epoch 2 ..."); -1
// when the reason names none.
int64_t PrunedAt(const v1::Trial& t) {
  std::smatch m;
  static const std::regex re("at epoch ([0-9]+)");
  return std::regex_search(t.reason(), m, re) ? std::stoll(m[1]) : -1;
}

// What must hold of an ASHA sweep (min_epochs 1, reduction factor 3) whatever the order of its
// reports: a pruned trial was judged at a rung (after 1, 3 or 9 epochs), every epoch it reported
// up to there is stored once, and it reported nothing after its stop (a report carrying several
// epochs is stored whole: what was trained is kept, and judged epoch by epoch); and the best value
// at each rung was never pruned there (it beat or tied every value it was judged against).
void ExpectAshaConsistent(Cluster& c, const std::vector<v1::Trial>& trials) {
  const auto epochs = c.Epochs(trials);
  for (const auto& t : trials) {
    const auto& got = epochs.at(t.id());
    ASSERT_EQ(static_cast<int64_t>(got.size()), t.epochs_reported()) << t.id();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<int64_t>(i)) << t.id();
    if (t.status() == v1::PRUNED) {
      EXPECT_THAT((std::set<int64_t>{0, 2, 8}), ::testing::Contains(PrunedAt(t)))
          << t.id() << " was pruned off a rung: " << t.reason();
      EXPECT_LT(PrunedAt(t), t.epochs_reported()) << t.id() << ": " << t.reason();
      EXPECT_THAT(t.reason(), HasSubstr("asha"));
    } else {
      EXPECT_EQ(t.status(), v1::SUCCEEDED) << t.id() << ": " << t.reason();
    }
  }
  v1::GetTrialMetricsRequest req;
  for (const auto& t : trials) req.add_trial_ids(t.id());
  req.add_metrics("val_loss");
  v1::GetTrialMetricsResponse resp;
  grpc::Status st = c.sweeps().GetTrialMetrics(c.client().Context().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (int64_t rung : {0, 2}) {
    double best = 1e300;
    std::string best_id;
    for (const auto& tm : resp.trials()) {
      for (const auto& e : tm.epochs()) {
        auto v = e.metrics().find("val_loss");
        if (e.epoch() == rung && v != e.metrics().end() && v->second < best) {
          best = v->second;
          best_id = tm.trial_id();
        }
      }
    }
    if (best_id.empty()) continue;
    for (const auto& t : trials) {
      if (t.id() == best_id && t.status() == v1::PRUNED) {
        EXPECT_NE(PrunedAt(t), rung)
            << best_id << " had the best val_loss at epoch " << rung << " and was pruned there";
      }
    }
  }
}

TEST(PrunerE2eTest, AshaPrunesSomeTrialsTrainsFewerEpochsAndTheCliShowsThem) {
  Cluster c;
  c.StartCoordinator();
  c.StartWorker("w1");
  c.StartWorker("w2");
  const std::string pruned = c.Submit(RandomSweep("asha", 6, 3000, kAsha));
  const std::string full = c.Submit(RandomSweep("no-pruner", 6, 3000, ""));
  ASSERT_TRUE(WaitFor([&] { return c.Done(pruned) && c.Done(full); }, 180s)) << c.Logs();

  const auto with = c.Trials(pruned);
  const auto without = c.Trials(full);
  ASSERT_EQ(with.size(), 9u);
  ASSERT_EQ(without.size(), 9u);
  EXPECT_EQ(Count(without, v1::SUCCEEDED), 9);
  EXPECT_EQ(EpochsTrained(without), 9 * 6);
  EXPECT_GE(Count(with, v1::PRUNED), 1);
  EXPECT_GE(Count(with, v1::SUCCEEDED), 1);  // the best of the first rung always runs on
  EXPECT_LT(EpochsTrained(with), EpochsTrained(without));
  ExpectAshaConsistent(c, with);
  // The workers stopped the pruned trials on the answer, and finished none of them.
  const std::string logs = c.Logs();
  EXPECT_THAT(logs, HasSubstr("pruned by the coordinator"));
  EXPECT_THAT(logs, ::testing::Not(HasSubstr("finish rejected")));

  // The CLI: `status` counts them, `trials` lists them.
  const std::map<std::string, std::string> env = {{"HOME", c.dir()}};
  auto status = test_support::RunProgram(
      {HYPERSWEEP_CLI_BIN, "--server", c.address(), "status", pruned}, env);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  // Not a terminal: CSV, a header line and the sweep's line.
  const std::vector<std::string> lines = absl::StrSplit(status.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << status.out;
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  const std::vector<std::string> row = absl::StrSplit(lines[1], ',');
  ASSERT_EQ(header.size(), row.size()) << status.out;
  const auto col = std::find(header.begin(), header.end(), "pruned") - header.begin();
  ASSERT_LT(static_cast<size_t>(col), header.size()) << status.out;
  EXPECT_EQ(row[col], std::to_string(Count(with, v1::PRUNED))) << status.out;
  auto trials = test_support::RunProgram(
      {HYPERSWEEP_CLI_BIN, "--server", c.address(), "trials", pruned}, env);
  EXPECT_EQ(trials.exit_code, 0) << trials.err;
  EXPECT_EQ(CountOccurrences(trials.out, "PRUNED"), Count(with, v1::PRUNED)) << trials.out;
}

TEST(PrunerE2eTest, CoordinatorKilledMidSweepPrunesConsistentlyAfterItsRestart) {
  Cluster c;
  c.StartCoordinator("5s");
  c.StartWorker("w1");
  c.StartWorker("w2");
  const std::string sweep = c.Submit(RandomSweep("asha-kill", 9, 20000, kAsha));
  // Killed once something was pruned and while trials still run.
  std::vector<v1::Trial> before;
  ASSERT_TRUE(WaitFor(
      [&] {
        before = c.Trials(sweep);
        return Count(before, v1::PRUNED) >= 1;
      },
      120s))
      << c.Logs();
  ASSERT_GT(Count(before, v1::QUEUED) + Count(before, v1::LEASED), 0) << "too late to kill";
  c.coordinator().Signal(SIGKILL);
  c.coordinator().Wait();
  c.StartCoordinator("5s");
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 240s)) << c.Logs();
  const auto after = c.Trials(sweep);
  // Every decision taken before the kill stands, with the epochs it was taken on.
  std::map<std::string, v1::Trial> by_id;
  for (const auto& t : after) by_id[t.id()] = t;
  for (const auto& t : before) {
    if (t.status() != v1::PRUNED) continue;
    EXPECT_EQ(by_id[t.id()].status(), v1::PRUNED) << t.id();
    EXPECT_EQ(by_id[t.id()].epochs_reported(), t.epochs_reported()) << t.id();
  }
  ExpectAshaConsistent(c, after);
  EXPECT_LT(EpochsTrained(after), 9 * 9);
}

}  // namespace
}  // namespace hypersweep::e2e
