// The lease state machine against a FakeClock and an InMemoryStore: no sleeps, no gRPC.
#include "server/scheduler/scheduler.h"

#include <cmath>
#include <future>
#include <thread>

#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/server/scheduler_fixture.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kTtl = 30'000;

// Four trials: 2 batch sizes x 2 weight decays, 3 epochs each.
constexpr char kSpec[] = R"(
name: small
dataset: {synthetic: {}}
schedule: {one_cycle: {max_lr: 0.1}}
epochs: 3
grid: {batch_size: [32, 64], weight_decay: [0, 1e-4]}
)";

class SchedulerTest : public SchedulerFixture {
 protected:
  void SetUp() override {
    options_.lease_ttl_ms = kTtl;
    options_.quarantine_after_failures = 3;
    Start();
  }

  absl::StatusOr<SubmitResult> Submit(const std::string& spec = kSpec, int max_attempts = 0,
                                      bool dry_run = false) {
    return Await<SubmitResult>([&](Callback<SubmitResult> cb) {
      sched_->SubmitSweep(spec, dry_run, max_attempts, std::move(cb));
    });
  }
  absl::StatusOr<ReportResult> Report(const LeaseRef& l, std::vector<int64_t> epochs,
                                      const std::string& ckpt = "", double value = 0.5) {
    std::vector<EpochRecord> e;
    for (int64_t n : epochs) e.push_back(EpochRecord{n, {{"val_loss", value}}});
    return Await<ReportResult>(
        [&](Callback<ReportResult> cb) { sched_->ReportEpochs(l, e, ckpt, std::move(cb)); });
  }
  TrialRecord TrialOf(const std::string& sweep, const std::string& id) {
    EXPECT_TRUE(sched_->Flush().ok());  // the reaper's writes have no caller to wait for them
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

TEST_F(SchedulerTest, SubmitQueuesTheExpansion) {
  auto r = Submit();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trials.size(), 4u);
  EXPECT_FALSE(r->sweep.record.id.empty());
  EXPECT_EQ(r->sweep.state, SweepState::kRunning);
  EXPECT_EQ(r->sweep.counts.Of(TrialStatus::kQueued), 4);
  EXPECT_EQ(r->sweep.record.max_attempts, 3);
  EXPECT_THAT(r->trials[1].spec_json, HasSubstr("\"weight_decay\":0.0001"));
  EXPECT_EQ(r->trials[2].batch_size, 64);
  EXPECT_EQ(r->trials[2].schedule, "one_cycle");
  auto got = sched_->GetSweep(r->sweep.record.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->counts.total, 4);
  EXPECT_EQ(sched_->ListSweeps().size(), 1u);
}

// A TPE sweep is stored with its first points only (the others come as points end:
// scheduler_tpe_test.cc); its trial_count is every trial it will have, and a dry run shows the
// first points.
TEST_F(SchedulerTest, TpeSweepStoresItsFirstPoints) {
  const std::string spec =
      "dataset: {synthetic: {}}\nschedule: {constant: {lr: 1}}\n"
      "tpe: {trials: 5, parallel: 2, params: {momentum: {uniform: [0, 0.9]}}}\n";
  auto dry = Submit(spec, 0, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->trials.size(), 2u);
  EXPECT_EQ(dry->sweep.record.trial_count, 5);
  auto r = Submit(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trials.size(), 2u);
  EXPECT_EQ(r->sweep.record.trial_count, 5);
  EXPECT_EQ(r->sweep.counts.total, 2);
  EXPECT_EQ(r->sweep.state, SweepState::kRunning);
  // The points are the planner's: the same spec, the same first points.
  EXPECT_EQ(r->trials[0].params, dry->trials[0].params);
  EXPECT_EQ(r->trials[1].params, dry->trials[1].params);
  EXPECT_NE(r->trials[0].params, r->trials[1].params);
}

TEST_F(SchedulerTest, DryRunAndBadSpecQueueNothing) {
  auto dry = Submit(kSpec, 0, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->trials.size(), 4u);
  EXPECT_TRUE(dry->sweep.record.id.empty());
  auto bad =
      Submit("dataset: {synthetic: {}}\ngrid: {batch_size: [0]}\nschedule: {constant: {lr: 1}}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("grid.batch_size[0]"));
  EXPECT_TRUE(sched_->ListSweeps().empty());
  const std::string w = Register();
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->acquired);
}

TEST_F(SchedulerTest, AcquireLeasesEachTrialOnceInOrder) {
  auto r = Submit();
  ASSERT_TRUE(r.ok());
  const std::string w = Register();
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(a->acquired);
    EXPECT_EQ(a->trial.index, i);
    EXPECT_EQ(a->trial.attempt, 1);
    EXPECT_EQ(a->trial.status, TrialStatus::kLeased);
    EXPECT_EQ(a->trial.lease_expiry_ms, clock_.NowMs() + kTtl);
    EXPECT_FALSE(a->trial.lease_token.empty());
    EXPECT_TRUE(seen.insert(a->trial.id).second);
  }
  auto none = AcquireNow(w);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->acquired);
  EXPECT_EQ(AcquireNow("nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, LongPollIsWokenBySubmitAndTimesOutOnTick) {
  const std::string w = Register();
  std::promise<absl::StatusOr<AcquireResult>> first, second;
  sched_->Acquire(w, clock_.NowMs() + 10'000, [&](auto r) { first.set_value(std::move(r)); });
  sched_->Acquire(w, clock_.NowMs() + 5'000, [&](auto r) { second.set_value(std::move(r)); });
  auto f1 = first.get_future(), f2 = second.get_future();
  EXPECT_EQ(f1.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  ASSERT_TRUE(Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n").ok());
  auto a = f1.get();  // the first waiter gets the one trial
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->acquired);
  EXPECT_EQ(f2.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  clock_.AdvanceMs(4'999);
  sched_->Tick();
  EXPECT_EQ(f2.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  clock_.AdvanceMs(1);
  sched_->Tick();
  auto b = f2.get();
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->acquired);
  // Cancelled long-poll.
  std::promise<absl::StatusOr<AcquireResult>> third;
  const uint64_t id =
      sched_->Acquire(w, clock_.NowMs() + 5'000, [&](auto r) { third.set_value(std::move(r)); });
  sched_->CancelAcquire(id);
  EXPECT_EQ(third.get_future().get().status().code(), absl::StatusCode::kCancelled);
}

// Acceptance 2.
TEST_F(SchedulerTest, ExpiredLeaseRequeuesAndFencesTheOldAttempt) {
  auto r = Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 5\n");
  ASSERT_TRUE(r.ok());
  const std::string sweep = r->sweep.record.id;
  const std::string w1 = Register(), w2 = Register();
  auto a = AcquireNow(w1);
  ASSERT_TRUE(a.ok() && a->acquired);
  const LeaseRef old = Ref(*a);
  const std::string ckpt1 = old.trial_id + ".attempt1.pt";
  auto rep = Report(old, {0, 1}, ckpt1, 0.7);
  ASSERT_TRUE(rep.ok()) << rep.status();
  EXPECT_EQ(rep->epochs_reported, 2);

  clock_.AdvanceMs(kTtl);  // no heartbeat: the worker is gone; nobody else is calling
  sched_->Tick();
  TrialRecord t = TrialOf(sweep, old.trial_id);
  EXPECT_EQ(t.status, TrialStatus::kQueued);
  EXPECT_EQ(t.attempt, 2);
  EXPECT_EQ(t.attempts_used, 1);

  // The old lease's calls are ABORTED and change nothing.
  EXPECT_EQ(Report(old, {2}, old.trial_id + ".attempt2.pt", 0.1).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(Finish(old, TrialStatus::kSucceeded).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(sched_->Heartbeat(w1, old).status().code(), absl::StatusCode::kAborted);
  auto epochs = sched_->GetEpochs(old.trial_id, {});
  ASSERT_TRUE(epochs.ok());
  EXPECT_EQ(epochs->size(), 2u);
  t = TrialOf(sweep, old.trial_id);
  EXPECT_EQ(t.status, TrialStatus::kQueued);
  EXPECT_EQ(t.checkpoint_uri, ckpt1);

  // The new attempt sees the old attempt's epochs and checkpoint.
  auto b = AcquireNow(w2);
  ASSERT_TRUE(b.ok() && b->acquired);
  EXPECT_EQ(b->trial.id, old.trial_id);
  EXPECT_EQ(b->trial.attempt, 2);
  EXPECT_NE(b->trial.lease_token, old.lease_token);
  EXPECT_EQ(b->trial.epochs_reported, 2);
  EXPECT_EQ(b->trial.checkpoint_uri, ckpt1);
  // Re-reporting epoch 1 from the resumed attempt is a no-op; epoch 2 is new.
  auto rep2 = Report(Ref(*b), {1, 2}, old.trial_id + ".attempt2.pt", 0.2);
  ASSERT_TRUE(rep2.ok());
  EXPECT_EQ(rep2->epochs_reported, 3);
  epochs = sched_->GetEpochs(old.trial_id, {});
  ASSERT_EQ(epochs->size(), 3u);
  EXPECT_DOUBLE_EQ((*epochs)[1].values.at("val_loss"), 0.7);  // first report wins
  auto fin = Finish(Ref(*b), TrialStatus::kSucceeded);
  ASSERT_TRUE(fin.ok());
  EXPECT_EQ(*fin, TrialStatus::kSucceeded);
  EXPECT_EQ(sched_->GetSweep(sweep)->state, SweepState::kCompleted);
}

TEST_F(SchedulerTest, ExpiryIsNoticedByAFencedCallWithoutATick) {
  ASSERT_TRUE(Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n").ok());
  const std::string w = Register();
  auto a = AcquireNow(w);
  clock_.AdvanceMs(kTtl + 1);
  EXPECT_EQ(Report(Ref(*a), {0}).status().code(), absl::StatusCode::kAborted);
  auto b = AcquireNow(w);
  ASSERT_TRUE(b.ok() && b->acquired);
  EXPECT_EQ(b->trial.attempt, 2);
}

TEST_F(SchedulerTest, HeartbeatsAndReportsExtendTheLease) {
  ASSERT_TRUE(Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n").ok());
  const std::string w = Register();
  auto a = AcquireNow(w);
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMs(kTtl - 1);
    sched_->Tick();
    auto hb = sched_->Heartbeat(w, Ref(*a));
    ASSERT_TRUE(hb.ok()) << i << " " << hb.status();
    EXPECT_EQ(hb->lease_expiry_ms, clock_.NowMs() + kTtl);
    EXPECT_FALSE(hb->cancel);
  }
  clock_.AdvanceMs(kTtl - 1);
  ASSERT_TRUE(Report(Ref(*a), {0}).ok());
  clock_.AdvanceMs(kTtl - 1);
  sched_->Tick();
  EXPECT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
}

TEST_F(SchedulerTest, MaxAttemptsEndsInFailed) {
  auto r =
      Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n", /*max_attempts=*/2);
  ASSERT_TRUE(r.ok());
  const std::string w = Register();
  for (int i = 0; i < 2; ++i) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok() && a->acquired) << i;
    clock_.AdvanceMs(kTtl);
    sched_->Tick();
  }
  TrialRecord t = TrialOf(r->sweep.record.id, r->sweep.record.id + "-0");
  EXPECT_EQ(t.status, TrialStatus::kFailed);
  EXPECT_THAT(t.reason, HasSubstr("gave up after 2 attempts"));
  EXPECT_FALSE(AcquireNow(w)->acquired);
  EXPECT_EQ(sched_->GetSweep(r->sweep.record.id)->state, SweepState::kCompleted);
}

TEST_F(SchedulerTest, FailureClasses) {
  auto r = Submit(kSpec, /*max_attempts=*/2);
  ASSERT_TRUE(r.ok());
  const std::string sweep = r->sweep.record.id;
  const std::string w = Register();
  auto a0 = AcquireNow(w), a1 = AcquireNow(w), a2 = AcquireNow(w), a3 = AcquireNow(w);
  // User error: FAILED, no retry.
  EXPECT_EQ(*Finish(Ref(*a0), TrialStatus::kFailed, FailureClass::kUserError, "no such file"),
            TrialStatus::kFailed);
  // Out of memory: FAILED with the reason.
  EXPECT_EQ(*Finish(Ref(*a1), TrialStatus::kFailed, FailureClass::kOutOfMemory, "CUDA OOM"),
            TrialStatus::kFailed);
  EXPECT_THAT(TrialOf(sweep, a1->trial.id).reason, HasSubstr("out of memory"));
  // Diverged is a result.
  EXPECT_EQ(*Finish(Ref(*a2), TrialStatus::kDiverged, FailureClass::kNone, "loss is NaN"),
            TrialStatus::kDiverged);
  // Preempted: requeued without using an attempt, any number of times.
  LeaseRef l = Ref(*a3);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(*Finish(l, TrialStatus::kFailed, FailureClass::kPreempted, "slurm"),
              TrialStatus::kQueued);
    auto again = AcquireNow(w);
    ASSERT_TRUE(again->acquired);
    EXPECT_EQ(again->trial.attempt, 2 + i);
    EXPECT_EQ(again->trial.attempts_used, 0);
    l = Ref(*again);
  }
  // Transient: retried until max_attempts (2).
  EXPECT_EQ(*Finish(l, TrialStatus::kFailed, FailureClass::kTransient, "nfs hiccup"),
            TrialStatus::kQueued);
  auto again = AcquireNow(w);
  ASSERT_TRUE(again->acquired);
  EXPECT_EQ(*Finish(Ref(*again), TrialStatus::kFailed, FailureClass::kTransient, "nfs hiccup"),
            TrialStatus::kFailed);
  auto info = sched_->GetSweep(sweep);
  EXPECT_EQ(info->counts.Of(TrialStatus::kFailed), 3);
  EXPECT_EQ(info->counts.Of(TrialStatus::kDiverged), 1);
  EXPECT_EQ(info->state, SweepState::kCompleted);
  // Finishing as QUEUED is not a thing.
  EXPECT_EQ(Finish(l, TrialStatus::kQueued).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SchedulerTest, RepeatedCallsAreIdempotent) {
  auto r = Submit();
  const std::string w = Register();
  auto a = AcquireNow(w);
  ASSERT_TRUE(Report(Ref(*a), {0}, "", 0.3).ok());
  auto again = Report(Ref(*a), {0}, "", 9.0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->epochs_reported, 1);
  auto epochs = sched_->GetEpochs(a->trial.id, {});
  ASSERT_EQ(epochs->size(), 1u);
  EXPECT_DOUBLE_EQ((*epochs)[0].values.at("val_loss"), 0.3);
  EXPECT_EQ(*Finish(Ref(*a), TrialStatus::kSucceeded), TrialStatus::kSucceeded);
  EXPECT_EQ(*Finish(Ref(*a), TrialStatus::kSucceeded), TrialStatus::kSucceeded);  // retried call
  // But reporting after the finish is refused.
  EXPECT_EQ(Report(Ref(*a), {1}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Report(LeaseRef{"nope", 1, "x"}, {1}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, CancelSweep) {
  auto r = Submit();
  const std::string sweep = r->sweep.record.id;
  const std::string w = Register();
  auto a = AcquireNow(w);
  auto cancel = [&](const std::string& id) {
    return Await<SweepInfo>(
        [&](Callback<SweepInfo> cb) { sched_->CancelSweep(id, std::move(cb)); });
  };
  auto c = cancel(sweep);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state, SweepState::kCancelled);
  EXPECT_EQ(c->counts.Of(TrialStatus::kCancelled), 3);
  EXPECT_EQ(c->counts.Of(TrialStatus::kLeased), 1);
  EXPECT_FALSE(AcquireNow(w)->acquired);
  auto hb = sched_->Heartbeat(w, Ref(*a));
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->cancel);
  EXPECT_TRUE(Report(Ref(*a), {0})->cancel);
  EXPECT_EQ(*Finish(Ref(*a), TrialStatus::kCancelled), TrialStatus::kCancelled);
  EXPECT_EQ(sched_->GetSweep(sweep)->counts.Of(TrialStatus::kCancelled), 4);
  EXPECT_TRUE(cancel(sweep).ok());  // twice: a no-op
  EXPECT_EQ(cancel("sw-none").status().code(), absl::StatusCode::kNotFound);
  // A completed sweep cannot be cancelled.
  auto r2 = Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n");
  auto b = AcquireNow(w);
  ASSERT_TRUE(Finish(Ref(*b), TrialStatus::kSucceeded).ok());
  EXPECT_EQ(cancel(r2->sweep.record.id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerTest, WorkerIsQuarantinedAfterConsecutiveFailures) {
  auto r = Submit(kSpec);
  const std::string w = Register(), good = Register();
  auto a = AcquireNow(w);
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kFailed, FailureClass::kUserError).ok());
  a = AcquireNow(w);
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());  // resets the run
  for (int i = 0; i < 2; ++i) {
    a = AcquireNow(w);
    ASSERT_TRUE(a->acquired);
    ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kFailed, FailureClass::kOutOfMemory).ok());
  }
  auto workers = sched_->ListWorkers();
  ASSERT_EQ(workers.size(), 2u);
  Submit(kSpec).IgnoreError();
  a = AcquireNow(w);
  ASSERT_TRUE(a->acquired);
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kFailed, FailureClass::kTransient).ok());
  auto q = AcquireNow(w);
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->acquired);
  EXPECT_TRUE(q->quarantined);
  EXPECT_TRUE(AcquireNow(good)->acquired);
  for (const auto& info : sched_->ListWorkers()) {
    EXPECT_EQ(info.record.quarantined, info.record.id == w);
    if (info.record.id == good) {
      EXPECT_EQ(info.active_leases, 1);
    }
  }
  // Re-registering keeps the quarantine.
  Register(w);
  EXPECT_TRUE(AcquireNow(w)->quarantined);
}

TEST_F(SchedulerTest, AWorkersOwnThresholdQuarantinesIt) {
  Submit(kSpec).IgnoreError();
  WorkerRecord rec;
  rec.host = "h";
  rec.max_consecutive_failures = 1;  // the coordinator's default here is 3
  auto reg = Await<WorkerRecord>(
      [&](Callback<WorkerRecord> cb) { sched_->RegisterWorker(rec, std::move(cb)); });
  ASSERT_TRUE(reg.ok());
  auto a = AcquireNow(reg->id);
  ASSERT_TRUE(a.ok() && a->acquired);
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kFailed, FailureClass::kOutOfMemory, "12 GiB").ok());
  EXPECT_TRUE(AcquireNow(reg->id)->quarantined);
  Restart();  // the threshold and the quarantine are stored
  auto workers = sched_->ListWorkers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_TRUE(workers[0].record.quarantined);
  EXPECT_EQ(workers[0].record.max_consecutive_failures, 1);
  EXPECT_EQ(workers[0].record.consecutive_failures, 1);
}

TEST_F(SchedulerTest, RestartRebuildsQueueLeasesAndEpochs) {
  std::string five_epochs = kSpec;
  five_epochs.replace(five_epochs.find("epochs: 3"), 9, "epochs: 5");
  auto r = Submit(five_epochs);
  const std::string sweep = r->sweep.record.id;
  const std::string w = Register();
  auto a = AcquireNow(w);
  const std::string ckpt = a->trial.id + ".attempt1.pt";
  ASSERT_TRUE(Report(Ref(*a), {0, 1}, ckpt).ok());
  // No new checkpoint: the trial row is not rewritten, only the epoch is stored.
  ASSERT_TRUE(Report(Ref(*a), {2}, ckpt).ok());
  auto b = AcquireNow(w);
  ASSERT_TRUE(Finish(Ref(*b), TrialStatus::kSucceeded).ok());
  Restart();
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counts.Of(TrialStatus::kQueued), 2);
  EXPECT_EQ(info->counts.Of(TrialStatus::kLeased), 1);
  EXPECT_EQ(info->counts.Of(TrialStatus::kSucceeded), 1);
  // The lease survived, epoch reports are still idempotent, and the count is the stored epochs'.
  auto rep = Report(Ref(*a), {1, 2, 3});
  ASSERT_TRUE(rep.ok()) << rep.status();
  EXPECT_EQ(rep->epochs_reported, 4);
  auto c = AcquireNow(w);
  EXPECT_EQ(c->trial.index, 2);
  EXPECT_EQ(sched_->ListWorkers().size(), 1u);
}

