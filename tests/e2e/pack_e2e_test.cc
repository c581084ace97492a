// Trial packing end to end (docs/PACKING.md): a real hypersweepd and hypersweep-worker processes
// with --pack. A packed worker gives every trial the epochs an unpacked worker gives it (to float
// reassociation), ends a diverging pack member DIVERGED while its pack-mates go on, and a pack
// whose worker is killed with SIGKILL resumes elsewhere, every trial from its own checkpoint,
// with no epoch reported twice.
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace hypersweep::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// trial index -> per-epoch metrics of a finished sweep.
std::map<int64_t, std::vector<std::map<std::string, double>>> MetricsByIndex(
    Cluster& c, const std::string& sweep) {
  const std::vector<v1::Trial> trials = c.Trials(sweep);
  std::map<std::string, int64_t> index;
  v1::GetTrialMetricsRequest req;
  for (const auto& t : trials) {
    index[t.id()] = t.index();
    req.add_trial_ids(t.id());
  }
  v1::GetTrialMetricsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = c.sweeps().GetTrialMetrics(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::map<int64_t, std::vector<std::map<std::string, double>>> out;
  for (const auto& tm : resp.trials()) {
    auto& v = out[index[tm.trial_id()]];
    for (const auto& e : tm.epochs()) v.emplace_back(e.metrics().begin(), e.metrics().end());
  }
  return out;
}

std::map<int64_t, v1::Trial> TrialsByIndex(Cluster& c, const std::string& sweep) {
  std::map<int64_t, v1::Trial> out;
  for (const auto& t : c.Trials(sweep)) out[t.index()] = t;
  return out;
}

TEST(PackE2eTest, PackedWorkerGivesEveryTrialItsUnpackedEpochs) {
  // 12 trials that share a packing key: two finite schedules and one that diverges at once, two
  // momenta, two init seeds (so every trial has its own batch order).
  const std::string extra =
      "seeds: [0, 1]\n"
      "grid:\n"
      "  momentum: [0.8, 0.9]\n"
      "  schedule:\n"
      "    - {one_cycle: {max_lr: 0.05}}\n"
      "    - {constant: {lr: 1.0e+9}}\n"
      "    - {cyclic: {base_lr: 0.005, max_lr: 0.05, step_size_up_epochs: 1, mode: triangular2}}\n";
  Cluster c;
  c.StartCoordinator();
  c.StartWorker("packed", {"--pack", "4"});
  const std::string packed = c.Submit(SyntheticSweep("packed", 3, 4000, extra));
  ASSERT_TRUE(WaitFor([&] { return c.Done(packed); }, 180s)) << c.Logs();
  c.StartWorker("alone", {"--pack", "1"});
  const std::string alone = c.Submit(SyntheticSweep("alone", 3, 4000, extra));
  ASSERT_TRUE(WaitFor([&] { return c.Done(alone); }, 180s)) << c.Logs();

  EXPECT_THAT(c.worker("packed").log(), HasSubstr("training 4 trials as one pack"));
  EXPECT_THAT(c.worker("alone").log(), ::testing::Not(HasSubstr("as one pack")));
  const auto packed_trials = TrialsByIndex(c, packed);
  const auto alone_trials = TrialsByIndex(c, alone);
  const auto packed_metrics = MetricsByIndex(c, packed);
  const auto alone_metrics = MetricsByIndex(c, alone);
  ASSERT_EQ(packed_trials.size(), 12u);
  ASSERT_EQ(alone_trials.size(), 12u);
  int diverged = 0;
  for (const auto& [index, t] : alone_trials) {
    const v1::Trial& p = packed_trials.at(index);
    EXPECT_EQ(p.worker_id(), "packed");
    EXPECT_EQ(p.status(), t.status()) << "trial " << index << ": " << p.reason();
    EXPECT_EQ(p.reason(), t.reason()) << "trial " << index;
    if (t.status() == v1::DIVERGED) ++diverged;
    const auto& pe = packed_metrics.at(index);
    const auto& ae = alone_metrics.at(index);
    ASSERT_EQ(pe.size(), ae.size()) << "trial " << index;
    for (size_t e = 0; e < ae.size(); ++e) {
      const double tol = e == 0 ? 1e-5 : 1e-3;
      for (const char* metric : {"train_loss", "val_loss"}) {
        ASSERT_TRUE(ae[e].count(metric) && pe[e].count(metric)) << index << " " << metric;
        const double a = ae[e].at(metric), b = pe[e].at(metric);
        EXPECT_LE(std::abs(a - b), tol * std::abs(a))
            << "trial " << index << " epoch " << e << " " << metric << ": alone " << a
            << ", packed " << b;
      }
    }
  }
  EXPECT_EQ(diverged, 4) << "the lr 1e9 trials diverge, packed or not";
}

TEST(PackE2eTest, KilledPackedWorkersTrialsResumeElsewhereFromTheirCheckpoints) {
  Cluster c;
  c.StartCoordinator("2s");
  c.StartWorker("w1", {"--pack", "4"});
  const std::string sweep =
      c.Submit(SyntheticSweep("kill-pack", 6, 40000, "grid: {momentum: [0.8, 0.85, 0.9, 0.95]}\n"));
  // Every member of the pack has reported two epochs (and so has a checkpoint).
  ASSERT_TRUE(WaitFor(
      [&] {
        int ready = 0;
        for (const auto& t : c.Trials(sweep)) {
          if (t.status() == v1::LEASED && t.epochs_reported() >= 2) ++ready;
        }
        return ready == 4;
      },
      120s))
      << c.Logs();
  c.worker("w1").Signal(SIGKILL);
  c.worker("w1").Wait();
  // Their leases run out one by one; once all four are queued again, one acquire takes them.
  ASSERT_TRUE(WaitFor(
      [&] {
        int queued = 0;
        for (const auto& t : c.Trials(sweep)) queued += t.status() == v1::QUEUED ? 1 : 0;
        return queued == 4;
      },
      30s))
      << c.Logs();
  c.StartWorker("w2", {"--pack", "4"});
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 180s)) << c.Logs();
  c.client().ExpectEveryEpochOnce(sweep, 6);
  for (const auto& t : c.Trials(sweep)) {
    EXPECT_EQ(t.worker_id(), "w2") << t.id();
    EXPECT_GE(t.attempt(), 2) << t.id();
  }
  // Each of the four resumed from its own checkpoint (none started over), in packs again (two of
  // two while the dead worker still counts among the healthy ones for the fair share).
  const std::string log = c.worker("w2").log();
  EXPECT_EQ(CountOccurrences(log, "resumed from checkpoint"), 4) << log;
  EXPECT_THAT(log, HasSubstr("trials as one pack"));
}

}  // namespace
}  // namespace hypersweep::e2e
