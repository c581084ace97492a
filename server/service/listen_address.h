// Where hypersweepd may listen, and with what protection. A loopback address (or a Unix socket)
// is reachable only from this machine; anything else needs bearer tokens for both roles and TLS,
// unless the operator says --insecure-plaintext (tokens would then cross the network in clear).
#ifndef HYPERSWEEP_SERVER_SERVICE_LISTEN_ADDRESS_H_
#define HYPERSWEEP_SERVER_SERVICE_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/status.h"

namespace hypersweep {

// The host part of host:port or [v6]:port (without the brackets); empty for ":port".
std::string HostOf(const std::string& address);

// Whether `listen` (host:port, [v6]:port or unix:path) is reachable only from this machine: a Unix
// socket, an IP literal in 127.0.0.0/8 or ::1 (also v4-mapped), or a name all of whose addresses
// are such (resolved now). "127.evil.example" is a name, not an address: it is resolved like any
// other name.
bool IsLoopbackAddress(const std::string& listen);

struct ListenPolicy {
  bool client_token = false;  // --client-token-file given
  bool worker_token = false;  // --worker-token-file given
  bool tls = false;           // --tls-cert and --tls-key given
  bool insecure_plaintext = false;
};

// OK when hypersweepd may listen on `listen` as configured; FAILED_PRECONDITION saying what is
// missing otherwise.
absl::Status CheckListenPolicy(const std::string& listen, const ListenPolicy& policy);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_LISTEN_ADDRESS_H_
