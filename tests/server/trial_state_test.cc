// The trial state machine as tables: fencing, transitions and the failure policy, with no
// scheduler, store, clock or thread.
#include "server/scheduler/trial_state.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'000'000;

TrialRecord Leased(int32_t attempt = 2, const std::string& token = "tok") {
  TrialRecord t;
  t.id = "sw-1-0";
  t.status = TrialStatus::kLeased;
  t.attempt = attempt;
  t.lease_token = token;
  t.lease_expiry_ms = kNow + 10;
  t.worker_id = "w-1";
  return t;
}

TrialCounts CountsWith(TrialStatus s) {
  TrialCounts c;
  c.by_status[static_cast<int>(s)] = 1;
  c.total = 1;
  return c;
}

TEST(TrialStateTest, CheckLeaseTable) {
  struct Row {
    const char* name;
    TrialStatus status;
    LeaseRef lease;
    int64_t expiry_ms;
    LeaseCheck want;
    absl::StatusCode code;
    const char* message;
  };
  const std::vector<Row> rows = {
      {"current",
       TrialStatus::kLeased,
       {"sw-1-0", 2, "tok"},
       kNow + 1,
       LeaseCheck::kHeld,
       absl::StatusCode::kOk,
       ""},
      {"older attempt",
       TrialStatus::kLeased,
       {"sw-1-0", 1, "tok"},
       kNow + 1,
       LeaseCheck::kStale,
       absl::StatusCode::kAborted,
       "stale lease for trial sw-1-0: it is at attempt 2"},
      {"other token",
       TrialStatus::kLeased,
       {"sw-1-0", 2, "old"},
       kNow + 1,
       LeaseCheck::kStale,
       absl::StatusCode::kAborted,
       "drop it"},
      {"empty token",
       TrialStatus::kLeased,
       {"sw-1-0", 2, ""},
       kNow + 1,
       LeaseCheck::kStale,
       absl::StatusCode::kAborted,
       "stale lease"},
      {"expires now",
       TrialStatus::kLeased,
       {"sw-1-0", 2, "tok"},
       kNow,
       LeaseCheck::kExpired,
       absl::StatusCode::kAborted,
       "lease of trial sw-1-0 expired"},
      {"stale beats expired",
       TrialStatus::kLeased,
       {"sw-1-0", 1, "tok"},
       kNow - 1,
       LeaseCheck::kStale,
       absl::StatusCode::kAborted,
       "stale lease"},
      {"finished",
       TrialStatus::kSucceeded,
       {"sw-1-0", 2, "tok"},
       kNow - 1,
       LeaseCheck::kEnded,
       absl::StatusCode::kFailedPrecondition,
       "already finished (SUCCEEDED)"},
      {"cancelled",
       TrialStatus::kCancelled,
       {"sw-1-0", 2, "tok"},
       kNow + 1,
       LeaseCheck::kEnded,
       absl::StatusCode::kFailedPrecondition,
       "trial sw-1-0 was cancelled"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    TrialRecord t = Leased();
    t.status = r.status;
    t.lease_expiry_ms = r.expiry_ms;
    EXPECT_EQ(CheckLease(t, r.lease, kNow), r.want);
    EXPECT_EQ(HoldsLease(t, r.lease), r.want != LeaseCheck::kStale);
    const absl::Status s = LeaseError(t, r.want);
    EXPECT_EQ(s.code(), r.code) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(r.message));
  }
}

TEST(TrialStateTest, FailurePolicyTable) {
  using FC = FailureClass;
  using TS = TrialStatus;
  using WO = WorkerOutcome;
  struct Row {
    TS status;
    FC failure_class;
    bool retry;
    bool burn;
    FC recorded;
    WO worker;
  };
  const std::vector<Row> rows = {
      {TS::kSucceeded, FC::kNone, false, false, FC::kNone, WO::kSuccess},
      {TS::kSucceeded, FC::kTransient, false, false, FC::kNone, WO::kSuccess},
      {TS::kDiverged, FC::kNone, false, false, FC::kNone, WO::kSuccess},
      {TS::kFailed, FC::kNone, true, true, FC::kTransient, WO::kFailure},
      {TS::kFailed, FC::kTransient, true, true, FC::kTransient, WO::kFailure},
      {TS::kFailed, FC::kPreempted, true, false, FC::kPreempted, WO::kNone},
      {TS::kFailed, FC::kUserError, false, false, FC::kUserError, WO::kNone},
      {TS::kFailed, FC::kOutOfMemory, false, false, FC::kOutOfMemory, WO::kFailure},
      {TS::kCancelled, FC::kNone, false, false, FC::kNone, WO::kNone},
      {TS::kCancelled, FC::kTransient, false, false, FC::kNone, WO::kNone},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(testing::Message()
                 << TrialStatusName(r.status) << " class " << static_cast<int>(r.failure_class));
    const FinishPlan p = PlanFinish(r.status, r.failure_class);
    EXPECT_EQ(p.retry, r.retry);
    EXPECT_EQ(p.burn_attempt, r.burn);
    EXPECT_EQ(p.failure_class, r.recorded);
    EXPECT_EQ(p.worker, r.worker);
  }
  EXPECT_EQ(OutOfMemoryReason("cuda:0", "12 GiB"), "out of memory on cuda:0: 12 GiB");
  EXPECT_EQ(OutOfMemoryReason("cpu", ""), "out of memory on cpu");
}

