// The one configuration reader for every hypersweep program: a setting comes from its command-line
// flag, else from the environment, else from the config file, else its default. Flags win.
//
// The CLI reads $XDG_CONFIG_HOME/hypersweep/config.yaml (else $HOME/.config/hypersweep/...) with
// HYPERSWEEP_SERVER and HYPERSWEEP_TOKEN; the worker reads worker.yaml in the same directory (or
// --config) with HYPERSWEEP_SERVER, HYPERSWEEP_WORKER_TOKEN / HYPERSWEEP_TOKEN and
// HYPERSWEEP_TLS_CA. The environment is always passed in as a map, so tests need no setenv.
#ifndef HYPERSWEEP_RPC_CONFIG_H_
#define HYPERSWEEP_RPC_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rpc/connection.h"
#include "yaml-cpp/yaml.h"

namespace hypersweep {

using Env = std::map<std::string, std::string>;

// A config file: a YAML map from setting names to scalars. Immutable after Read(); thread-safe.
class ConfigFile {
 public:
  ConfigFile() = default;  // no file: nothing set

  // Reads `path`. A missing file (or an empty path) sets nothing unless `must_exist`.
  // INVALID_ARGUMENT naming the file, the field and its line for a YAML error, a non-scalar value
  // or a key outside `known_keys` ("config file X: srever (line 2): unknown field ...").
  static absl::StatusOr<ConfigFile> Read(const std::string& path,
                                         const std::vector<std::string>& known_keys,
                                         bool must_exist = false);

  const std::string& path() const { return path_; }  // as given to Read(); "" for none
  // The node of `key` (a scalar); an undefined node when the key is absent.
  YAML::Node Get(const std::string& key) const;
  // A relative `path` written in the file is relative to the file's directory.
  std::string Resolve(const std::string& path) const;
  // INVALID_ARGUMENT "config file <path>: <key> (line N): <message>".
  absl::Status Error(const std::string& key, const std::string& message) const;

 private:
  std::string path_;
  std::map<std::string, YAML::Node> values_;
};

// How one setting is named in each source. An empty flag or file_key: not settable there.
struct SettingName {
  std::string flag;              // e.g. "--server" (for messages; the caller parses flags)
  std::vector<std::string> env;  // variables in order of precedence; empty values count as unset
  std::string file_key;          // key in the config file
};

// A requirement on a numeric setting: `ok` false means "<where>: <requirement>".
template <typename T>
struct Check {
  std::function<bool(T)> ok;
  std::string requirement;  // e.g. "must be > 0 (seconds)"
};

// Applies flags > environment > config file to each setting. Each getter leaves *out (the
// default) unchanged when no source sets the setting, and returns INVALID_ARGUMENT naming the
// source (the flag, the variable, or the file, field and line) for a malformed or out-of-range
// value. Immutable; thread-safe.
class ConfigReader {
 public:
  ConfigReader(Env env, ConfigFile file) : env_(std::move(env)), file_(std::move(file)) {}

  absl::Status Get(const SettingName& name, const std::optional<std::string>& flag,
                   std::string* out) const;
  absl::Status Get(const SettingName& name, const std::optional<int64_t>& flag, int64_t* out,
                   const Check<int64_t>& check = {}) const;
  absl::Status Get(const SettingName& name, const std::optional<double>& flag, double* out,
                   const Check<double>& check = {}) const;
  // Like Get, but a relative path from the config file is made relative to the file's directory.
  absl::Status GetPath(const SettingName& name, const std::optional<std::string>& flag,
                       std::string* out) const;
  // The bearer token: the token-file flag, else the first non-empty variable in `env` (the token
  // itself), else the file's token_file, else the file's token. Token files are read with
  // ReadTokenFile (rpc/token_file.h). Leaves *out unchanged when nothing sets a token.
  absl::Status GetToken(const std::optional<std::string>& token_file_flag,
                        const std::vector<std::string>& env, std::string* out) const;

  const ConfigFile& file() const { return file_; }
  // The first non-empty variable of `names`, or "".
  std::string EnvValue(const std::vector<std::string>& names) const;

 private:
  template <typename T>
  absl::Status GetNumber(const SettingName& name, const std::optional<T>& flag, T* out,
                         const Check<T>& check) const;

  const Env env_;
  const ConfigFile file_;
};

// The config file path `name` for this environment (it need not exist): under $XDG_CONFIG_HOME
// when set and non-empty, else $HOME/.config, in hypersweep/; empty when neither is set.
std::string ConfigFilePath(const Env& env, const std::string& name = "config.yaml");

// The process environment as a map (the variables hypersweep reads).
Env ProcessEnv();

// ---- The CLI's settings.
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

// Resolves the CLI's settings from config.yaml, which may hold: server, token_file, token,
// tls_ca, timeout (seconds). Sources: --server / HYPERSWEEP_SERVER / server; --token-file /
// HYPERSWEEP_TOKEN / token_file, token; --tls-ca / tls_ca; --timeout / timeout. A missing
// config file is fine.
absl::StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags, const Env& env);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_CONFIG_H_
