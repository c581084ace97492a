// Command trials (docs/COMMAND_TRIALS.md): `command: {argv, env, workdir}` runs a program per trial
// instead of the built-in trainer. This file parses and bounds the field and substitutes a
// point's values into argv. The worker runs the program (worker/command/).
#ifndef HYPERSWEEP_CORE_COMMAND_SPEC_H_
#define HYPERSWEEP_CORE_COMMAND_SPEC_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace hypersweep {

struct TrialSpec;

// Bounds on what a spec may ask a worker to run (the spec comes from any client).
inline constexpr size_t kMaxCommandArgs = 256;         // argv entries
inline constexpr size_t kMaxCommandArgBytes = 4'096;   // one argv entry, before substitution
inline constexpr size_t kMaxCommandEnvEntries = 64;    // env entries
inline constexpr size_t kMaxCommandEnvBytes = 16'384;  // all env names and values together
inline constexpr size_t kMaxCommandWorkdirBytes = 1'024;
// steps_per_epoch x epochs: the most rows of a schedule table the worker writes.
inline constexpr int64_t kMaxCommandScheduleSteps = 1'000'000;

struct CommandSpec {
  // The program and its arguments. Entries may hold `{name}` placeholders (CommandParamNames());
  // `{{` and `}}` are literal braces. argv[0] holds no placeholder: the worker matches it against
  // its --allow-command prefixes.
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the program's environment (not substituted)
  std::string workdir;  // empty: the trial's own directory under the worker's --checkpoint-dir
  // The program's optimizer steps per epoch; > 0: the worker writes the point's per-step LR and
  // momentum table (HYPERSWEEP_SCHEDULE). 0: no table (the worker cannot know the program's).
  int64_t steps_per_epoch = 0;
  bool present() const { return !argv.empty(); }
  bool operator==(const CommandSpec& o) const {
    return argv == o.argv && env == o.env && workdir == o.workdir &&
           steps_per_epoch == o.steps_per_epoch;
  }
};

// The names `{name}` may use: lr, max_lr, base_lr, momentum, weight_decay, batch_size, epochs,
// seed, fold, folds, schedule, name.
const std::vector<std::string>& CommandParamNames();

// Parses `command:` at `path`. INVALID_ARGUMENT names the field for a missing or empty argv, a
// placeholder in argv[0], an unknown `{name}`, an unbalanced brace, an env name that is not
// [A-Za-z_][A-Za-z0-9_]* or starts with HYPERSWEEP_, or a bound exceeded.
absl::StatusOr<CommandSpec> ParseCommand(const YAML::Node& node, const std::string& path);

nlohmann::json ToJson(const CommandSpec& spec);

// A metric name a program may report (and a command sweep's objective may name): 1 to 64 bytes
// of [A-Za-z0-9_.-], not "epoch" (the coordinator's own bound on reported names).
inline constexpr size_t kMaxProgramMetricNameBytes = 64;
absl::Status CheckProgramMetricName(const std::string& name);

// argv with each `{name}` replaced by the trial's value (numbers in shortest round-trip form).
// INVALID_ARGUMENT for an unresolved auto LR.
absl::StatusOr<std::vector<std::string>> SubstituteArgv(const CommandSpec& command,
                                                        const TrialSpec& trial);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_COMMAND_SPEC_H_
