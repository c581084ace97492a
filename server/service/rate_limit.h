// A per-key fixed-window rate limit (RegisterWorker: per peer host). Memory stays bounded: the
// counts of a window are dropped when the next window starts. Thread-safe.
#ifndef HYPERSWEEP_SERVER_SERVICE_RATE_LIMIT_H_
#define HYPERSWEEP_SERVER_SERVICE_RATE_LIMIT_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hypersweep {

class RateLimiter {
 public:
  // At most `limit` calls per key in each `window_ms` (limit <= 0: no limit).
  RateLimiter(int limit, int64_t window_ms) : limit_(limit), window_ms_(window_ms) {}
  // Counts a call by `key` at `now_ms`; false when it is over the limit (and is not counted).
  bool Allow(const std::string& key, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  int limit() const { return limit_; }

 private:
  const int limit_;
  const int64_t window_ms_;
  absl::Mutex mu_;
  int64_t window_ ABSL_GUARDED_BY(mu_) = -1;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
};

// The host of a gRPC peer string ("ipv4:10.0.0.1:5555" -> "10.0.0.1", "ipv6:[::1]:5555" ->
// "::1"; "unix:..." stays as it is).
std::string PeerHost(const std::string& peer);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_RATE_LIMIT_H_
