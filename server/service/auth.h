// Bearer-token checks: "authorization: Bearer <token>" metadata, one token for clients
// (SweepService), one for workers (WorkerService) and one for operators (ClearQuarantine).
#ifndef HYPERSWEEP_SERVER_SERVICE_AUTH_H_
#define HYPERSWEEP_SERVER_SERVICE_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace hypersweep {

enum class Role { kClient, kWorker, kOperator };

struct AuthConfig {
  std::string client_token;    // empty: SweepService needs no token
  std::string worker_token;    // empty: WorkerService needs no token
  std::string operator_token;  // empty: operator calls only on a coordinator with no tokens at all
};

// OK when the call may proceed. UNAUTHENTICATED without a token or with an unknown one;
// PERMISSION_DENIED with another role's token. kOperator: OK when no token at all is configured
// (a loopback development coordinator); FAILED_PRECONDITION when other tokens are configured but
// no operator token (start hypersweepd with --operator-token-file). Thread-safe.
grpc::Status Authorize(const AuthConfig& auth, Role role, const grpc::CallbackServerContext* ctx);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_AUTH_H_
