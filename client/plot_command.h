// `hypersweep plot`: fetches a sweep's results, assembles one curve per point (client/points) and
// writes the figure client/plot_figures draws for the kind asked.
#ifndef HYPERSWEEP_CLIENT_PLOT_COMMAND_H_
#define HYPERSWEEP_CLIENT_PLOT_COMMAND_H_

#include <cstddef>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/commands.h"
#include "client/sweep_client.h"

namespace hypersweep {

struct PlotOptionsCli {
  std::string sweep_id;
  std::string kind;  // curves, lr-finder, schedule, time, objective-history, parallel
  std::string out_path;
  std::string metric;  // "" : the sweep's objective metric
};
// A drawn figure and how many series it has.
struct PlotResult {
  std::string svg;
  size_t series = 0;
};
// Fetches a sweep's results and draws the figure of `kind` (curves, lr-finder, schedule, time,
// objective-history, parallel) for `metric` ("" : the objective's); the one drawing path of
// `hypersweep plot` and the dashboard.
// Points that cannot be drawn are named on `warnings`. INVALID_ARGUMENT for an unknown kind;
// NOT_FOUND when there is nothing to plot yet.
absl::StatusOr<PlotResult> BuildPlot(SweepClient& client, const std::string& sweep_id,
                                     const std::string& kind, const std::string& metric,
                                     std::ostream& warnings);

// Writes the SVG to options.out_path and "wrote PATH (N series)" to stderr. INVALID_ARGUMENT
// for an unknown kind or an unwritable file; NOT_FOUND when there is nothing to plot yet.
absl::Status RunPlot(SweepClient& client, const PlotOptionsCli& options, Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_PLOT_COMMAND_H_
