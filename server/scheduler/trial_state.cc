#include "server/scheduler/trial_state.h"

#include "absl/strings/str_cat.h"

namespace hypersweep {
namespace {

// The one place a trial's status changes.
void SetStatus(TrialRecord& t, TrialCounts& counts, TrialStatus s) {
  counts.by_status[static_cast<int>(t.status)]--;
  counts.by_status[static_cast<int>(s)]++;
  t.status = s;
}

}  // namespace

bool HoldsLease(const TrialRecord& t, const LeaseRef& lease) {
  return !lease.lease_token.empty() && lease.attempt == t.attempt &&
         lease.lease_token == t.lease_token;
}

LeaseCheck CheckLease(const TrialRecord& t, const LeaseRef& lease, int64_t now_ms) {
  if (!HoldsLease(t, lease)) return LeaseCheck::kStale;
  if (t.status != TrialStatus::kLeased) return LeaseCheck::kEnded;
  if (now_ms >= t.lease_expiry_ms) return LeaseCheck::kExpired;
  return LeaseCheck::kHeld;
}

absl::Status LeaseError(const TrialRecord& t, LeaseCheck check) {
  switch (check) {
    case LeaseCheck::kHeld:
      return absl::OkStatus();
    case LeaseCheck::kStale:
      return absl::AbortedError(absl::StrCat("stale lease for trial ", t.id, ": it is at attempt ",
                                             t.attempt, " (", TrialStatusName(t.status),
                                             "); drop it"));
    case LeaseCheck::kEnded:
      if (t.status == TrialStatus::kCancelled) {
        return absl::FailedPreconditionError(absl::StrCat("trial ", t.id, " was cancelled"));
      }
      return absl::FailedPreconditionError(
          absl::StrCat("trial ", t.id, " already finished (", TrialStatusName(t.status), ")"));
    case LeaseCheck::kExpired:
      return absl::AbortedError(absl::StrCat("lease of trial ", t.id, " expired; drop it"));
  }
  return absl::InternalError("unknown lease check");
}

void GrantLease(TrialRecord& t, TrialCounts& counts, const std::string& worker_id,
                const std::string& token, int64_t expiry_ms) {
  SetStatus(t, counts, TrialStatus::kLeased);
  t.lease_token = token;
  t.lease_expiry_ms = expiry_ms;
  t.worker_id = worker_id;
}

void ExtendLease(TrialRecord& t, int64_t expiry_ms) { t.lease_expiry_ms = expiry_ms; }

TrialStatus ReleaseLease(TrialRecord& t, TrialCounts& counts, const ReleaseContext& ctx,
                         const std::string& reason) {
  if (ctx.failure_class) t.failure_class = *ctx.failure_class;
  t.reason = reason;
  if (ctx.cancelled) {
    SetStatus(t, counts, TrialStatus::kCancelled);
    t.reason = "sweep cancelled";
    return t.status;
  }
  if (ctx.burn_attempt) ++t.attempts_used;
  if (ctx.burn_attempt && t.attempts_used >= ctx.max_attempts) {
    SetStatus(t, counts, TrialStatus::kFailed);
    t.reason = absl::StrCat("gave up after ", t.attempts_used, " attempts; last: ", reason);
    return t.status;
  }
  ++t.attempt;
  t.lease_token.clear();
  t.lease_expiry_ms = 0;
  t.worker_id.clear();
  SetStatus(t, counts, TrialStatus::kQueued);
  return t.status;
}

void EndLease(TrialRecord& t, TrialCounts& counts, TrialStatus status, FailureClass failure_class,
              const std::string& reason) {
  t.failure_class = failure_class;
  t.reason = reason;
  SetStatus(t, counts, status);
}

void PruneLeased(TrialRecord& t, TrialCounts& counts, const std::string& reason) {
  t.failure_class = FailureClass::kNone;
  t.reason = reason;
  SetStatus(t, counts, TrialStatus::kPruned);
}

void CancelQueued(TrialRecord& t, TrialCounts& counts) {
  SetStatus(t, counts, TrialStatus::kCancelled);
  t.reason = "sweep cancelled";
}

void FailHeld(TrialRecord& t, TrialCounts& counts, const std::string& reason) {
  SetStatus(t, counts, TrialStatus::kFailed);
  t.failure_class = FailureClass::kUserError;
  t.reason = reason;
}

void RequeueFailed(TrialRecord& t, TrialCounts& counts) {
  ++t.attempt;
  t.lease_token.clear();
  t.lease_expiry_ms = 0;
  t.worker_id.clear();
  t.failure_class = FailureClass::kNone;
  t.reason = absl::StrCat("requeued when its sweep was resumed; last: ", t.reason);
  SetStatus(t, counts, TrialStatus::kQueued);
}

absl::Status CheckFinishStatus(TrialStatus status) {
  if (status != TrialStatus::kSucceeded && status != TrialStatus::kDiverged &&
      status != TrialStatus::kFailed && status != TrialStatus::kCancelled) {
    return absl::InvalidArgumentError("status: must be SUCCEEDED, DIVERGED, FAILED or CANCELLED");
  }
  return absl::OkStatus();
}

absl::Status CheckCancelAllowed(TrialStatus status, bool cancel_requested) {
  if (status == TrialStatus::kCancelled && !cancel_requested) {
    return absl::InvalidArgumentError(
        "status: CANCELLED only for a trial whose sweep was cancelled");
  }
  return absl::OkStatus();
}

FinishPlan PlanFinish(TrialStatus status, FailureClass failure_class) {
  FinishPlan plan;
  plan.failure_class = status == TrialStatus::kFailed ? failure_class : FailureClass::kNone;
  if (status == TrialStatus::kFailed &&
      (failure_class == FailureClass::kTransient || failure_class == FailureClass::kNone ||
       failure_class == FailureClass::kPreempted)) {
    plan.retry = true;
    plan.burn_attempt = failure_class != FailureClass::kPreempted;
    plan.failure_class =
        failure_class == FailureClass::kNone ? FailureClass::kTransient : failure_class;
  }
  // A user error is the spec's fault (bad data path, shape mismatch), not the worker's: it neither
  // counts toward the worker's quarantine nor resets its count, so a client cannot quarantine
  // workers by submitting bad sweeps.
  const bool spec_fault =
      status == TrialStatus::kFailed && failure_class == FailureClass::kUserError;
  if (failure_class != FailureClass::kPreempted && status != TrialStatus::kCancelled &&
      !spec_fault) {
    plan.worker =
        status == TrialStatus::kFailed ? WorkerOutcome::kFailure : WorkerOutcome::kSuccess;
  }
  return plan;
}

std::string OutOfMemoryReason(const std::string& device, const std::string& reason) {
  return absl::StrCat("out of memory on ", device, reason.empty() ? "" : ": ", reason);
}

bool ApplyWorkerOutcome(WorkerRecord& w, WorkerOutcome outcome, int32_t default_threshold) {
  switch (outcome) {
    case WorkerOutcome::kNone:
      return false;
    case WorkerOutcome::kSuccess:
      w.consecutive_failures = 0;
      return true;
    case WorkerOutcome::kFailure: {
      ++w.consecutive_failures;
      const int32_t limit =
          w.max_consecutive_failures > 0 ? w.max_consecutive_failures : default_threshold;
      if (w.consecutive_failures >= limit) w.quarantined = true;
      return true;
    }
  }
  return false;
}

}  // namespace hypersweep
