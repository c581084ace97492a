#include "rpc/status_policy.h"

namespace hypersweep {

bool IsRetryableCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

bool IsLeaseLost(const absl::Status& s) {
  return absl::IsAborted(s) || absl::IsNotFound(s) || absl::IsFailedPrecondition(s);
}

}  // namespace hypersweep
