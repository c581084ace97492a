#include "core/command_spec.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "core/trial_spec.h"

namespace hypersweep {
namespace {

std::string Number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Walks `text`, calling `on_literal` for literal text and `on_name` for each `{name}`.
absl::Status Scan(const std::string& text,
                  const std::function<void(const std::string&)>& on_literal,
                  const std::function<absl::Status(const std::string&)>& on_name) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      on_literal(std::string(1, c));
      ++i;
    } else if (c == '{') {
      const size_t end = text.find('}', i);
      if (end == std::string::npos)
        return absl::InvalidArgumentError("'{' without '}' (write {{ for a literal brace)");
      if (absl::Status s = on_name(text.substr(i + 1, end - i - 1)); !s.ok()) return s;
      i = end;
    } else if (c == '}') {
      return absl::InvalidArgumentError("'}' without '{' (write }} for a literal brace)");
    } else {
      on_literal(std::string(1, c));
    }
  }
  return absl::OkStatus();
}

bool IsKnownName(const std::string& name) {
  const auto& names = CommandParamNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool IsEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// The schedule's peak LR (`lr`/`max_lr`) and its lowest (`base_lr`).
void ScheduleLrs(const ScheduleSpec& s, double* max_lr, double* base_lr) {
  std::visit(
      [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, ConstantSchedule>) {
          *max_lr = *base_lr = k.lr;
        } else if constexpr (std::is_same_v<K, OneCycleSchedule>) {
          *max_lr = k.max_lr;
          *base_lr = k.max_lr / k.div_factor;
        } else if constexpr (std::is_same_v<K, CyclicSchedule>) {
          *max_lr = k.max_lr;
          *base_lr = k.base_lr;
        } else if constexpr (std::is_same_v<K, CosineRestartsSchedule>) {
          *max_lr = k.max_lr;
          *base_lr = k.eta_min;
        } else {
          *max_lr = k.max_lr;
          *base_lr = k.min_lr;
        }
      },
      s.kind);
}

}  // namespace

const std::vector<std::string>& CommandParamNames() {
  static const auto* names = new std::vector<std::string>{
      "lr",     "max_lr", "base_lr", "momentum", "weight_decay", "batch_size",
      "epochs", "seed",   "fold",    "folds",    "schedule",     "name"};
  return *names;
}

absl::StatusOr<CommandSpec> ParseCommand(const YAML::Node& node, const std::string& path) {
  CommandSpec c;
  MapReader r(node, path);
  if (!r.ok()) return r.Finish();
  if (!r.Has("argv")) r.Fail("", "field 'argv' is required");
  r.StringList("argv", &c.argv);
  if (r.ok() && c.argv.empty()) r.Fail("argv", "must name a program");
  if (r.ok() && c.argv.size() > kMaxCommandArgs) {
    r.Fail("argv", absl::StrCat(c.argv.size(), " entries; at most ", kMaxCommandArgs));
  }
  for (size_t i = 0; r.ok() && i < c.argv.size(); ++i) {
    const std::string& a = c.argv[i];
    const std::string key = absl::StrCat("argv[", i, "]");
    if (a.size() > kMaxCommandArgBytes) {
      r.Fail(key, absl::StrCat(a.size(), " bytes; at most ", kMaxCommandArgBytes));
    } else if (a.find('\0') != std::string::npos) {
      r.Fail(key, "must not contain a NUL byte");
    } else if (i == 0 && (a.empty() || a.find_first_of("{}") != std::string::npos)) {
      r.Fail(key, "the program must be a plain name or path (no placeholder)");
    } else {
      absl::Status s = Scan(
          a, [](const std::string&) {},
          [](const std::string& name) {
            if (IsKnownName(name)) return absl::OkStatus();
            return absl::InvalidArgumentError(
                absl::StrCat("unknown placeholder '{", name.substr(0, 64),
                             "}'; expected one of: ", absl::StrJoin(CommandParamNames(), ", ")));
          });
      if (!s.ok()) r.Fail(key, std::string(s.message()));
    }
  }
  if (r.ok() && r.Has("env")) {
    const YAML::Node env = r.Child("env");
    const std::string env_path = r.PathOf("env");
    if (!env.IsMap()) return FieldError(env_path, env, "must be a map of NAME: value");
    size_t bytes = 0;
    for (const auto& kv : env) {
      ASSIGN_OR_RETURN(std::string name, ReadString(kv.first, env_path));
      const std::string field = JoinPath(env_path, name.substr(0, 64));
      ASSIGN_OR_RETURN(std::string value, ReadString(kv.second, field));
      if (!IsEnvName(name)) {
        return FieldError(field, kv.first, "names are [A-Za-z_][A-Za-z0-9_]*");
      }
      if (absl::StartsWith(name, "HYPERSWEEP_")) {
        return FieldError(field, kv.first, "HYPERSWEEP_* names are set by the worker");
      }
      if (value.find('\0') != std::string::npos) {
        return FieldError(field, kv.second, "must not contain a NUL byte");
      }
      bytes += name.size() + value.size() + 2;
      if (c.env.size() + 1 > kMaxCommandEnvEntries || bytes > kMaxCommandEnvBytes) {
        return FieldError(env_path, env,
                          absl::StrCat("at most ", kMaxCommandEnvEntries, " entries and ",
                                       kMaxCommandEnvBytes, " bytes"));
      }
      c.env[name] = value;
    }
  }
  r.String("workdir", &c.workdir);
  r.Int("steps_per_epoch", &c.steps_per_epoch);
  if (r.ok() && (c.steps_per_epoch < 0 || c.steps_per_epoch > kMaxCommandScheduleSteps)) {
    r.Fail("steps_per_epoch", absl::StrCat("must be in [0, ", kMaxCommandScheduleSteps, "]"));
  }
  if (r.ok() && c.workdir.size() > kMaxCommandWorkdirBytes) {
    r.Fail("workdir", absl::StrCat("at most ", kMaxCommandWorkdirBytes, " bytes"));
  }
  if (r.ok() && c.workdir.find('\0') != std::string::npos)
    r.Fail("workdir", "must not contain a NUL byte");
  RETURN_IF_ERROR(r.Finish());
  return c;
}