// Epoch numbers are bounded by the trial's own epochs (kSpec: 3), so a report cannot make the
// coordinator keep a record of a million epochs; a refused report stores nothing.
TEST_F(SchedulerTest, EpochNumbersAreBoundedByTheTrialsEpochs) {
  Submit().IgnoreError();
  const std::string w = Register();
  auto a = AcquireNow(w);
  auto bad = Report(Ref(*a), {1, 3});
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("must be in [0, 2] for this trial, got 3"));
  EXPECT_EQ(Report(Ref(*a), {-1}).status().code(), absl::StatusCode::kInvalidArgument);
  auto ok = Report(Ref(*a), {0, 1, 2});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->epochs_reported, 3);
}

// The global quota counts trials that wait or run: a sweep that would pass it is refused whole
// (nothing queued), and finishing trials makes room again. Lists carry no spec text.
TEST_F(SchedulerTest, QueueQuotaAndSpecLimits) {
  options_.max_queued_trials = 6;
  options_.spec_limits.max_spec_bytes = 4096;
  Restart();
  ASSERT_TRUE(Submit().ok());  // 4 trials
  auto full = Submit();
  ASSERT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("--max-queued-trials"));
  EXPECT_EQ(sched_->ListSweeps().size(), 1u);
  const std::string w = Register();
  for (int i = 0; i < 2; ++i) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
  }
  ASSERT_TRUE(Submit().ok()) << "2 pending + 4 fit the quota of 6";
  auto big = Submit(std::string(kSpec) + "# " + std::string(5000, 'x') + "\n");
  ASSERT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(big.status().message(), HasSubstr("--max-spec-bytes"));
  for (const auto& info : sched_->ListSweeps()) EXPECT_TRUE(info.record.spec_text.empty());
  EXPECT_EQ(sched_->GetSweep(sched_->ListSweeps()[0].record.id)->record.spec_text, kSpec);
}

