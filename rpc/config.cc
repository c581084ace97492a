#include "rpc/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "rpc/token_file.h"

namespace hypersweep {
namespace {

std::string Get(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

struct FileConfig {
  std::string server, token_file, token, tls_ca;
  std::optional<double> timeout;
};

absl::StatusOr<FileConfig> ReadConfigFile(const std::string& path) {
  FileConfig out;
  std::ifstream in(path);
  if (!in) return out;  // no file: nothing configured
  std::stringstream ss;
  ss << in.rdbuf();
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": ", s.message()));
  };
  auto root = LoadYaml(ss.str(), "config file");
  if (!root.ok()) return fail(root.status());
  if (root->IsNull()) return out;
  if (!root->IsMap()) return fail(FieldError("", *root, "expected a map"));
  MapReader r(*root, "");
  r.String("server", &out.server);
  r.String("token_file", &out.token_file);
  r.String("token", &out.token);
  r.String("tls_ca", &out.tls_ca);
  double timeout = -1;
  r.Double("timeout", &timeout);
  if (r.Has("timeout") && r.ok() && !(timeout > 0)) r.Fail("timeout", "must be > 0 (seconds)");
  if (auto s = r.Finish(); !s.ok()) return fail(s);
  if (timeout > 0) out.timeout = timeout;
  return out;
}

// A relative path in the config file is relative to the file's directory.
std::string RelativeTo(const std::string& file, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(file).parent_path() / path).string();
}

}  // namespace

std::string ConfigFilePath(const std::map<std::string, std::string>& env) {
  std::string base = Get(env, "XDG_CONFIG_HOME");
  if (base.empty()) {
    const std::string home = Get(env, "HOME");
    if (home.empty()) return "";
    base = home + "/.config";
  }
  return base + "/hypersweep/config.yaml";
}

absl::StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags,
                                                 const std::map<std::string, std::string>& env) {
  ClientConfig config;
  config.config_file = ConfigFilePath(env);
  FileConfig file;
  if (!config.config_file.empty()) {
    ASSIGN_OR_RETURN(file, ReadConfigFile(config.config_file));
  }
  // Server: flag, env, file, default.
  if (flags.server) {
    config.connection.server = *flags.server;
  } else if (!Get(env, "HYPERSWEEP_SERVER").empty()) {
    config.connection.server = Get(env, "HYPERSWEEP_SERVER");
  } else if (!file.server.empty()) {
    config.connection.server = file.server;
  } else {
    config.connection.server = kDefaultServer;
  }
  // Token: --token-file, HYPERSWEEP_TOKEN, the file's token_file, the file's token.
  if (flags.token_file) {
    ASSIGN_OR_RETURN(config.connection.token, ReadTokenFile(*flags.token_file));
  } else if (!Get(env, "HYPERSWEEP_TOKEN").empty()) {
    config.connection.token = Get(env, "HYPERSWEEP_TOKEN");
  } else if (!file.token_file.empty()) {
    ASSIGN_OR_RETURN(config.connection.token,
                     ReadTokenFile(RelativeTo(config.config_file, file.token_file)));
  } else {
    config.connection.token = file.token;
  }
  if (flags.tls_ca) {
    config.connection.tls_ca_file = *flags.tls_ca;
  } else {
    config.connection.tls_ca_file = RelativeTo(config.config_file, file.tls_ca);
  }
  if (flags.timeout_seconds) {
    if (!(*flags.timeout_seconds > 0)) {
      return absl::InvalidArgumentError("--timeout: must be > 0 (seconds)");
    }
    config.timeout_seconds = *flags.timeout_seconds;
  } else if (file.timeout) {
    config.timeout_seconds = *file.timeout;
  }
  return config;
}

std::map<std::string, std::string> ProcessEnv() {
  std::map<std::string, std::string> env;
  for (const char* key :
       {"HOME", "XDG_CONFIG_HOME", "HYPERSWEEP_SERVER", "HYPERSWEEP_TOKEN", "NO_COLOR"}) {
    if (const char* v = std::getenv(key)) env[key] = v;
  }
  return env;
}

}  // namespace hypersweep
