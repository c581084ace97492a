#include "server/service/auth.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace hypersweep {
namespace {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

const std::string& TokenOf(const AuthConfig& auth, Role role) {
  switch (role) {
    case Role::kClient:
      return auth.client_token;
    case Role::kWorker:
      return auth.worker_token;
    case Role::kOperator:
      break;
  }
  return auth.operator_token;
}

const char* DeniedMessage(Role role, Role holder) {
  if (role == Role::kOperator) return "only the operator token may call this";
  if (holder == Role::kOperator) return "the operator token only makes operator calls";
  return role == Role::kClient ? "a worker token cannot call SweepService"
                               : "a client token cannot call WorkerService";
}

}  // namespace

grpc::Status Authorize(const AuthConfig& auth, Role role, const grpc::CallbackServerContext* ctx) {
  const std::string& mine = TokenOf(auth, role);
  if (mine.empty()) {
    if (role != Role::kOperator || (auth.client_token.empty() && auth.worker_token.empty())) {
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "operator calls are disabled: start hypersweepd with "
                        "--operator-token-file");
  }
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization must be 'Bearer <token>'");
  }
  if (ConstantTimeEquals(value, mine)) return grpc::Status::OK;
  for (Role other : {Role::kClient, Role::kWorker, Role::kOperator}) {
    const std::string& theirs = TokenOf(auth, other);
    if (other != role && !theirs.empty() && ConstantTimeEquals(value, theirs)) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, DeniedMessage(role, other));
    }
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
}

}  // namespace hypersweep
