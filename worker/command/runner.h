// Runs one command trial's program (docs/COMMAND_TRIALS.md): fork/exec in its own process group,
// in its working directory, with the environment it is given; stdout's JSON report lines become
// epochs (or LR range-test points), every other stdout line and all of stderr go to the log file.
// Stopping (should_stop, the budget, a malformed report) sends SIGTERM to the process group, then
// SIGKILL after the grace period; whatever is left of the group when the program ends is killed.
// The child has PR_SET_PDEATHSIG = SIGKILL: it dies with the thread that started it (kill -9 of
// the worker). Torch-free and gRPC-free.
#ifndef HYPERSWEEP_WORKER_COMMAND_RUNNER_H_
#define HYPERSWEEP_WORKER_COMMAND_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/metrics.h"

namespace hypersweep {

// Longest stdout line read as a possible report; longer lines are cut in the log, never reports.
inline constexpr size_t kMaxReportLineBytes = 64 * 1024;
// Most metrics one epoch report may carry (the coordinator's own bound).
inline constexpr size_t kMaxReportMetrics = 64;
// Most bytes of the log's end quoted in a failure reason.
inline constexpr size_t kLogTailBytes = 1'024;

struct ProgramOptions {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no '/'
  std::vector<std::string> env;   // the whole environment, "NAME=value"
  std::string workdir;            // must exist
  std::string log_path;           // appended to
  // Polled every 50 ms; true stops the program (outcome kStopped).
  std::function<bool()> should_stop;
  double budget_seconds = 0;  // > 0: stop the program after this long (outcome kBudget)
  absl::Duration grace = absl::Seconds(10);  // SIGTERM -> SIGKILL
  int64_t max_epochs = 100'000;              // epochs are 0 .. max_epochs-1
  bool lr_range = false;                     // read {"lr_range": {"lr", "loss"}} lines too
  std::function<void(const metrics::EpochMetrics&)> on_epoch;
  std::function<void(double lr, double loss)> on_lr_point;  // loss NaN: diverged
};

enum class ProgramOutcome {
  kSucceeded,  // exit 0 after at least one report
  kDiverged,   // exit 3
  kUserError,  // exit 2, exit 0 without a report, a malformed report, cannot start
  kFailed,     // any other exit or a signal: retryable
  kStopped,    // should_stop
  kBudget,     // budget_seconds reached
};

struct ProgramResult {
  ProgramOutcome outcome = ProgramOutcome::kFailed;
  std::string reason;   // empty for kSucceeded; ends with the log's tail for failures
  int64_t reports = 0;  // epochs (or range-test points) read
  int exit_code = -1;   // -1 when killed by a signal
  int signal = 0;
};

ProgramResult RunProgram(const ProgramOptions& options);

// The last `max_bytes` of the file, control bytes and non-ASCII replaced by '?', newlines by
// " | "; "" when unreadable.
std::string LogTail(const std::string& path, size_t max_bytes = kLogTailBytes);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_COMMAND_RUNNER_H_
