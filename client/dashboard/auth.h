// Who may use the dashboard and where it may listen. Like hypersweepd (server/service/
// listen_address.h), a loopback address needs nothing; any other address needs a token and TLS,
// because anyone who can reach it could read every sweep (and cancel them with --allow-cancel).
// Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_DASHBOARD_AUTH_H_
#define HYPERSWEEP_CLIENT_DASHBOARD_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hypersweep::dashboard {

struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;      // 0: the kernel picks one
};

// "host:port" or "[v6]:port" -> host and port. INVALID_ARGUMENT naming --listen otherwise.
absl::StatusOr<ListenAddress> ParseListen(const std::string& listen);

// OK when the dashboard may listen on `listen`: loopback (rpc/loopback.h IsLoopbackAddress), or
// with both a token and TLS. INVALID_ARGUMENT naming the missing flag (--token-file, or
// --tls-cert and --tls-key) otherwise.
absl::Status CheckListen(const std::string& listen, bool have_token, bool have_tls);

// Whether an HTTP Authorization header value carries `token`: "Bearer <token>", or
// "Basic base64(<any user>:<token>)" (browsers prompt for basic auth). Compared in constant time
// with respect to the token's contents. An empty `token` never matches.
bool Authorized(const std::string& authorization, const std::string& token);

// Equality whose running time does not depend on where `a` and `b` first differ.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace hypersweep::dashboard

#endif  // HYPERSWEEP_CLIENT_DASHBOARD_AUTH_H_
