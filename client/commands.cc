#include "client/commands.h"

namespace hypersweep {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kCliOk;
    case absl::StatusCode::kInvalidArgument:
      return kCliUsage;
    case absl::StatusCode::kNotFound:
      return kCliNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kCliUnreachable;
    default:
      return kCliFailure;
  }
}

absl::StatusOr<Format> FormatFor(const std::string& name, const Io& io) {
  return ParseFormat(name, io.out_is_terminal);
}

}  // namespace hypersweep