absl::Status CheckProgramMetricName(const std::string& name) {
  const bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
  if (name.empty() || name.size() > kMaxProgramMetricNameBytes || !chars_ok || name == "epoch") {
    return absl::InvalidArgumentError(
        absl::StrCat("a metric name is 1 to ", kMaxProgramMetricNameBytes,
                     " letters, digits, '_', '.' or '-' (and not 'epoch')"));
  }
  return absl::OkStatus();
}

nlohmann::json ToJson(const CommandSpec& spec) {
  nlohmann::json j = {{"argv", spec.argv}};
  if (!spec.env.empty()) j["env"] = spec.env;
  if (!spec.workdir.empty()) j["workdir"] = spec.workdir;
  if (spec.steps_per_epoch > 0) j["steps_per_epoch"] = spec.steps_per_epoch;
  return j;
}

absl::StatusOr<std::vector<std::string>> SubstituteArgv(const CommandSpec& command,
                                                        const TrialSpec& t) {
  if (!t.schedule.auto_fields.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "command.argv: the auto LR field '", t.schedule.auto_fields[0], "' is not resolved yet"));
  }
  double max_lr = 0, base_lr = 0;
  ScheduleLrs(t.schedule, &max_lr, &base_lr);
  const bool kfold = t.validation.kind == ValidationSpec::Kind::kKFold;
  const std::map<std::string, std::string> values = {
      {"lr", Number(max_lr)},
      {"max_lr", Number(max_lr)},
      {"base_lr", Number(base_lr)},
      {"momentum", Number(t.momentum)},
      {"weight_decay", Number(t.weight_decay)},
      {"batch_size", absl::StrCat(t.batch_size)},
      {"epochs", absl::StrCat(t.epochs)},
      {"seed", absl::StrCat(t.seed)},
      {"fold", absl::StrCat(kfold ? t.validation.fold : 0)},
      {"folds", absl::StrCat(kfold ? t.validation.folds : 1)},
      {"schedule", ScheduleName(t.schedule)},
      {"name", t.name},
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < command.argv.size(); ++i) {
    std::string arg;
    absl::Status s = Scan(
        command.argv[i], [&](const std::string& lit) { arg += lit; },
        [&](const std::string& name) {
          auto it = values.find(name);
          if (it == values.end()) {
            return absl::InvalidArgumentError(absl::StrCat("unknown placeholder '{", name, "}'"));
          }
          arg += it->second;
          return absl::OkStatus();
        });
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("command.argv[", i, "]: ", s.message()));
    out.push_back(std::move(arg));
  }
  return out;
}

}  // namespace hypersweep
