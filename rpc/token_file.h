// Bearer-token files: the one reader used by the CLI (--token-file, config token_file), the
// worker (--token-file) and the coordinator (--client-token-file, --worker-token-file).
#ifndef HYPERSWEEP_RPC_TOKEN_FILE_H_
#define HYPERSWEEP_RPC_TOKEN_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace hypersweep {

// Reads the token in `path`, without surrounding whitespace (so a trailing newline is fine).
// INVALID_ARGUMENT naming the file when it is unreadable (missing, a directory, no permission)
// or holds only whitespace. File permissions are not checked: Kubernetes Secrets and Slurm
// spool copies are commonly group-readable. Thread-safe.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_TOKEN_FILE_H_
