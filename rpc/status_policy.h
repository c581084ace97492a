// Which failed calls are worth repeating: the one retry policy for every hypersweep RPC client
// (the worker agent, the CLI, tests). Codes are chosen by what the caller should do next
// (DESIGN.md "Core contracts"); the table below is the contract.
//
//   code                 retried  why
//   UNAVAILABLE          yes      coordinator down, restarting, or its store briefly failing
//   DEADLINE_EXCEEDED    yes      the call may not have reached the coordinator; every worker RPC
//                                 is idempotent (fenced by the lease token, repeated reports are
//                                 no-ops), so sending it again is safe
//   UNKNOWN              yes      gRPC reports some connections dropped mid-call this way
//                                 ("Stream removed"); our handlers never return it themselves
//   INTERNAL             no       the coordinator returns UNAVAILABLE for its transient failures,
//                                 so INTERNAL is a bug or a broken invariant: repeating the same
//                                 call cannot fix it
//   RESOURCE_EXHAUSTED   no       a message over gRPC's size limit (deterministic); the
//                                 coordinator sheds load with UNAVAILABLE, not with this
//   ABORTED              no       stale lease: drop the trial
//   INVALID_ARGUMENT     no       fix the request
//   FAILED_PRECONDITION  no       fix the state first (sweep finished or cancelled)
//   PERMISSION_DENIED    no       wrong token role
//   UNAUTHENTICATED      no       missing or unknown token
//   every other code     no       (CANCELLED, NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE, ...)
//
// Pure functions; thread-safe.
#ifndef HYPERSWEEP_RPC_STATUS_POLICY_H_
#define HYPERSWEEP_RPC_STATUS_POLICY_H_

#include "absl/status/status.h"

namespace hypersweep {

// True when repeating the same call later can succeed (see the table above). False for OK.
bool IsRetryableCode(absl::StatusCode code);
inline bool IsRetryable(const absl::Status& s) { return IsRetryableCode(s.code()); }

// True for the codes that mean "this lease is no longer yours" to a worker: ABORTED (stale lease
// token), NOT_FOUND (trial or worker unknown, e.g. a fresh database) and FAILED_PRECONDITION
// (the trial or sweep already finished). The worker drops the trial without retrying.
bool IsLeaseLost(const absl::Status& s);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_STATUS_POLICY_H_
