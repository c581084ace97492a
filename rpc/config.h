// Where the CLI's connection settings come from: flags, then the environment (HYPERSWEEP_SERVER,
// HYPERSWEEP_TOKEN), then the config file ($XDG_CONFIG_HOME/hypersweep/config.yaml, else
// $HOME/.config/hypersweep/config.yaml), then defaults. Flags win.
#ifndef HYPERSWEEP_RPC_CONFIG_H_
#define HYPERSWEEP_RPC_CONFIG_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "rpc/connection.h"

namespace hypersweep {

inline constexpr char kDefaultServer[] = "127.0.0.1:7070";
inline constexpr double kDefaultTimeoutSeconds = 5;

// Values given on the command line; unset means "not given".
struct ClientFlags {
  std::optional<std::string> server;
  std::optional<std::string> token_file;
  std::optional<std::string> tls_ca;
  std::optional<double> timeout_seconds;
};

struct ClientConfig {
  ConnectionOptions connection;                     // server, token, tls_ca_file
  double timeout_seconds = kDefaultTimeoutSeconds;  // connect timeout
  std::string config_file;                          // the file read, if any
};

// The config file path for this environment (it need not exist): $XDG_CONFIG_HOME when set and
// non-empty, else $HOME/.config; empty when neither is set.
std::string ConfigFilePath(const std::map<std::string, std::string>& env);

// Resolves the settings. `env` is the process environment (passed in for tests). The config file
// may hold: server, token_file, token, tls_ca, timeout (seconds). INVALID_ARGUMENT naming the file
// and field for a malformed config file or an unreadable token file; a missing config file is
// fine.
absl::StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags,
                                                 const std::map<std::string, std::string>& env);

// The process environment as a map (the variables this file reads).
std::map<std::string, std::string> ProcessEnv();

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_CONFIG_H_