TEST_F(SchedulerTest, WatchEventsArriveAfterCommit) {
  auto r = Submit();
  const std::string sweep = r->sweep.record.id;
  ASSERT_TRUE(sched_->Flush().ok());  // the submit's own event is published before we subscribe
  std::vector<SweepEvent> events;
  absl::Mutex mu;
  const uint64_t sub = sched_->Subscribe(sweep, [&](const SweepEvent& e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  });
  const std::string w = Register();
  auto a = AcquireNow(w);  // returns after commit, and the event is published right after it
  ASSERT_TRUE(Report(Ref(*a), {0}).ok());
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
  Register();  // a later commit: everything before it has been published
  sched_->Unsubscribe(sub);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].trial.status, TrialStatus::kLeased);
  EXPECT_TRUE(events[0].trial.lease_token.empty());
  EXPECT_EQ(events[1].epochs.size(), 1u);
  EXPECT_EQ(events[2].trial.status, TrialStatus::kSucceeded);
  EXPECT_EQ(events[2].sweep.counts.Of(TrialStatus::kSucceeded), 1);
}

// Events are built only for watched sweeps; a second watcher leaving must not silence the first,
// and a watcher that comes back is served again.
TEST_F(SchedulerTest, WatchersCountPerSweep) {
  auto r = Submit();
  const std::string sweep = r->sweep.record.id;
  ASSERT_TRUE(sched_->Flush().ok());
  absl::Mutex mu;
  int first = 0, second = 0, third = 0;
  const uint64_t a = sched_->Subscribe(sweep, [&](const SweepEvent& e) {
    absl::MutexLock lock(&mu);
    if (e.has_trial) ++first;
  });
  const uint64_t b = sched_->Subscribe(sweep, [&](const SweepEvent& e) {
    absl::MutexLock lock(&mu);
    if (e.has_trial) ++second;
  });
  const std::string w = Register();
  auto t1 = AcquireNow(w);
  ASSERT_TRUE(t1.ok() && t1->acquired);
  Register();  // the lease's events are published after its answer: wait for them
  sched_->Unsubscribe(b);
  ASSERT_TRUE(Report(Ref(*t1), {0}).ok());
  Register();  // a later commit: everything before it has been published
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(first, 2);   // the lease and the report
    EXPECT_EQ(second, 1);  // the lease only
  }
  sched_->Unsubscribe(a);
  ASSERT_TRUE(Finish(Ref(*t1), TrialStatus::kSucceeded).ok());  // nobody watches
  const uint64_t c = sched_->Subscribe(sweep, [&](const SweepEvent& e) {
    absl::MutexLock lock(&mu);
    if (e.has_trial) {
      ++third;
      EXPECT_EQ(e.trial.sweep_id, sweep);
    }
  });
  auto t2 = AcquireNow(w);
  ASSERT_TRUE(t2.ok() && t2->acquired);
  Register();
  sched_->Unsubscribe(c);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(first, 2);
  EXPECT_EQ(third, 1);
}

