// Issue 15's trust-boundary rules in the Scheduler, against a FakeClock and an in-memory store:
// user errors do not quarantine a worker, an operator clears a quarantine, a sweep whose trials
// fail with the same user error pauses (and resumes), worker health counts, stale workers expire.
#include <future>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler/scheduler.h"
#include "server/store/store.h"
#include "tests/server/scheduler_fixture.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

// Four trials, 1 epoch each.
constexpr char kSpec[] = R"(
name: small
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 1
grid: {batch_size: [16, 32, 64, 128]}
)";
constexpr char kOneTrial[] = R"(
name: one
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 1
)";

class SchedulerQuarantineTest : public SchedulerFixture {
 protected:
  void SetUp() override {
    options_.lease_ttl_ms = 30'000;
    options_.quarantine_after_failures = 3;
    options_.worker_expiry_ms = 3'600'000;  // 1 h
    Start();
  }
  std::string Submit(const std::string& spec = kSpec) {
    auto r = Await<SubmitResult>(
        [&](Callback<SubmitResult> cb) { sched_->SubmitSweep(spec, false, 0, std::move(cb)); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->sweep.record.id : "";
  }
  // Acquires a trial for `worker` and finishes it FAILED with `fc` and `reason`.
  void AcquireAndFail(const std::string& worker, FailureClass fc, const std::string& reason) {
    auto a = AcquireNow(worker);
    ASSERT_TRUE(a.ok() && a->acquired) << a.status();
    auto f = Finish(Ref(*a), TrialStatus::kFailed, fc, reason);
    ASSERT_TRUE(f.ok()) << f.status();
  }
  WorkerRecord WorkerOf(const std::string& id) {
    for (const auto& w : sched_->ListWorkers()) {
      if (w.record.id == id) return w.record;
    }
    ADD_FAILURE() << "no worker " << id;
    return {};
  }
  absl::StatusOr<WorkerRecord> Clear(const std::string& id) {
    return Await<WorkerRecord>(
        [&](Callback<WorkerRecord> cb) { sched_->ClearQuarantine(id, std::move(cb)); });
  }
  absl::StatusOr<SweepInfo> Resume(const std::string& id) {
    return Await<SweepInfo>(
        [&](Callback<SweepInfo> cb) { sched_->ResumeSweep(id, std::move(cb)); });
  }
};

TEST_F(SchedulerQuarantineTest, UserErrorsNeitherCountNorResetTheWorkersFailures) {
  const std::string w = Register();
  for (int i = 0; i < 3; ++i) {  // three sweeps with a bad data path, one trial each
    Submit(kOneTrial);
    AcquireAndFail(w, FailureClass::kUserError, "data file not found: /nope.csv");
  }
  EXPECT_FALSE(WorkerOf(w).quarantined);
  EXPECT_EQ(WorkerOf(w).consecutive_failures, 0);
  Submit(kOneTrial);
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->acquired);
  EXPECT_FALSE(a->quarantined);
  // A worker fault counts; a user error in between does not reset the count.
  LeaseRef l{a->trial.id, a->trial.attempt, a->trial.lease_token};
  ASSERT_TRUE(Await<TrialStatus>([&](Callback<TrialStatus> cb) {
                sched_->FinishTrial(l, TrialStatus::kFailed, FailureClass::kOutOfMemory, "",
                                    std::move(cb));
              }).ok());
  Submit(kOneTrial);
  AcquireAndFail(w, FailureClass::kUserError, "bad column");
  EXPECT_EQ(WorkerOf(w).consecutive_failures, 1);
}

TEST_F(SchedulerQuarantineTest, AnOperatorClearsAQuarantineAndTheClearIsStored) {
  const std::string w = Register();
  for (int i = 0; i < 3; ++i) {
    Submit(kOneTrial);
    AcquireAndFail(w, FailureClass::kOutOfMemory, "12 GiB");
  }
  Submit(kOneTrial);
  EXPECT_TRUE(AcquireNow(w)->quarantined);
  Register(w);  // a restart of the worker keeps it
  EXPECT_TRUE(AcquireNow(w)->quarantined);
  auto cleared = Clear(w);
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_FALSE(cleared->quarantined);
  EXPECT_EQ(cleared->consecutive_failures, 0);
  Restart();
  EXPECT_FALSE(WorkerOf(w).quarantined);
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->acquired);
  EXPECT_EQ(Clear("w-nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerQuarantineTest, TheSameUserErrorTwicePausesTheSweepUntilResumed) {
  const std::string sweep = Submit();
  const std::string w = Register();
  AcquireAndFail(w, FailureClass::kUserError, "data file not found: /higgs.csv");
  EXPECT_EQ(sched_->GetSweep(sweep)->state, SweepState::kRunning);
  AcquireAndFail(w, FailureClass::kUserError, "data file not found: /higgs.csv");
  auto info = sched_->GetSweep(sweep);
  EXPECT_EQ(info->state, SweepState::kPaused);
  EXPECT_EQ(info->paused_reason,
            "2 trials failed with the same user error: data file not found: /higgs.csv");
  EXPECT_EQ(info->counts.Of(TrialStatus::kQueued), 2);
  // Its remaining points are not handed out, also after a coordinator restart.
  EXPECT_FALSE(AcquireNow(w)->acquired);
  Restart();
  EXPECT_EQ(sched_->GetSweep(sweep)->state, SweepState::kPaused);
  EXPECT_FALSE(AcquireNow(w)->acquired);
  // Resume requeues the failed trials and hands out all four again.
  auto resumed = Resume(sweep);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->state, SweepState::kRunning);
  EXPECT_EQ(resumed->counts.Of(TrialStatus::kQueued), 4);
  EXPECT_EQ(resumed->counts.Of(TrialStatus::kFailed), 0);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(AcquireNow(w)->acquired) << i;
  EXPECT_EQ(Resume(sweep).status().code(), absl::StatusCode::kFailedPrecondition);
  Restart();  // the resume is stored: not paused again
  EXPECT_EQ(sched_->GetSweep(sweep)->state, SweepState::kRunning);
}

TEST_F(SchedulerQuarantineTest, DifferentUserErrorsDoNotPause) {
  const std::string sweep = Submit();
  const std::string w = Register();
  AcquireAndFail(w, FailureClass::kUserError, "lr too large for trial 0");
  AcquireAndFail(w, FailureClass::kUserError, "shape mismatch in trial 1");
  EXPECT_EQ(sched_->GetSweep(sweep)->state, SweepState::kRunning);
  EXPECT_TRUE(AcquireNow(w)->acquired);
}

TEST_F(SchedulerQuarantineTest, AfterASuccessUserErrorsAreThePointsOwnAndDoNotPause) {
  const std::string sweep = Submit();
  const std::string w = Register();
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok() && a->acquired);
  LeaseRef l{a->trial.id, a->trial.attempt, a->trial.lease_token};
  ASSERT_TRUE(Await<TrialStatus>([&](Callback<TrialStatus> cb) {
                sched_->FinishTrial(l, TrialStatus::kSucceeded, FailureClass::kNone, "",
                                    std::move(cb));
              }).ok());
  AcquireAndFail(w, FailureClass::kUserError, "batch larger than the data");
  AcquireAndFail(w, FailureClass::kUserError, "batch larger than the data");
  EXPECT_EQ(sched_->GetSweep(sweep)->state, SweepState::kRunning);
  EXPECT_TRUE(AcquireNow(w)->acquired);
}

