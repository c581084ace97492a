// `hypersweep dashboard`: an HTTP server in the CLI that shows the coordinator's sweeps, trials
// and workers, talking to hypersweepd over gRPC with the CLI's own --server, token and TLS
// settings (the coordinator is unchanged). Pages are server-rendered HTML (pages.h); plots are
// the SVG of `hypersweep plot` (client/plot_command.h BuildPlot); live updates are server-sent
// events fed from WatchSweep, one thread per stream, at most max_streams at once. Security model
// and routes: docs/DASHBOARD.md.
#ifndef HYPERSWEEP_CLIENT_DASHBOARD_SERVER_H_
#define HYPERSWEEP_CLIENT_DASHBOARD_SERVER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/commands.h"
#include "rpc/config.h"

namespace hypersweep::dashboard {

struct DashboardOptions {
  std::string listen = "127.0.0.1:8080";  // port 0: the kernel picks one (printed)
  std::string token_file;                 // HTTP bearer / basic-auth token; required off loopback
  std::string tls_cert, tls_key;          // PEM files: serve HTTPS; required off loopback
  bool allow_cancel = false;              // POST /sweeps/ID/cancel and its button
  int max_streams = 16;                   // concurrent event streams; more get 503
  int trial_page_size = 100;              // trial table rows per page (at most 1000)
  absl::Duration rpc_timeout = absl::Seconds(10);  // deadline of each unary call to hypersweepd
};

// Checks the options (listen policy, token and TLS files), binds, prints
// "dashboard listening on http[s]://HOST:PORT" on io.out, and serves until the process ends.
// INVALID_ARGUMENT naming the flag for a refused address or an unreadable/invalid file;
// UNAVAILABLE when the address cannot be bound. The coordinator need not be up: pages say 503
// until it is.
absl::Status RunDashboard(const DashboardOptions& options, const ClientConfig& coordinator, Io& io);

}  // namespace hypersweep::dashboard

#endif  // HYPERSWEEP_CLIENT_DASHBOARD_SERVER_H_