TEST(TrialStateTest, FinishStatusChecks) {
  for (TrialStatus s : {TrialStatus::kSucceeded, TrialStatus::kDiverged, TrialStatus::kFailed,
                        TrialStatus::kCancelled}) {
    EXPECT_TRUE(CheckFinishStatus(s).ok()) << TrialStatusName(s);
  }
  for (TrialStatus s : {TrialStatus::kQueued, TrialStatus::kLeased, TrialStatus::kPruned}) {
    EXPECT_EQ(CheckFinishStatus(s).code(), absl::StatusCode::kInvalidArgument)
        << TrialStatusName(s);
  }
  EXPECT_EQ(CheckCancelAllowed(TrialStatus::kCancelled, false).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckCancelAllowed(TrialStatus::kCancelled, true).ok());
  EXPECT_TRUE(CheckCancelAllowed(TrialStatus::kSucceeded, false).ok());
}

TEST(TrialStateTest, ReleaseLeaseTable) {
  struct Row {
    const char* name;
    bool cancelled;
    bool burn;
    int32_t attempts_used;  // before
    int32_t max_attempts;
    TrialStatus want;
    int32_t want_attempt;
    int32_t want_used;
    const char* reason;
  };
  const std::vector<Row> rows = {
      {"retry", false, true, 0, 3, TrialStatus::kQueued, 3, 1, "boom"},
      {"preempted keeps attempts", false, false, 2, 3, TrialStatus::kQueued, 3, 2, "boom"},
      {"last attempt", false, true, 2, 3, TrialStatus::kFailed, 2, 3,
       "gave up after 3 attempts; last: boom"},
      {"single attempt", false, true, 0, 1, TrialStatus::kFailed, 2, 1,
       "gave up after 1 attempts; last: boom"},
      {"cancelled", true, true, 0, 3, TrialStatus::kCancelled, 2, 0, "sweep cancelled"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    TrialRecord t = Leased();
    t.attempts_used = r.attempts_used;
    t.checkpoint_uri = "ckpt";
    t.epochs_reported = 2;
    TrialCounts counts = CountsWith(TrialStatus::kLeased);
    ReleaseContext ctx;
    ctx.cancelled = r.cancelled;
    ctx.burn_attempt = r.burn;
    ctx.max_attempts = r.max_attempts;
    EXPECT_EQ(ReleaseLease(t, counts, ctx, "boom"), r.want);
    EXPECT_EQ(t.status, r.want);
    EXPECT_EQ(t.attempt, r.want_attempt);
    EXPECT_EQ(t.attempts_used, r.want_used);
    EXPECT_EQ(t.reason, r.reason);
    EXPECT_EQ(counts.Of(TrialStatus::kLeased), 0);
    EXPECT_EQ(counts.Of(r.want), 1);
    // A requeued trial starts its next attempt without a lease but keeps what it reported.
    EXPECT_EQ(t.lease_token.empty(), r.want == TrialStatus::kQueued);
    EXPECT_EQ(t.worker_id.empty(), r.want == TrialStatus::kQueued);
    EXPECT_EQ(t.checkpoint_uri, "ckpt");
    EXPECT_EQ(t.epochs_reported, 2);
  }
}

TEST(TrialStateTest, ReleaseRecordsAWorkersFailureClass) {
  TrialRecord t = Leased();
  TrialCounts counts = CountsWith(TrialStatus::kLeased);
  ReleaseContext ctx;
  ctx.failure_class = FailureClass::kTransient;
  ReleaseLease(t, counts, ctx, "flaky");
  EXPECT_EQ(t.failure_class, FailureClass::kTransient);
  // An expiry records no class: the previous one stays.
  TrialRecord u = Leased();
  u.failure_class = FailureClass::kPreempted;
  ReleaseLease(u, counts, ReleaseContext{}, "lease expired");
  EXPECT_EQ(u.failure_class, FailureClass::kPreempted);
}

TEST(TrialStateTest, TransitionsKeepTheCounts) {
  TrialRecord t;
  t.status = TrialStatus::kQueued;
  t.attempt = 1;
  TrialCounts counts = CountsWith(TrialStatus::kQueued);

  GrantLease(t, counts, "w-1", "tok", kNow + 30);
  EXPECT_EQ(t.status, TrialStatus::kLeased);
  EXPECT_EQ(t.lease_token, "tok");
  EXPECT_EQ(t.worker_id, "w-1");
  EXPECT_EQ(t.lease_expiry_ms, kNow + 30);
  EXPECT_EQ(t.attempt, 1);  // the attempt moves on release, not on lease
  EXPECT_EQ(counts.Of(TrialStatus::kLeased), 1);
  EXPECT_EQ(counts.Of(TrialStatus::kQueued), 0);

  ExtendLease(t, kNow + 60);
  EXPECT_EQ(t.lease_expiry_ms, kNow + 60);

  EndLease(t, counts, TrialStatus::kDiverged, FailureClass::kNone, "nan");
  EXPECT_EQ(t.status, TrialStatus::kDiverged);
  EXPECT_EQ(t.reason, "nan");
  EXPECT_EQ(counts.Of(TrialStatus::kDiverged), 1);
  EXPECT_EQ(counts.Of(TrialStatus::kLeased), 0);
  EXPECT_EQ(t.lease_token, "tok");  // kept: a repeated finish of this lease is recognised

  TrialRecord q;
  q.status = TrialStatus::kQueued;
  TrialCounts qc = CountsWith(TrialStatus::kQueued);
  CancelQueued(q, qc);
  EXPECT_EQ(q.status, TrialStatus::kCancelled);
  EXPECT_EQ(q.reason, "sweep cancelled");
  EXPECT_EQ(qc.Of(TrialStatus::kCancelled), 1);

  TrialRecord h;
  h.status = TrialStatus::kQueued;
  TrialCounts hc = CountsWith(TrialStatus::kQueued);
  FailHeld(h, hc, "LR range test x reported no curve");
  EXPECT_EQ(h.status, TrialStatus::kFailed);
  EXPECT_EQ(h.failure_class, FailureClass::kUserError);
  EXPECT_EQ(h.reason, "LR range test x reported no curve");
  EXPECT_EQ(hc.Of(TrialStatus::kFailed), 1);
  EXPECT_EQ(hc.Of(TrialStatus::kQueued), 0);

  TrialRecord p;
  p.id = "t-p";
  p.status = TrialStatus::kLeased;
  p.attempt = 2;
  p.lease_token = "tok";
  p.lease_expiry_ms = kNow + 30;
  p.epochs_reported = 3;
  TrialCounts pc = CountsWith(TrialStatus::kLeased);
  PruneLeased(p, pc, "pruned by asha at epoch 2 (rung 1)");
  EXPECT_EQ(p.status, TrialStatus::kPruned);
  EXPECT_TRUE(IsFinal(p.status));
  EXPECT_EQ(p.reason, "pruned by asha at epoch 2 (rung 1)");
  EXPECT_EQ(p.failure_class, FailureClass::kNone);
  EXPECT_EQ(p.epochs_reported, 3);  // its epochs are kept
  EXPECT_EQ(pc.Of(TrialStatus::kPruned), 1);
  EXPECT_EQ(pc.Of(TrialStatus::kLeased), 0);
  // The pruned worker's lease is an ended one: its calls are refused and change nothing.
  const LeaseRef held{"t-p", 2, "tok"};
  EXPECT_EQ(CheckLease(p, held, kNow), LeaseCheck::kEnded);
  const absl::Status refused = LeaseError(p, LeaseCheck::kEnded);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("PRUNED"));
}