TEST_F(SchedulerTest, ConcurrentAcquirersNeverShareATrial) {
  auto r = Submit(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
random: {trials: 2000, params: {momentum: {uniform: [0.1, 0.9]}}}
)");
  ASSERT_TRUE(r.ok());
  constexpr int kThreads = 8;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    const std::string w = Register();
    threads.emplace_back([&, i, w] {
      for (;;) {
        auto a = AcquireNow(w);
        if (!a.ok() || !a->acquired) return;
        got[i].push_back(a->trial.id);
        Finish(Ref(*a), TrialStatus::kSucceeded).IgnoreError();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  size_t n = 0;
  for (const auto& v : got) {
    n += v.size();
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(n, 2000u);
  EXPECT_EQ(all.size(), 2000u);
  EXPECT_EQ(sched_->GetSweep(r->sweep.record.id)->counts.Of(TrialStatus::kSucceeded), 2000);
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

// A store whose writes can be made to fail, over an InMemoryStore that keeps what did commit.
class FlakyStore : public Store {
 public:
  explicit FlakyStore(Store* inner) : inner_(inner) {}
  void WriteAsync(WriteBatch batch, std::function<void(absl::Status)> done) override {
    if (fail_) return done(absl::UnavailableError("disk on fire"));
    inner_->WriteAsync(std::move(batch), std::move(done));
  }
  absl::StatusOr<StoreState> LoadState() override { return inner_->LoadState(); }
  absl::StatusOr<TrialPage> ListTrials(const TrialQuery& q) override {
    return inner_->ListTrials(q);
  }
  absl::StatusOr<std::vector<EpochRecord>> GetEpochs(const std::string& id,
                                                     const std::set<std::string>& m) override {
    return inner_->GetEpochs(id, m);
  }
  absl::StatusOr<LrCurveRecord> GetLrCurve(const std::string& id) override {
    return inner_->GetLrCurve(id);
  }
  void Close() override {}
  std::atomic<bool> fail_{false};

 private:
  Store* inner_;
};

// A scheduler over a FlakyStore (over an InMemoryStore) with a one-trial sweep submitted.
class SchedulerFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions so;
    so.path = ":memory:";
    auto opened = Store::Open(so);
    ASSERT_TRUE(opened.ok());
    inner = std::move(*opened);
    store = std::make_unique<FlakyStore>(inner.get());
    auto created = Scheduler::Create(store.get(), &clock, SchedulerOptions());
    ASSERT_TRUE(created.ok());
    sched = std::move(*created);
    submitted = Await<SubmitResult>([&](Callback<SubmitResult> cb) {
      sched->SubmitSweep("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n", false, 0,
                         std::move(cb));
    });
    ASSERT_TRUE(submitted.ok());
  }

  std::unique_ptr<Store> inner;
  std::unique_ptr<FlakyStore> store;
  FakeClock clock;
  std::unique_ptr<Scheduler> sched;
  absl::StatusOr<SubmitResult> submitted;
};

TEST_F(SchedulerFailureTest, AFailedCommitIsNeverAcknowledgedAndStopsWrites) {
  WorkerRecord w;
  auto reg = Await<WorkerRecord>(
      [&](Callback<WorkerRecord> cb) { sched->RegisterWorker(w, std::move(cb)); });
  ASSERT_TRUE(reg.ok());
  auto a = Await<AcquireResult>(
      [&](Callback<AcquireResult> cb) { sched->Acquire(reg->id, clock.NowMs(), std::move(cb)); });
  ASSERT_TRUE(a.ok() && a->acquired);
  const LeaseRef lease{a->trial.id, a->trial.attempt, a->trial.lease_token};
  auto report = [&](int64_t epoch) {
    return Await<ReportResult>([&](Callback<ReportResult> cb) {
      sched->ReportEpochs(lease, {EpochRecord{epoch, {{"val_loss", 1.0}}}}, "", std::move(cb));
    });
  };
  ASSERT_TRUE(report(0).ok());
  store->fail_ = true;
  EXPECT_EQ(report(1).status().code(), absl::StatusCode::kUnavailable);
  store->fail_ = false;
  // Memory may be ahead of the file now: the scheduler refuses writes until it is rebuilt from
  // the file (here by a restart; RecoverFromFailedCommit in place, below).
  EXPECT_EQ(report(2).status().code(), absl::StatusCode::kUnavailable);
  sched.reset();
  auto again = Scheduler::Create(store.get(), &clock, SchedulerOptions());
  ASSERT_TRUE(again.ok());
  auto epochs = (*again)->GetEpochs(lease.trial_id, {});
  ASSERT_TRUE(epochs.ok());
  EXPECT_EQ(epochs->size(), 1u);  // the acknowledged epoch, not the failed one
  auto r = Await<ReportResult>([&](Callback<ReportResult> cb) {
    (*again)->ReportEpochs(lease, {EpochRecord{1, {{"val_loss", 0.5}}}}, "", std::move(cb));
  });
  ASSERT_TRUE(r.ok()) << r.status();  // the lease survived the restart; epoch 1 is new again
  EXPECT_EQ(r->epochs_reported, 2);
}

// A failed commit no longer needs a restart: once the file takes a write again, the scheduler
// rebuilds its state from the file in place, as a restart would.
TEST_F(SchedulerFailureTest, RecoversInPlaceOnceTheFileTakesWritesAgain) {
  EXPECT_EQ(sched->RecoverFromFailedCommit().code(), absl::StatusCode::kFailedPrecondition);
  WorkerRecord w;
  auto reg = Await<WorkerRecord>(
      [&](Callback<WorkerRecord> cb) { sched->RegisterWorker(w, std::move(cb)); });
  ASSERT_TRUE(reg.ok());
  auto a = Await<AcquireResult>(
      [&](Callback<AcquireResult> cb) { sched->Acquire(reg->id, clock.NowMs(), std::move(cb)); });
  ASSERT_TRUE(a.ok() && a->acquired);
  const LeaseRef lease{a->trial.id, a->trial.attempt, a->trial.lease_token};
  auto report = [&](int64_t epoch) {
    return Await<ReportResult>([&](Callback<ReportResult> cb) {
      sched->ReportEpochs(lease, {EpochRecord{epoch, {{"val_loss", 1.0}}}}, "", std::move(cb));
    });
  };
  ASSERT_TRUE(report(0).ok());
  store->fail_ = true;
  EXPECT_EQ(report(1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(sched->broken());
  // Still failing: the probe fails, nothing changes, writes stay refused.
  EXPECT_FALSE(sched->RecoverFromFailedCommit().ok());
  EXPECT_TRUE(sched->broken());
  store->fail_ = false;
  EXPECT_EQ(report(2).status().code(), absl::StatusCode::kUnavailable);
  // A second submission while broken is refused, never acknowledged.
  auto refused = Await<SubmitResult>([&](Callback<SubmitResult> cb) {
    sched->SubmitSweep("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.2}}\n", false, 0,
                       std::move(cb));
  });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(sched->RecoverFromFailedCommit().ok());
  EXPECT_FALSE(sched->broken());
  // The state is the file's: the acknowledged epoch only, the lease kept (it was committed).
  auto epochs = sched->GetEpochs(lease.trial_id, {});
  ASSERT_TRUE(epochs.ok());
  EXPECT_EQ(epochs->size(), 1u);
  EXPECT_EQ(sched->ListSweeps().size(), 1u);
  auto r = report(1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->epochs_reported, 2);
  auto fin = Await<TrialStatus>([&](Callback<TrialStatus> cb) {
    sched->FinishTrial(lease, TrialStatus::kSucceeded, FailureClass::kNone, "", std::move(cb));
  });
  ASSERT_TRUE(fin.ok()) << fin.status();
  EXPECT_EQ(*fin, TrialStatus::kSucceeded);
  auto sweep = sched->GetSweep(submitted->sweep.record.id);
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->counts.Of(TrialStatus::kSucceeded), 1);
}

// A lease granted in memory whose commit failed is gone after recovery: its worker is fenced off
// (ABORTED) and the trial is handed out again.
TEST_F(SchedulerFailureTest, ALeaseThatNeverCommittedIsFencedAfterRecovery) {
  auto reg = Await<WorkerRecord>(
      [&](Callback<WorkerRecord> cb) { sched->RegisterWorker(WorkerRecord{}, std::move(cb)); });
  ASSERT_TRUE(reg.ok());
  store->fail_ = true;
  auto lost = Await<AcquireResult>(
      [&](Callback<AcquireResult> cb) { sched->Acquire(reg->id, clock.NowMs(), std::move(cb)); });
  EXPECT_FALSE(lost.ok());  // the lease's commit failed: never acknowledged
  store->fail_ = false;
  ASSERT_TRUE(sched->RecoverFromFailedCommit().ok());
  auto a = Await<AcquireResult>(
      [&](Callback<AcquireResult> cb) { sched->Acquire(reg->id, clock.NowMs(), std::move(cb)); });
  ASSERT_TRUE(a.ok() && a->acquired) << a.status();
  EXPECT_EQ(a->trial.attempt, 1);
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

// Three batch sizes x two schedules with auto LR: one range test per batch size, six dependents.
constexpr char kAutoSpec[] = R"(
name: auto
dataset: {synthetic: {}}
epochs: 3
auto: {rule: min_div_10, div: 4, range_tests: 1}
grid:
  batch_size: [32, 64, 128]
  schedule:
    - {one_cycle: {max_lr: auto}}
    - {cyclic: {base_lr: auto, max_lr: auto, step_size_up: 10}}
)";

LrCurveRecord CurveWithMinimumAt05() { return CurveWithMinimumAt(0.5); }

class AutoLrTest : public SchedulerTest {
 protected:
  absl::Status ReportCurve(const LeaseRef& l, LrCurveRecord c) {
    return Await<bool>([&](Callback<bool> cb) { sched_->ReportLrCurve(l, c, std::move(cb)); })
        .status();
  }
  std::vector<TrialRecord> All(const std::string& sweep) {
    EXPECT_TRUE(sched_->Flush().ok());
    TrialQuery q;
    q.sweep_id = sweep;
    q.limit = 1000;
    auto page = sched_->ListTrials(q);
    std::vector<TrialRecord> out;
    for (const auto& e : page->trials) out.push_back(e.trial);
    return out;
  }
  // A one-point sweep (batch 32, 1cycle at max_lr: auto, 3 epochs) with this `auto` section and
  // `extra` lines.
  absl::StatusOr<SubmitResult> SubmitOnePoint(const std::string& name, const std::string& auto_lr,
                                              const std::string& extra = "") {
    return Submit(absl::StrCat("name: ", name,
                               "\ndataset: {synthetic: {}}\nepochs: 3\nbatch_size: 32\n", extra,
                               "auto: ", auto_lr, "\nschedule: {one_cycle: {max_lr: auto}}\n"));
  }
  static std::string Param(const TrialRecord& t, const std::string& k) {
    for (const auto& [key, v] : t.params) {
      if (key == k) return v;
    }
    return "";
  }
};

// auto.scale takes a fraction of the rule's suggestion (Smith: a max LR where the loss still falls,
// a little below its minimum) and says so in lr_from.
TEST_F(AutoLrTest, ScaleMultipliesTheSuggestionAndIsRecorded) {
  auto r = SubmitOnePoint("scaled", "{rule: min, scale: 0.6, range_tests: 1}");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->trials.size(), 2u);
  const std::string w = Register();
  auto range = AcquireNow(w);
  ASSERT_TRUE(range.ok() && range->acquired);
  ASSERT_EQ(range->trial.schedule, "lr_range_test");
  ASSERT_TRUE(ReportCurve(Ref(*range), CurveWithMinimumAt05()).ok());
  ASSERT_TRUE(Finish(Ref(*range), TrialStatus::kSucceeded).ok());
  int resolved = 0;
  for (const auto& t : All(r->sweep.record.id)) {
    if (Param(t, "role") == "lr_range_test") continue;
    ++resolved;
    auto spec = ParseTrialSpec(t.spec_json, {true});
    ASSERT_TRUE(spec.ok()) << spec.status();
    // The curve's minimum sits at step 27 (lr 10^-0.3 ~ 0.501); 0.6 of it:
    EXPECT_DOUBLE_EQ(std::get<OneCycleSchedule>(spec->schedule.kind).max_lr,
                     std::pow(10.0, -3 + 27 / 10.0) * 0.6);
    EXPECT_EQ(Param(t, "max_lr"), "0.300712");
    EXPECT_THAT(Param(t, "lr_from"), HasSubstr("(min, x 0.6)"));
  }
  EXPECT_EQ(resolved, 1);
  // The curve names the sweep's rule and stores its LR (before the scale).
  auto view = sched_->GetLrCurve(range->trial.id);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->rule, SuggestRule::kMin);
  ASSERT_TRUE(view->curve.suggested_lr.has_value()) << view->rule_error;
  EXPECT_DOUBLE_EQ(*view->curve.suggested_lr, std::pow(10.0, -3 + 27 / 10.0));
  EXPECT_EQ(view->rule_error, "");
}

// Each rule can fail on its own: `min` needs the loss to rise after its minimum. A range test that
// ended at its step limit with the loss still falling fails the dependents, with a reason that
// names the rule and says why; the curve's view says the same.
TEST_F(AutoLrTest, AFailingRuleFailsTheDependentsWithItsReason) {
  auto r = SubmitOnePoint("minrule", "{rule: min, range_tests: 1}");
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string w = Register();
  auto range = AcquireNow(w);
  ASSERT_TRUE(range.ok() && range->acquired);
  LrCurveRecord falling;
  for (int i = 0; i <= 40; ++i) {
    const double x = -5 + i / 10.0;
    const double loss = 2.0 - 1.0 / (1 + std::exp(-2 * (x + 3)));
    falling.points.push_back({i, std::pow(10.0, x), loss, loss});
  }
  ASSERT_TRUE(ReportCurve(Ref(*range), falling).ok());
  ASSERT_TRUE(Finish(Ref(*range), TrialStatus::kSucceeded).ok());
  int failed = 0;
  for (const auto& t : All(r->sweep.record.id)) {
    if (Param(t, "role") == "lr_range_test") continue;
    ++failed;
    EXPECT_EQ(t.status, TrialStatus::kFailed);
    EXPECT_EQ(t.failure_class, FailureClass::kUserError);
    EXPECT_THAT(t.reason, HasSubstr(range->trial.id));
    EXPECT_THAT(t.reason, HasSubstr("under rule min"));
    EXPECT_THAT(t.reason, HasSubstr("does not clearly rise"));
  }
  EXPECT_EQ(failed, 1);
  auto view = sched_->GetLrCurve(range->trial.id);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->rule, SuggestRule::kMin);
  EXPECT_FALSE(view->curve.suggested_lr.has_value());
  EXPECT_THAT(view->rule_error, HasSubstr("does not clearly rise"));
}

TEST_F(AutoLrTest, OneRangeTestPerGroupThenResolvedDependents) {
  auto r = Submit(kAutoSpec);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string sweep = r->sweep.record.id;
  ASSERT_EQ(r->trials.size(), 9u);  // 3 range tests first, then 6 points
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r->trials[i].schedule, "lr_range_test");
    EXPECT_EQ(Param(r->trials[i], "role"), "lr_range_test");
  }
  const std::string w = Register();
  // Only the range tests are leasable while the others wait.
  std::vector<AcquireResult> ranges;
  for (int i = 0; i < 3; ++i) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok() && a->acquired);
    EXPECT_EQ(a->trial.schedule, "lr_range_test");
    ranges.push_back(*a);
  }
  auto none = AcquireNow(w);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->acquired) << "a dependent was leased before its range test ended";
  // Range test for batch 32 succeeds with a curve; 64 fails for good; 128 has no usable curve.
  ASSERT_TRUE(ReportCurve(Ref(ranges[0]), CurveWithMinimumAt05()).ok());
  ASSERT_TRUE(Finish(Ref(ranges[0]), TrialStatus::kSucceeded).ok());
  ASSERT_TRUE(
      Finish(Ref(ranges[1]), TrialStatus::kFailed, FailureClass::kUserError, "bad data").ok());
  LrCurveRecord rising;
  for (int i = 0; i < 20; ++i) rising.points.push_back({i, 1e-3 * (i + 1), 1.0 + i, 1.0 + i});
  ASSERT_TRUE(ReportCurve(Ref(ranges[2]), rising).ok());
  ASSERT_TRUE(Finish(Ref(ranges[2]), TrialStatus::kSucceeded).ok());

  int resolved = 0, failed = 0;
  for (const auto& t : All(sweep)) {
    if (Param(t, "role") == "lr_range_test") continue;
    auto spec = ParseTrialSpec(t.spec_json, {true});
    ASSERT_TRUE(spec.ok()) << spec.status();
    if (t.batch_size == 32) {
      ++resolved;
      EXPECT_EQ(t.status, TrialStatus::kQueued);
      EXPECT_TRUE(spec->schedule.auto_fields.empty());
      const double want = std::pow(10.0, -3 + 27 / 10.0) / 10;  // min_div_10: the minimum's lr / 10
      EXPECT_EQ(Param(t, "max_lr"), "0.0501187");
      EXPECT_THAT(Param(t, "lr_from"), HasSubstr(ranges[0].trial.id));
      if (auto* c = std::get_if<CyclicSchedule>(&spec->schedule.kind)) {
        EXPECT_DOUBLE_EQ(c->max_lr, want);
        EXPECT_DOUBLE_EQ(c->base_lr, want / 4);  // auto.div
      } else {
        EXPECT_DOUBLE_EQ(std::get<OneCycleSchedule>(spec->schedule.kind).max_lr, want);
      }
    } else {
      ++failed;
      EXPECT_EQ(t.status, TrialStatus::kFailed);
      EXPECT_EQ(t.failure_class, FailureClass::kUserError);
      EXPECT_THAT(t.reason, HasSubstr("LR range test"));
      EXPECT_THAT(t.reason, HasSubstr(t.batch_size == 64 ? "bad data" : "no usable suggestion"));
    }
  }
  EXPECT_EQ(resolved, 2);
  EXPECT_EQ(failed, 4);
  // The resolved points are now leasable, with the value in their spec.
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok() && a->acquired);
  EXPECT_EQ(a->trial.batch_size, 32);
  EXPECT_THAT(a->trial.spec_json, ::testing::Not(HasSubstr("\"max_lr\":\"auto\"")));
}

