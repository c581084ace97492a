// What every CLI command shares: where it writes (Io), how its --format is resolved, and how its
// Status becomes an exit code. The commands themselves, grouped by what they do:
//   client/sweep_commands.h   submit, list, status, watch, cancel
//   client/result_commands.h  trials, best, curves, export, lr-curve
//   client/worker_commands.h  workers
//   client/schedule_command.h schedule (no server)
//   client/plot_command.h     plot
// Each turns its options into RPCs (through SweepClient) and writes its result through
// client/output (tables, CSV, JSON) or client/plot_figures (SVG). Commands return a Status;
// cli.cc maps it to an exit code (ExitCodeFor) and a one-line message.
#ifndef HYPERSWEEP_CLIENT_COMMANDS_H_
#define HYPERSWEEP_CLIENT_COMMANDS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/output.h"
#include "rpc/config.h"

namespace hypersweep {

// Exit codes of `hypersweep`.
inline constexpr int kCliOk = 0;
inline constexpr int kCliFailure = 1;      // anything else
inline constexpr int kCliUsage = 2;        // usage error or bad spec (INVALID_ARGUMENT)
inline constexpr int kCliNotFound = 3;     // unknown sweep, trial or nothing to show (NOT_FOUND)
inline constexpr int kCliUnreachable = 4;  // server unreachable or authentication failure

// INVALID_ARGUMENT -> 2, NOT_FOUND -> 3, UNAVAILABLE / DEADLINE_EXCEEDED / UNAUTHENTICATED /
// PERMISSION_DENIED -> 4, OK -> 0, others -> 1.
int ExitCodeFor(const absl::Status& status);

// Where a command writes, and what it knows about the terminal.
struct Io {
  std::ostream* out;
  std::ostream* err;
  bool out_is_terminal = false;
  bool err_is_terminal = false;
  Style err_style{false};  // colours on stderr (terminal and no NO_COLOR)
  Style out_style{false};  // colours on stdout
};

// A command's --format as given ("" when not given), resolved against io.out_is_terminal
// (see ParseFormat). INVALID_ARGUMENT for an unknown name.
absl::StatusOr<Format> FormatFor(const std::string& name, const Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_COMMANDS_H_