TEST(TrialStateTest, WorkerQuarantineTable) {
  struct Row {
    const char* name;
    int32_t own_threshold;  // 0: the default (3)
    int32_t failures_before;
    WorkerOutcome outcome;
    bool changed;
    int32_t failures_after;
    bool quarantined;
  };
  const std::vector<Row> rows = {
      {"success resets", 0, 2, WorkerOutcome::kSuccess, true, 0, false},
      {"failure counts", 0, 0, WorkerOutcome::kFailure, true, 1, false},
      {"default threshold reached", 0, 2, WorkerOutcome::kFailure, true, 3, true},
      {"own threshold below default", 1, 0, WorkerOutcome::kFailure, true, 1, true},
      {"own threshold above default", 5, 2, WorkerOutcome::kFailure, true, 3, false},
      {"not judged", 0, 2, WorkerOutcome::kNone, false, 2, false},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    WorkerRecord w;
    w.max_consecutive_failures = r.own_threshold;
    w.consecutive_failures = r.failures_before;
    EXPECT_EQ(ApplyWorkerOutcome(w, r.outcome, /*default_threshold=*/3), r.changed);
    EXPECT_EQ(w.consecutive_failures, r.failures_after);
    EXPECT_EQ(w.quarantined, r.quarantined);
  }
}

}  // namespace
}  // namespace hypersweep
