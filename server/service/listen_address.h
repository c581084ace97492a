// Where hypersweepd may listen, and with what protection. A loopback address (or a Unix socket)
// is reachable only from this machine; anything else needs bearer tokens for both roles and TLS,
// unless the operator says --insecure-plaintext (tokens would then cross the network in clear).
#ifndef HYPERSWEEP_SERVER_SERVICE_LISTEN_ADDRESS_H_
#define HYPERSWEEP_SERVER_SERVICE_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "rpc/loopback.h"  // HostOf, IsLoopbackAddress (shared with `hypersweep dashboard`)

namespace hypersweep {

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
