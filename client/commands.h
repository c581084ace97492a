// The CLI's commands: each turns its options into RPCs (through SweepClient) and writes its
// result through client/output (tables, CSV, JSON) or client/plot (SVG). Commands return a
// Status; cli.cc maps it to an exit code (ExitCodeFor) and a one-line message.
#ifndef HYPERSWEEP_CLIENT_COMMANDS_H_
#define HYPERSWEEP_CLIENT_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/output.h"
#include "hypersweep/v1/service.grpc.pb.h"
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

// SweepService calls with the bearer token, a deadline on every unary call, pagination, and
// errors that name the server. Thread-compatible.
class SweepClient {
 public:
  // Opens the channel and waits until it is connected, at most config.timeout_seconds:
  // UNAVAILABLE "cannot reach hypersweepd at ADDR within Ns" otherwise.
  static absl::StatusOr<std::unique_ptr<SweepClient>> Connect(const ClientConfig& config);

  SweepClient(std::unique_ptr<v1::SweepService::StubInterface> stub, std::string address,
              std::string token, absl::Duration call_timeout);

  absl::StatusOr<v1::SubmitSweepResponse> Submit(const std::string& spec, bool dry_run);
  absl::StatusOr<v1::Sweep> GetSweep(const std::string& sweep_id);
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps();
  absl::StatusOr<v1::Sweep> Cancel(const std::string& sweep_id);
  // Every matching trial over all pages, or the first `limit` (> 0).
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(v1::ListTrialsRequest request,
                                                    int64_t limit = 0);
  absl::StatusOr<int64_t> CountTrials(const std::string& sweep_id);
  // Metrics of the given trials (in batches), in the order asked.
  absl::StatusOr<std::vector<v1::TrialMetrics>> GetMetrics(const std::vector<std::string>& ids,
                                                           const std::vector<std::string>& metrics);
  absl::StatusOr<v1::GetLrCurveResponse> GetLrCurve(const std::string& trial_id);
  absl::StatusOr<std::vector<v1::Worker>> ListWorkers();
  // Streams the sweep's events to `on_event` until the sweep ends (OK) or the stream breaks.
  absl::Status Watch(const std::string& sweep_id,
                     const std::function<void(const v1::SweepEvent&)>& on_event);

  const std::string& address() const { return address_; }

 private:
  void Prepare(grpc::ClientContext* ctx, bool deadline) const;
  absl::Status Convert(const grpc::Status& s) const;

  std::unique_ptr<v1::SweepService::StubInterface> stub_;
  std::string address_;
  std::string token_;
  absl::Duration call_timeout_;
};

// Where a command writes, and what it knows about the terminal.
struct Io {
  std::ostream* out;
  std::ostream* err;
  bool out_is_terminal = false;
  bool err_is_terminal = false;
  Style err_style{false};  // colours on stderr (terminal and no NO_COLOR)
  Style out_style{false};  // colours on stdout
};

// --format as given ("" when not given): resolved against Io::out_is_terminal.
struct SubmitOptions {
  std::string spec_path;
  bool dry_run = false;
  bool wait = false;
  std::string format;
};
// Validates the spec locally; with dry_run prints the expansion and queues nothing (no server
// needed). `connect` is called only when the server is needed.
using ConnectFn = std::function<absl::StatusOr<std::unique_ptr<SweepClient>>()>;
absl::Status RunSubmit(const SubmitOptions& options, const ConnectFn& connect, Io& io);

absl::Status RunList(SweepClient& client, const std::string& format, Io& io);
absl::Status RunStatus(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);
absl::Status RunWatch(SweepClient& client, const std::string& sweep_id, const std::string& format,
                      Io& io);
absl::Status RunCancel(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);
absl::Status RunWorkers(SweepClient& client, const std::string& format, Io& io);

struct TrialsOptions {
  std::string sweep_id;
  std::vector<std::string> statuses;  // QUEUED, succeeded, ... (case-insensitive)
  std::string sort_metric;
  int64_t limit = 0;  // 0: all
  std::string format;
};
absl::Status RunTrials(SweepClient& client, const TrialsOptions& options, Io& io);
absl::Status RunBest(SweepClient& client, const std::string& sweep_id, const std::string& metric,
                     const std::string& format, Io& io);

struct CurvesOptions {
  std::string sweep_id;
  std::vector<std::string> trial_ids;  // empty: every trial of the sweep
  std::vector<std::string> metrics;    // empty: all
  std::string format;
};
absl::Status RunCurves(SweepClient& client, const CurvesOptions& options, Io& io);
absl::Status RunExport(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);
absl::Status RunLrCurve(SweepClient& client, const std::string& trial_id, const std::string& format,
                        Io& io);

struct ScheduleOptions {
  std::string schedule;  // JSON or YAML, e.g. '{one_cycle: {max_lr: 0.1}}'
  int64_t steps = 0;
  int64_t steps_per_epoch = 1;
  double momentum = 0.9;
  std::string format;  // csv (default), json, table or svg
};
// Needs no server.
absl::Status RunSchedule(const ScheduleOptions& options, Io& io);

struct PlotOptionsCli {
  std::string sweep_id;
  std::string kind;  // curves, lr-finder, schedule, time
  std::string out_path;
  std::string metric;  // "" : the sweep's objective metric
};
absl::Status RunPlot(SweepClient& client, const PlotOptionsCli& options, Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_COMMANDS_H_
