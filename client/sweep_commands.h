// Commands on whole sweeps: submit (and --dry-run, --wait), list, status, watch, cancel.
#ifndef HYPERSWEEP_CLIENT_SWEEP_COMMANDS_H_
#define HYPERSWEEP_CLIENT_SWEEP_COMMANDS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/commands.h"
#include "client/sweep_client.h"

namespace hypersweep {

// --format as given ("" when not given): resolved against Io::out_is_terminal.
struct SubmitOptions {
  std::string spec_path;
  bool dry_run = false;
  bool wait = false;
  std::string format;
};
// Validates the spec locally; with dry_run prints the expansion and queues nothing (no server
// needed). `connect` is called only when the server is needed. With wait, follows the sweep
// (progress on stderr) and returns ABORTED when it was cancelled.
using ConnectFn = std::function<absl::StatusOr<std::unique_ptr<SweepClient>>()>;
absl::Status RunSubmit(const SubmitOptions& options, const ConnectFn& connect, Io& io);

// Every sweep, one row each.
absl::Status RunList(SweepClient& client, const std::string& format, Io& io);
// Counts, progress, ETA, the best trial so far and the auto LRs resolved so far.
absl::Status RunStatus(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);
// One line (table), CSV row or JSON line per event until the sweep ends.
absl::Status RunWatch(SweepClient& client, const std::string& sweep_id, const std::string& format,
                      Io& io);
absl::Status RunCancel(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);
// A PAUSED sweep: requeues its trials that failed with a user error and runs it again.
absl::Status RunResume(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_SWEEP_COMMANDS_H_
