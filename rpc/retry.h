// Retry with jittered exponential backoff: the one retry loop for hypersweep RPC clients. Which
// codes are retried is rpc/status_policy.h's decision unless the caller overrides it.
#ifndef HYPERSWEEP_RPC_RETRY_H_
#define HYPERSWEEP_RPC_RETRY_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace hypersweep {

struct RetryOptions {
  int max_attempts = 0;                                // attempts in all; 0: unbounded
  absl::Duration deadline = absl::InfiniteDuration();  // no attempt starts later than this
                                                       // after the first one
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2;
  // Checked after every failed attempt: true ends the retries with that attempt's status.
  // Default: never.
  std::function<bool()> stop;
  // Which failures are retried. Default: IsRetryable (rpc/status_policy.h).
  std::function<bool(const absl::Status&)> retryable;
  // Told about each failure that will be retried (attempt is 0-based), before the sleep.
  std::function<void(int attempt, const absl::Status&)> on_retry;
  // How to wait. Default: absl::SleepFor. Tests inject a fake that records the durations.
  std::function<void(absl::Duration)> sleep;
  // The clock `deadline` is measured on. Default: absl::Now.
  std::function<absl::Time()> now;
};

// The wait before retry number `attempt` (0-based): uniformly random in [b/2, b] where
// b = min(max_backoff, initial_backoff * multiplier^attempt). Thread-safe.
absl::Duration Backoff(const RetryOptions& options, int attempt);

// Calls `call(attempt)` (attempt 0, 1, ...) until it returns OK, fails with a status that
// `retryable` rejects, max_attempts calls were made, the next attempt would start after the
// deadline, or `stop` returns true; sleeps Backoff(attempt) between calls. Returns the last
// call's status. Thread-safe when the callbacks are; it blocks the calling thread.
absl::Status Retry(const RetryOptions& options,
                   const std::function<absl::Status(int attempt)>& call);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_RETRY_H_
