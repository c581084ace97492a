// Bearer-token checks: "authorization: Bearer <token>" metadata, one token for clients
// (SweepService) and one for workers (WorkerService).
#ifndef HYPERSWEEP_SERVER_SERVICE_AUTH_H_
#define HYPERSWEEP_SERVER_SERVICE_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace hypersweep {

enum class Role { kClient, kWorker };

struct AuthConfig {
  std::string client_token;  // empty: SweepService needs no token
  std::string worker_token;  // empty: WorkerService needs no token
};

// OK when the call may proceed. UNAUTHENTICATED without a token or with an unknown one;
// PERMISSION_DENIED with the other role's token. Thread-safe.
grpc::Status Authorize(const AuthConfig& auth, Role role, const grpc::CallbackServerContext* ctx);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_AUTH_H_