TEST_F(SchedulerQuarantineTest, SweepInfoCountsHealthyWorkers) {
  const std::string sweep = Submit();
  auto h = sched_->GetSweep(sweep)->workers;
  EXPECT_EQ(h.registered, 0);
  EXPECT_EQ(h.healthy, 0);
  const std::string w = Register();
  h = sched_->GetSweep(sweep)->workers;
  EXPECT_EQ(h.registered, 1);
  EXPECT_EQ(h.healthy, 1);
  for (int i = 0; i < 3; ++i) AcquireAndFail(w, FailureClass::kOutOfMemory, "");
  h = sched_->GetSweep(sweep)->workers;
  EXPECT_EQ(h.registered, 1);
  EXPECT_EQ(h.quarantined, 1);
  EXPECT_EQ(h.healthy, 0);
  ASSERT_TRUE(Clear(w).ok());
  EXPECT_EQ(sched_->GetSweep(sweep)->workers.healthy, 1);
  // Not seen for longer than lease TTL + 2 long-polls: not counted as healthy.
  clock_.AdvanceMs(options_.lease_ttl_ms + 2 * options_.max_acquire_wait_ms + 1);
  EXPECT_EQ(sched_->GetSweep(sweep)->workers.healthy, 0);
}

TEST_F(SchedulerQuarantineTest, StaleWorkersWithoutLeasesExpireOnRegistration) {
  Submit();
  const std::string stale = Register(), busy = Register();
  ASSERT_TRUE(AcquireNow(busy)->acquired);
  clock_.AdvanceMs(options_.worker_expiry_ms + 1);
  const std::string fresh = Register();
  std::vector<std::string> ids;
  for (const auto& w : sched_->ListWorkers()) ids.push_back(w.record.id);
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre(busy, fresh));
  Restart();  // removed from the store too
  ids.clear();
  for (const auto& w : sched_->ListWorkers()) ids.push_back(w.record.id);
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre(busy, fresh));
  EXPECT_EQ(AcquireNow(stale).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace hypersweep
