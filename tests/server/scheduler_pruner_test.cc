// Early stopping in the scheduler: a report that loses ends the trial PRUNED in the same commit and
// answers pruned; the worker's later calls are fenced; PRUNED is never retried; and a restart
// (a new Scheduler over the reopened store, in-memory and SQLite) judges exactly as before, from
// the stored epochs.
#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler/scheduler.h"
#include "tests/server/scheduler_fixture.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Four points (weight decays), 9 epochs each; ASHA with rungs after 1, 3 and 9 epochs.
constexpr char kAshaSpec[] = R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 9
grid: {weight_decay: [0, 1e-4, 1e-3, 1e-2]}
pruner: {asha: {min_epochs: 1, reduction_factor: 3}}
)";

// The store under test: the in-memory one (false) or a SQLite file (true).
class SchedulerPrunerTest : public StoreParamSchedulerFixture {
 protected:
  std::string Submit(const std::string& spec) {
    auto r = Await<SubmitResult>(
        [&](Callback<SubmitResult> cb) { sched_->SubmitSweep(spec, false, 0, std::move(cb)); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->sweep.record.id : "";
  }
  // val_loss for each epoch.
  absl::StatusOr<ReportResult> Report(const LeaseRef& l, std::map<int64_t, double> values) {
    std::vector<EpochRecord> e;
    for (const auto& [epoch, v] : values) e.push_back(EpochRecord{epoch, {{"val_loss", v}}});
    return Await<ReportResult>(
        [&](Callback<ReportResult> cb) { sched_->ReportEpochs(l, e, "", std::move(cb)); });
  }
  // Leases every queued trial to `worker`, by trial index.
  std::map<int64_t, LeaseRef> LeaseAll(const std::string& worker) {
    std::map<int64_t, LeaseRef> out;
    for (;;) {
      auto a = AcquireNow(worker);
      EXPECT_TRUE(a.ok()) << a.status();
      if (!a.ok() || !a->acquired) return out;
      out[a->trial.index] = Ref(*a);
    }
  }
  TrialRecord TrialOf(const std::string& sweep, const std::string& id) {
    EXPECT_TRUE(sched_->Flush().ok());
    TrialQuery q;
    q.sweep_id = sweep;
    q.limit = 1000;
    auto page = sched_->ListTrials(q);
    EXPECT_TRUE(page.ok());
    for (const auto& e : page->trials) {
      if (e.trial.id == id) return e.trial;
    }
    ADD_FAILURE() << "no trial " << id;
    return {};
  }
};

TEST_P(SchedulerPrunerTest, ALosingReportEndsThePrunedTrialAndLaterCallsAreFenced) {
  const std::string sweep = Submit(kAshaSpec);
  const std::string w = Register();
  std::map<int64_t, LeaseRef> l = LeaseAll(w);
  ASSERT_EQ(l.size(), 4u);

  // Alone at the first rung: continues.
  auto a = Report(l[0], {{0, 0.1}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->pruned);
  // Second at the rung of two values (fewer than 3: only the best continues): pruned.
  auto b = Report(l[1], {{0, 0.5}});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->pruned);
  EXPECT_EQ(b->epochs_reported, 1);
  EXPECT_THAT(b->prune_reason, HasSubstr("asha at epoch 0"));

  const TrialRecord pruned = TrialOf(sweep, l[1].trial_id);
  EXPECT_EQ(pruned.status, TrialStatus::kPruned);
  EXPECT_EQ(pruned.epochs_reported, 1);
  EXPECT_THAT(pruned.reason, HasSubstr("asha"));
  auto epochs = sched_->GetEpochs(l[1].trial_id, {});
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->size(), 1u);  // its epochs are kept
  EXPECT_EQ(sched_->GetSweep(sweep)->counts.Of(TrialStatus::kPruned), 1);

  // The worker that was told to stop is fenced like any ended lease, and changes nothing.
  EXPECT_EQ(Report(l[1], {{1, 0.01}}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sched_->Heartbeat(w, l[1]).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Finish(l[1], TrialStatus::kSucceeded).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(TrialOf(sweep, l[1].trial_id).epochs_reported, 1);

  // Never retried: past its old lease's TTL nothing requeues it, and no acquire hands it out.
  clock_.AdvanceMs(options_.lease_ttl_ms * 2);
  sched_->Tick();
  EXPECT_EQ(TrialOf(sweep, l[1].trial_id).status, TrialStatus::kPruned);
  auto again = AcquireNow(w);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->acquired && again->trial.id == l[1].trial_id);
}

TEST_P(SchedulerPrunerTest, ARestartJudgesFromTheStoredEpochs) {
  const std::string sweep = Submit(kAshaSpec);
  const std::string w = Register();
  std::map<int64_t, LeaseRef> l = LeaseAll(w);
  ASSERT_EQ(l.size(), 4u);
  ASSERT_FALSE(Report(l[0], {{0, 0.1}})->pruned);
  ASSERT_TRUE(Report(l[1], {{0, 0.5}})->pruned);

  RestartCoordinator();

  // The pruned trial stays pruned, and its fencing with it.
  EXPECT_EQ(TrialOf(sweep, l[1].trial_id).status, TrialStatus::kPruned);
  EXPECT_EQ(Report(l[1], {{1, 0.01}}).status().code(), absl::StatusCode::kFailedPrecondition);
  // Values 0.1 and 0.5 are still at the rung: 0.3 is not the best of three, so it stops (a
  // pruner that had forgotten them would let it run alone).
  auto c = Report(l[2], {{0, 0.3}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->pruned);
  // Four values (0.1, 0.5, 0.3, 0.05): floor(4 / 3) = 1, the best continues.
  auto d = Report(l[3], {{0, 0.05}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->pruned);
  // Trial 0 at the second rung (epoch 2) against trial 3 there, reported after another restart,
  // in one report of two epochs: judged epoch by epoch, it loses at epoch 2.
  ASSERT_FALSE(Report(l[3], {{1, 0.04}, {2, 0.02}})->pruned);
  RestartCoordinator();
  auto a = Report(l[0], {{1, 0.09}, {2, 0.08}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->pruned);
  EXPECT_THAT(a->prune_reason, HasSubstr("epoch 2 (rung 1)"));
  EXPECT_EQ(TrialOf(sweep, l[0].trial_id).epochs_reported, 3);
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counts.Of(TrialStatus::kPruned), 3);
  EXPECT_EQ(info->counts.Of(TrialStatus::kLeased), 1);
}

TEST_P(SchedulerPrunerTest, MedianWaitsForCompletedPointsAndARepeatIsNotJudgedAgain) {
  const std::string sweep = Submit(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 3
grid: {weight_decay: [0, 1e-4, 1e-3]}
pruner: {median: {startup_trials: 1, warmup_epochs: 0, interval: 1}}
)");
  const std::string w = Register();
  std::map<int64_t, LeaseRef> l = LeaseAll(w);
  ASSERT_EQ(l.size(), 3u);
  // No completed point yet: nothing is pruned however bad.
  ASSERT_FALSE(Report(l[1], {{0, 0.9}})->pruned);
  ASSERT_FALSE(Report(l[0], {{0, 0.2}, {1, 0.2}, {2, 0.2}})->pruned);
  ASSERT_EQ(*Finish(l[0], TrialStatus::kSucceeded), TrialStatus::kSucceeded);
  // A repeated epoch is stored once and judged once (it was judged before a point completed).
  auto repeat = Report(l[1], {{0, 0.9}});
  ASSERT_TRUE(repeat.ok());
  EXPECT_FALSE(repeat->pruned);
  // Trial 1's best (0.7) is worse than the completed point's 0.2 at epoch 1.
  auto b = Report(l[1], {{1, 0.7}});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->pruned);
  EXPECT_THAT(b->prune_reason, HasSubstr("median"));
  // Trial 2 does better than the median: it continues, and finishes.
  ASSERT_FALSE(Report(l[2], {{0, 0.1}, {1, 0.1}, {2, 0.1}})->pruned);
  ASSERT_EQ(*Finish(l[2], TrialStatus::kSucceeded), TrialStatus::kSucceeded);
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, SweepState::kCompleted);
  EXPECT_EQ(info->counts.Of(TrialStatus::kPruned), 1);
  EXPECT_EQ(info->counts.Of(TrialStatus::kSucceeded), 2);
}

TEST_P(SchedulerPrunerTest, ASweepWithoutAPrunerNeverPrunes) {
  const std::string sweep = Submit(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 9
grid: {weight_decay: [0, 1e-4]}
)");
  const std::string w = Register();
  std::map<int64_t, LeaseRef> l = LeaseAll(w);
  ASSERT_FALSE(Report(l[0], {{0, 0.1}})->pruned);
  ASSERT_FALSE(Report(l[1], {{0, 0.9}})->pruned);
  EXPECT_EQ(sched_->GetSweep(sweep)->counts.Of(TrialStatus::kPruned), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, SchedulerPrunerTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sqlite" : "InMemory"; });

}  // namespace
}  // namespace hypersweep
