#include "server/service/rate_limit.h"

#include "absl/strings/match.h"

namespace hypersweep {

bool RateLimiter::Allow(const std::string& key, int64_t now_ms) {
  if (limit_ <= 0) return true;
  absl::MutexLock lock(&mu_);
  const int64_t window = window_ms_ > 0 ? now_ms / window_ms_ : 0;
  if (window != window_) {
    window_ = window;
    counts_.clear();
  }
  int& n = counts_[key];
  if (n >= limit_) return false;
  ++n;
  return true;
}

std::string PeerHost(const std::string& peer) {
  if (absl::StartsWith(peer, "unix:")) return peer;
  std::string host = peer;
  if (auto colon = host.find(':');
      colon != std::string::npos &&
      (absl::StartsWith(host, "ipv4:") || absl::StartsWith(host, "ipv6:"))) {
    host = host.substr(colon + 1);
  }
  if (absl::StartsWith(host, "[")) return host.substr(1, host.find(']') - 1);
  if (auto colon = host.rfind(':'); colon != std::string::npos) host = host.substr(0, colon);
  return host;
}

}  // namespace hypersweep
