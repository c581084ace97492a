// Client side of the gRPC connection, shared by the CLI and the worker agent: channel creation
// (plain or TLS), bearer-token metadata and status conversion. Token files: rpc/token_file.h;
// which codes to retry: rpc/status_policy.h. All functions are thread-safe.
#ifndef HYPERSWEEP_RPC_CONNECTION_H_
#define HYPERSWEEP_RPC_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hypersweep {

struct ConnectionOptions {
  std::string server;       // host:port
  std::string token;        // bearer token; empty: none
  std::string tls_ca_file;  // PEM CA bundle; non-empty: connect with TLS
};

// Creates the channel (lazily connecting). INVALID_ARGUMENT when the CA file is unreadable or the
// address is empty.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options);

// Adds "authorization: Bearer <token>" when the token is non-empty.
void AddAuth(grpc::ClientContext* ctx, const std::string& token);

// grpc::Status -> absl::Status with the same code and message.
absl::Status FromGrpc(const grpc::Status& s);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_CONNECTION_H_
