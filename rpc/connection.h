// Client side of the gRPC connection, shared by the CLI and the worker agent: channel creation
// (plain or TLS), bearer-token metadata, token files and status conversion.
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

// Reads a token file, trimming surrounding whitespace. INVALID_ARGUMENT naming the file when it
// is unreadable or empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// grpc::Status -> absl::Status with the same code and message.
absl::Status FromGrpc(const grpc::Status& s);

// True for codes where retrying the same call later can succeed (server down or restarting).
bool IsRetryable(const absl::Status& s);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_CONNECTION_H_
