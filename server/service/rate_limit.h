// A per-key token bucket (RegisterWorker: per peer host): `rate` calls a second on average, up
// to `burst` at once. Memory stays bounded: buckets that have refilled are dropped once there are
// many keys. Thread-safe.
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
  // rate <= 0: no limit.
  RateLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}
  // Counts a call by `key` at `now_ms`; false when its bucket is empty (the call is not counted).
  bool Allow(const std::string& key, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  static constexpr size_t kPruneAbove = 4096;

  const double rate_;
  const double burst_;
  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// The host of a gRPC peer string ("ipv4:10.0.0.1:5555" -> "10.0.0.1", "ipv6:[::1]:5555" ->
// "::1"; "unix:..." stays as it is).
std::string PeerHost(const std::string& peer);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_RATE_LIMIT_H_
