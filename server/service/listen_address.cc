#include "server/service/listen_address.h"

#include "absl/strings/str_cat.h"

namespace hypersweep {

absl::Status CheckListenPolicy(const std::string& listen, const ListenPolicy& policy) {
  if (IsLoopbackAddress(listen)) return absl::OkStatus();
  if (!policy.client_token || !policy.worker_token) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen on non-loopback address ", listen,
        " without --client-token-file and --worker-token-file (anyone who can reach it could "
        "submit sweeps or fake results)"));
  }
  if (!policy.tls && !policy.insecure_plaintext) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen on non-loopback address ", listen,
        " in plaintext: the bearer tokens would cross the network in clear; give --tls-cert and "
        "--tls-key, or --insecure-plaintext on a network you trust"));
  }
  return absl::OkStatus();
}

}  // namespace hypersweep
