// The worker daemon's settings, resolved by the shared reader (rpc/config.h): flags, then the
// environment, then the config file (--config, else $XDG_CONFIG_HOME/hypersweep/worker.yaml or
// $HOME/.config/hypersweep/worker.yaml), then defaults.
//
//   flag                        environment                                file key
//   --server                    HYPERSWEEP_SERVER                          server
//   --token-file                HYPERSWEEP_WORKER_TOKEN, HYPERSWEEP_TOKEN  token_file, token
//   --tls-ca                    HYPERSWEEP_TLS_CA                          tls_ca
//   --slots, --threads, --device, --checkpoint-dir, --data-root, --max-consecutive-failures,
//   --worker-id, --acquire-wait-ms, --max-data-bytes, --max-data-rows, --max-data-features: the
//   file key is the flag's name with '_' for '-'.
//   --allow-data-root (repeatable)                                         allow_data_root
//     (a ':'-separated list); given, it replaces the default /usr/share/datasets ("" allows none).
//   --allow-command PREFIX (repeatable)                                    allow_command
//     (a ':'-separated list); none: command trials are refused (docs/COMMAND_TRIALS.md).
//   --command-grace-seconds (SIGTERM -> SIGKILL of a command trial's program) command_grace_seconds
#ifndef HYPERSWEEP_WORKER_SETTINGS_H_
#define HYPERSWEEP_WORKER_SETTINGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rpc/config.h"
#include "rpc/connection.h"
#include "worker/agent/agent.h"

namespace hypersweep {

// Values given on the command line; unset means "not given".
struct WorkerFlags {
  std::optional<std::string> config;  // --config: a file that must exist
  std::optional<std::string> server, token_file, tls_ca, device, checkpoint_dir, data_root,
      worker_id;
  std::optional<int64_t> slots, pack, threads, max_consecutive_failures, acquire_wait_ms,
      max_data_bytes, max_data_rows, max_data_features;
  std::optional<std::vector<std::string>> allow_data_root;
  std::optional<std::vector<std::string>> allow_command;
  std::optional<double> command_grace_seconds;
};

struct WorkerSettings {
  ConnectionOptions connection;  // server ("" when none is configured), token, tls_ca_file
  AgentOptions agent;            // everything else; agent.token and agent.server as above
  std::string config_file;       // the config file consulted ("" when none)
};

// INVALID_ARGUMENT naming the flag, variable or file field for a bad value, an unreadable token
// file, or an unreadable --config file. A missing default config file is fine.
absl::StatusOr<WorkerSettings> ResolveWorkerSettings(const WorkerFlags& flags, const Env& env);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_SETTINGS_H_
