// A command trial end to end on the worker (docs/COMMAND_TRIALS.md): checks the program against
// --allow-command, prepares the trial's directory (trial.json, schedule.csv, checkpoints/, the
// log), composes the environment, runs the program (runner.h) and turns its outcome into the
// trainer's result types, so the agent handles both kinds of trial the same way.
#ifndef HYPERSWEEP_WORKER_COMMAND_COMMAND_TRIAL_H_
#define HYPERSWEEP_WORKER_COMMAND_COMMAND_TRIAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/trial_spec.h"
#include "worker/data_paths.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {

// Whether `program` (argv[0]) may run under the worker's --allow-command entries: an entry that
// ends in '/' allows every path below that directory (a lexically normal absolute path: no '.',
// '..' or '//' components); any other entry allows exactly that string (a name looked up on PATH,
// or a path). No entries: nothing may run.
bool CommandAllowed(const std::vector<std::string>& allowed, const std::string& program);

struct CommandTrialOptions {
  std::string trial_id;  // [A-Za-z0-9_-]+ (checked)
  int64_t attempt = 1;
  std::string checkpoint_dir;  // the trial's directory is <checkpoint_dir>/command/<trial_id>
  DataRoots roots;             // where command.workdir may point
  absl::Duration grace = absl::Seconds(10);
  std::vector<std::string> base_env;  // "NAME=value": the worker's environment (see below)
  std::function<bool()> should_stop;
};

// The worker's environment as the program sees it: every entry of `environ` except HYPERSWEEP_*
// and names containing TOKEN, SECRET, PASSWORD or CREDENTIAL (any case).
std::vector<std::string> InheritedEnvironment(char** environ);

// The trial's directory (created): <checkpoint_dir>/command/<trial_id>.
absl::StatusOr<std::string> CommandTrialDir(const CommandTrialOptions& options);

// Runs the program for a training trial. INVALID_ARGUMENT (user error) for exit 2, exit 0 without
// a report, a malformed report, a program that cannot start, a bad workdir; UNAVAILABLE
// (retryable) for any other exit or a signal; exit 3 is kDiverged; a stop is kStopped; the
// budget ends the trial kSucceeded with the reason, after at least one epoch.
absl::StatusOr<TrialResult> RunCommandTrial(const TrialSpec& spec,
                                            const CommandTrialOptions& options, MetricsSink* sink);

// Runs the program with HYPERSWEEP_MODE=lr_range; its {"lr_range": {"lr", "loss"}} lines are the
// curve (the worker's EMA stop rule ends the program early, as for the built-in test).
absl::StatusOr<LrRangeResult> RunCommandLrRangeTest(const TrialSpec& spec,
                                                    const CommandTrialOptions& options,
                                                    MetricsSink* sink);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_COMMAND_COMMAND_TRIAL_H_
