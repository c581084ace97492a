#include "rpc/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "rpc/token_file.h"

namespace hypersweep {
namespace {

std::string EnvGet(const Env& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

// Where a value came from, for messages and for parsing.
struct Found {
  bool set = false;      // false: no source sets the setting
  YAML::Node node;       // a scalar (for the file: with its line)
  std::string where;     // "--slots", "HYPERSWEEP_SERVER" or the file key
  bool in_file = false;  // errors then name the file
};

}  // namespace

absl::StatusOr<ConfigFile> ConfigFile::Read(const std::string& path,
                                            const std::vector<std::string>& known_keys,
                                            bool must_exist) {
  ConfigFile out;
  out.path_ = path;
  if (path.empty()) return out;
  std::ifstream in(path);
  if (!in) {
    if (!must_exist) return out;  // no file: nothing configured
    return absl::InvalidArgumentError(absl::StrCat("cannot read config file '", path, "'"));
  }
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
  for (const std::string& key : known_keys) {
    YAML::Node node = r.Child(key);
    if (!node.IsDefined() || node.IsNull()) continue;
    if (node.IsScalar() && node.Scalar().empty()) continue;  // "server: ''" sets nothing
    if (!node.IsScalar()) {
      r.Fail(FieldError(key, node, "expected a single value"));
      continue;
    }
    out.values_[key] = node;
  }
  if (auto s = r.Finish(); !s.ok()) return fail(s);
  return out;
}

YAML::Node ConfigFile::Get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? YAML::Node(YAML::NodeType::Undefined) : it->second;
}

std::string ConfigFile::Resolve(const std::string& path) const {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(path_).parent_path() / path).string();
}

absl::Status ConfigFile::Error(const std::string& key, const std::string& message) const {
  absl::Status s = FieldError(key, Get(key), message);
  return absl::InvalidArgumentError(absl::StrCat("config file ", path_, ": ", s.message()));
}

std::string ConfigReader::EnvValue(const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    if (std::string v = EnvGet(env_, name); !v.empty()) return v;
  }
  return "";
}

absl::Status ConfigReader::Get(const SettingName& name, const std::optional<std::string>& flag,
                               std::string* out) const {
  if (flag) {
    *out = *flag;
  } else if (std::string v = EnvValue(name.env); !v.empty()) {
    *out = v;
  } else if (YAML::Node n = file_.Get(name.file_key); !name.file_key.empty() && n.IsDefined()) {
    *out = n.Scalar();
  }
  return absl::OkStatus();
}

absl::Status ConfigReader::GetPath(const SettingName& name, const std::optional<std::string>& flag,
                                   std::string* out) const {
  const bool from_file = !flag && EnvValue(name.env).empty();
  std::string value = *out;
  RETURN_IF_ERROR(Get(name, flag, &value));
  if (from_file && !name.file_key.empty() && file_.Get(name.file_key).IsDefined()) {
    value = file_.Resolve(value);
  }
  *out = value;
  return absl::OkStatus();
}

template <typename T>
absl::Status ConfigReader::GetNumber(const SettingName& name, const std::optional<T>& flag, T* out,
                                     const Check<T>& check) const {
  T value;
  std::string where;
  bool in_file = false;
  if (flag) {
    value = *flag;
    where = name.flag;
  } else {
    Found found;
    for (const std::string& var : name.env) {
      if (std::string v = EnvGet(env_, var); !v.empty()) {
        found = {true, YAML::Node(v), var, false};
        break;
      }
    }
    if (!found.set && !name.file_key.empty()) {
      if (YAML::Node n = file_.Get(name.file_key); n.IsDefined()) {
        found = {true, n, name.file_key, true};
      }
    }
    if (!found.set) return absl::OkStatus();  // unset: keep the default
    where = found.where;
    in_file = found.in_file;
    absl::StatusOr<T> parsed;
    if constexpr (std::is_same_v<T, double>) {
      parsed = ReadDouble(found.node, where);
    } else {
      parsed = ReadInt(found.node, where);
    }
    if (!parsed.ok()) {
      if (!in_file) return parsed.status();
      return absl::InvalidArgumentError(
          absl::StrCat("config file ", file_.path(), ": ", parsed.status().message()));
    }
    value = *parsed;
  }
  if (check.ok && !check.ok(value)) {
    if (in_file) return file_.Error(where, check.requirement);
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", check.requirement));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ConfigReader::Get(const SettingName& name, const std::optional<int64_t>& flag,
                               int64_t* out, const Check<int64_t>& check) const {
  return GetNumber(name, flag, out, check);
}

absl::Status ConfigReader::Get(const SettingName& name, const std::optional<double>& flag,
                               double* out, const Check<double>& check) const {
  return GetNumber(name, flag, out, check);
}

absl::Status ConfigReader::GetToken(const std::optional<std::string>& token_file_flag,
                                    const std::vector<std::string>& env, std::string* out) const {
  if (token_file_flag) {
    ASSIGN_OR_RETURN(*out, ReadTokenFile(*token_file_flag));
  } else if (std::string v = EnvValue(env); !v.empty()) {
    *out = v;
  } else if (YAML::Node n = file_.Get("token_file"); n.IsDefined()) {
    ASSIGN_OR_RETURN(*out, ReadTokenFile(file_.Resolve(n.Scalar())));
  } else if (YAML::Node t = file_.Get("token"); t.IsDefined()) {
    *out = t.Scalar();
  }
  return absl::OkStatus();
}

std::string ConfigFilePath(const Env& env, const std::string& name) {
  std::string base = EnvGet(env, "XDG_CONFIG_HOME");
  if (base.empty()) {
    const std::string home = EnvGet(env, "HOME");
    if (home.empty()) return "";
    base = home + "/.config";
  }
  return base + "/hypersweep/" + name;
}

Env ProcessEnv() {
  Env env;
  for (const char* key : {"HOME", "XDG_CONFIG_HOME", "HYPERSWEEP_SERVER", "HYPERSWEEP_TOKEN",
                          "HYPERSWEEP_WORKER_TOKEN", "HYPERSWEEP_TLS_CA", "NO_COLOR"}) {
    if (const char* v = std::getenv(key)) env[key] = v;
  }
  return env;
}

absl::StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags, const Env& env) {
  ClientConfig config;
  config.config_file = ConfigFilePath(env);
  ASSIGN_OR_RETURN(
      ConfigFile file,
      ConfigFile::Read(config.config_file, {"server", "token_file", "token", "tls_ca", "timeout"}));
  const ConfigReader reader(env, std::move(file));
  config.connection.server = kDefaultServer;
  RETURN_IF_ERROR(reader.Get({"--server", {"HYPERSWEEP_SERVER"}, "server"}, flags.server,
                             &config.connection.server));
  RETURN_IF_ERROR(
      reader.GetToken(flags.token_file, {"HYPERSWEEP_TOKEN"}, &config.connection.token));
  RETURN_IF_ERROR(
      reader.GetPath({"--tls-ca", {}, "tls_ca"}, flags.tls_ca, &config.connection.tls_ca_file));
  RETURN_IF_ERROR(reader.Get({"--timeout", {}, "timeout"}, flags.timeout_seconds,
                             &config.timeout_seconds,
                             {[](double v) { return v > 0; }, "must be > 0 (seconds)"}));
  return config;
}

}  // namespace hypersweep
