// The trial state machine: every status transition, the lease (fencing) check and the failure
// policy, as plain functions on a TrialRecord and its sweep's TrialCounts. No threads, no store,
// no lock: the Scheduler calls them with its lock held and persists what they changed.
//
//   QUEUED --GrantLease--> LEASED(attempt k, token, expiry) --EndLease--> SUCCEEDED | DIVERGED |
//      ^                      |                                           FAILED | CANCELLED
//      |                      \--ReleaseLease (retryable failure, expired lease)--> QUEUED, k+1
//      |                          (or FAILED when out of attempts, CANCELLED when cancelled)
//   LEASED --PruneLeased (the sweep's pruner, on a report)--> PRUNED
//   QUEUED --CancelQueued--> CANCELLED;  QUEUED (held for auto LR) --FailHeld--> FAILED
//
// Every function keeps `counts` (the sweep's per-status counts) in step with the record's status.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_TRIAL_STATE_H_
#define HYPERSWEEP_SERVER_SCHEDULER_TRIAL_STATE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "server/store/records.h"

namespace hypersweep {

struct TrialCounts {
  std::array<int64_t, 8> by_status{};  // indexed by TrialStatus
  int64_t total = 0;
  int64_t Of(TrialStatus s) const { return by_status[static_cast<int>(s)]; }
};

// What every worker call after Acquire carries.
struct LeaseRef {
  std::string trial_id;
  int32_t attempt = 0;
  std::string lease_token;
};

// ---- Fencing ----

// True when `lease` names the trial's current lease generation: a non-empty token equal to the
// trial's, at the trial's attempt. The one fencing rule; CheckLease builds on it.
bool HoldsLease(const TrialRecord& t, const LeaseRef& lease);

enum class LeaseCheck {
  kHeld,     // the lease is current and has not expired: go ahead
  kStale,    // another attempt or token: ABORTED, change nothing
  kEnded,    // the lease is current but the trial is no longer LEASED (finished or cancelled)
  kExpired,  // the lease is current but past its expiry: release it, then ABORTED
};
// Judges `lease` against the trial as of `now_ms`. Pure: changes nothing.
LeaseCheck CheckLease(const TrialRecord& t, const LeaseRef& lease, int64_t now_ms);
// The error a call gets for `check` (anything but kHeld): ABORTED for kStale and kExpired,
// FAILED_PRECONDITION for kEnded (saying whether the trial was cancelled or finished).
absl::Status LeaseError(const TrialRecord& t, LeaseCheck check);

// ---- Transitions ----

// QUEUED -> LEASED for `worker_id` with a new token, until `expiry_ms`.
void GrantLease(TrialRecord& t, TrialCounts& counts, const std::string& worker_id,
                const std::string& token, int64_t expiry_ms);
// A heartbeat or report: the lease now ends at `expiry_ms`.
void ExtendLease(TrialRecord& t, int64_t expiry_ms);

struct ReleaseContext {
  bool cancelled = false;    // the trial's sweep was cancelled (or the trial told to stop)
  bool burn_attempt = true;  // this release uses up one of max_attempts
  int32_t max_attempts = 3;  // the sweep's
  // A worker's retryable failure (FinishPlan::failure_class) is recorded; an expiry records none.
  std::optional<FailureClass> failure_class;
};
// LEASED -> QUEUED with attempt+1 (lease fields cleared; checkpoint and epochs kept); or
// -> CANCELLED ("sweep cancelled") when ctx.cancelled; or -> FAILED ("gave up after N attempts")
// when the burnt attempt was the last. `reason` (and ctx.failure_class) is recorded. Returns the
// new status.
TrialStatus ReleaseLease(TrialRecord& t, TrialCounts& counts, const ReleaseContext& ctx,
                         const std::string& reason);
// LEASED -> `status` (a final status) with the failure class and reason given.
void EndLease(TrialRecord& t, TrialCounts& counts, TrialStatus status, FailureClass failure_class,
              const std::string& reason);
// LEASED -> PRUNED with `reason` (the pruner's): final, never retried; epochs and checkpoint kept.
void PruneLeased(TrialRecord& t, TrialCounts& counts, const std::string& reason);
// QUEUED -> CANCELLED ("sweep cancelled").
void CancelQueued(TrialRecord& t, TrialCounts& counts);
// QUEUED (held for an auto-LR suggestion) -> FAILED as a user error with `reason`.
void FailHeld(TrialRecord& t, TrialCounts& counts, const std::string& reason);

// FAILED (a user error, when its sweep is resumed) -> QUEUED with attempt+1 and the lease fields
// cleared; the reason says it was requeued.
void RequeueFailed(TrialRecord& t, TrialCounts& counts);

// ---- Failure policy ----

// INVALID_ARGUMENT unless `status` is one a worker may finish a trial with (SUCCEEDED, DIVERGED,
// FAILED, CANCELLED).
absl::Status CheckFinishStatus(TrialStatus status);
// INVALID_ARGUMENT when a worker finishes as CANCELLED a trial it was not told to stop.
absl::Status CheckCancelAllowed(TrialStatus status, bool cancel_requested);

// How the worker that ran the trial is judged.
enum class WorkerOutcome { kNone, kSuccess, kFailure };

struct FinishPlan {
  bool retry = false;         // release the lease (ReleaseLease) instead of ending the trial
  bool burn_attempt = false;  // with retry: the attempt counts against max_attempts
  FailureClass failure_class = FailureClass::kNone;  // what the trial records
  WorkerOutcome worker = WorkerOutcome::kNone;
};
// FAILED as transient or unclassified: retry, burning an attempt (recorded as transient).
// FAILED as preempted: retry without burning one; the worker is not judged.
// FAILED as user error or out of memory: end at once. SUCCEEDED, DIVERGED: end.
// CANCELLED: end; the worker is not judged. FAILED as user error (the spec's fault): the worker
// is not judged either (a client must not be able to quarantine workers). Any other FAILED judges
// the worker a failure, anything else a success.
FinishPlan PlanFinish(TrialStatus status, FailureClass failure_class);
// The reason an out-of-memory failure records: where it ran out.
std::string OutOfMemoryReason(const std::string& device, const std::string& reason);

// Applies `outcome` to the worker's consecutive-failure count; a failure that reaches the
// worker's own threshold (or `default_threshold` when it set none) quarantines it. Returns
// whether the record changed (kNone changes nothing).
bool ApplyWorkerOutcome(WorkerRecord& w, WorkerOutcome outcome, int32_t default_threshold);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_TRIAL_STATE_H_
