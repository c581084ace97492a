#include "client/dashboard/auth.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rpc/loopback.h"

namespace hypersweep::dashboard {

absl::StatusOr<ListenAddress> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  ListenAddress out;
  out.host = HostOf(listen);
  int port = -1;
  if (colon == std::string::npos || out.host.empty() ||
      (absl::StartsWith(listen, "[") && listen.find("]:") != colon - 1) ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: expected host:port (e.g. 127.0.0.1:8080), got '", listen, "'"));
  }
  out.port = port;
  return out;
}

absl::Status CheckListen(const std::string& listen, bool have_token, bool have_tls) {
  if (IsLoopbackAddress(listen)) return absl::OkStatus();
  if (!have_token) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing to listen on non-loopback address ", listen,
                     " without --token-file: anyone who can reach it could read every sweep"));
  }
  if (!have_tls) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to listen on non-loopback address ", listen,
        " without --tls-cert and --tls-key: the token would cross the network in clear"));
  }
  return absl::OkStatus();
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  // Runs over the longer of the two so that a prefix match takes no less time than a mismatch.
  const size_t n = std::max(a.size(), b.size());
  uint8_t diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t x = i < a.size() ? static_cast<uint8_t>(a[i]) : 0;
    const uint8_t y = i < b.size() ? static_cast<uint8_t>(b[i]) : 0;
    diff |= static_cast<uint8_t>(x ^ y);
  }
  return diff == 0;
}

bool Authorized(const std::string& authorization, const std::string& token) {
  if (token.empty()) return false;
  const size_t space = authorization.find(' ');
  if (space == std::string::npos) return false;
  const std::string scheme = absl::AsciiStrToLower(authorization.substr(0, space));
  const std::string value(absl::StripAsciiWhitespace(authorization.substr(space + 1)));
  if (scheme == "bearer") return ConstantTimeEquals(value, token);
  if (scheme == "basic") {
    std::string decoded;
    if (!absl::Base64Unescape(value, &decoded)) return false;
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos) return false;
    return ConstantTimeEquals(decoded.substr(colon + 1), token);
  }
  return false;
}

}  // namespace hypersweep::dashboard