TEST_F(AutoLrTest, HeldTrialsSurviveARestartAndAreReleasedAfter) {
  auto r = Submit(kAutoSpec);
  ASSERT_TRUE(r.ok());
  const std::string w = Register();
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok() && a->acquired);
  Restart();
  // Still held after the restart: only the other two range tests can be leased.
  for (int i = 0; i < 2; ++i) {
    auto b = AcquireNow(w);
    ASSERT_TRUE(b.ok() && b->acquired);
    EXPECT_EQ(b->trial.schedule, "lr_range_test");
  }
  auto none = AcquireNow(w);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->acquired);
  // The first range test's lease survived the restart; it reports and finishes.
  ASSERT_TRUE(ReportCurve(Ref(*a), CurveWithMinimumAt05()).ok());
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
  auto c = AcquireNow(w);
  ASSERT_TRUE(c.ok() && c->acquired) << [&] {
    std::string out;
    for (const auto& t : All(r->sweep.record.id)) {
      out += t.id + " " + TrialStatusName(t.status) + " " + t.reason + "\n";
    }
    return out;
  }();
  EXPECT_EQ(c->trial.batch_size, a->trial.batch_size);
  EXPECT_NE(c->trial.schedule, "lr_range_test");
}

// The default auto.range_tests is 3, with seeds seed, seed + 1, seed + 2. The dependents wait for
// all three, across a restart (the first one's curve comes back from the store); a range test that
// failed is left out with its reason, and the others' LRs are combined by geometric mean, with
// their spread stored on the dependent.
TEST_F(AutoLrTest, RangeTestsOfAGroupCombineByGeometricMeanAcrossARestart) {
  auto r = SubmitOnePoint("repeated", "{rule: min_div_10}", "seeds: [7]\n");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->trials.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r->trials[i].role, TrialRole::kLrRangeTest);
    EXPECT_EQ(r->trials[i].seed, 7u + static_cast<uint64_t>(i));
  }
  const std::string w = Register();
  std::vector<AcquireResult> ranges;
  for (int i = 0; i < 3; ++i) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok() && a->acquired);
    ranges.push_back(*a);
  }
  ASSERT_TRUE(ReportCurve(Ref(ranges[0]), CurveWithMinimumAt(0.5)).ok());
  ASSERT_TRUE(Finish(Ref(ranges[0]), TrialStatus::kSucceeded).ok());
  ASSERT_TRUE(ReportCurve(Ref(ranges[1]), CurveWithMinimumAt(0.25)).ok());
  Restart();
  // Two range tests still run: the dependent is held.
  auto none = AcquireNow(w);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->acquired);
  ASSERT_TRUE(Finish(Ref(ranges[1]), TrialStatus::kSucceeded).ok());
  EXPECT_EQ(All(r->sweep.record.id).back().status, TrialStatus::kQueued);
  auto held = AcquireNow(w);
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(held->acquired) << "released before its last range test ended";
  ASSERT_TRUE(
      Finish(Ref(ranges[2]), TrialStatus::kFailed, FailureClass::kUserError, "bad data").ok());

  const TrialRecord t = All(r->sweep.record.id).back();
  ASSERT_EQ(t.role, TrialRole::kTrain);
  EXPECT_EQ(t.status, TrialStatus::kQueued);
  // min reads 10^-0.3 and 10^-0.6; min_div_10 / 10; geometric mean 10^-1.45.
  auto spec = ParseTrialSpec(t.spec_json, {true});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_NEAR(std::get<OneCycleSchedule>(spec->schedule.kind).max_lr, std::pow(10.0, -1.45), 1e-12);
  ASSERT_TRUE(t.lr_spread.has_value());
  EXPECT_NEAR(*t.lr_spread, std::pow(10.0, 0.3), 1e-9);
  EXPECT_THAT(Param(t, "lr_from"), HasSubstr(ranges[0].trial.id + ", " + ranges[1].trial.id));
  EXPECT_THAT(Param(t, "lr_from"), HasSubstr("geometric mean of 2"));
  EXPECT_THAT(Param(t, "lr_from"), HasSubstr("left out"));
  EXPECT_THAT(Param(t, "lr_from"), HasSubstr("bad data"));
  EXPECT_EQ(Param(t, "lr_warning"), "");  // within kMaxLrSpread
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok() && a->acquired);
  EXPECT_EQ(a->trial.id, t.id);
}

// Range tests that disagree by more than kMaxLrSpread: the LR is still given, with a warning.
TEST_F(AutoLrTest, RangeTestsThatDisagreeAreFlagged) {
  auto r = SubmitOnePoint("spread", "{rule: min_div_10, range_tests: 2}");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->trials.size(), 3u);
  const std::string w = Register();
  int k = 0;
  for (double lowest : {0.5, 0.1}) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok() && a->acquired) << k;
    ASSERT_TRUE(ReportCurve(Ref(*a), CurveWithMinimumAt(lowest)).ok());
    ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
    ++k;
  }
  const TrialRecord t = All(r->sweep.record.id).back();
  EXPECT_EQ(t.status, TrialStatus::kQueued);
  ASSERT_TRUE(t.lr_spread.has_value());
  EXPECT_NEAR(*t.lr_spread, std::pow(10.0, 0.7), 1e-9);
  EXPECT_THAT(Param(t, "lr_warning"), HasSubstr("spread 5.01x (more than 2x)"));
}

}  // namespace
}  // namespace hypersweep
