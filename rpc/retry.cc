#include "rpc/retry.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "rpc/status_policy.h"

namespace hypersweep {

absl::Duration Backoff(const RetryOptions& options, int attempt) {
  static thread_local std::mt19937 rng(std::random_device{}());
  const double exponent = std::min(std::max(attempt, 0), 62);
  const double base_s = std::min(absl::ToDoubleSeconds(options.max_backoff),
                                 absl::ToDoubleSeconds(options.initial_backoff) *
                                     std::pow(std::max(options.multiplier, 1.0), exponent));
  return absl::Seconds(base_s * std::uniform_real_distribution<double>(0.5, 1.0)(rng));
}

absl::Status Retry(const RetryOptions& options,
                   const std::function<absl::Status(int attempt)>& call) {
  auto now = [&] { return options.now ? options.now() : absl::Now(); };
  const absl::Time start = now();
  for (int attempt = 0;; ++attempt) {
    absl::Status s = call(attempt);
    if (s.ok()) return s;
    const bool retryable = options.retryable ? options.retryable(s) : IsRetryable(s);
    if (!retryable) return s;
    if (options.max_attempts > 0 && attempt + 1 >= options.max_attempts) return s;
    if (options.stop && options.stop()) return s;
    const absl::Duration wait = Backoff(options, attempt);
    if (now() + wait - start > options.deadline) return s;
    if (options.on_retry) options.on_retry(attempt, s);
    if (options.sleep) {
      options.sleep(wait);
    } else {
      absl::SleepFor(wait);
    }
    if (options.stop && options.stop()) return s;
  }
}

}  // namespace hypersweep
