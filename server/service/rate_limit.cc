#include "server/service/rate_limit.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "server/service/listen_address.h"

namespace hypersweep {

bool RateLimiter::Allow(const std::string& key, int64_t now_ms) {
  if (rate_ <= 0) return true;
  absl::MutexLock lock(&mu_);
  auto refill = [&](Bucket& b) {
    b.tokens = std::min(burst_, b.tokens + (now_ms - b.at_ms) / 1000.0 * rate_);
    b.at_ms = now_ms;
  };
  if (buckets_.size() > kPruneAbove) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second);
      it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now_ms});
  Bucket& b = it->second;
  if (!inserted) refill(b);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

std::string PeerHost(const std::string& peer) {
  if (absl::StartsWith(peer, "unix:")) return peer;
  const bool scheme = absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:");
  return HostOf(scheme ? peer.substr(5) : peer);
}

}  // namespace hypersweep
