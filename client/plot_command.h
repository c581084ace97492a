// `hypersweep plot`: fetches a sweep's results, assembles one curve per point (client/points) and
// writes the figure client/plot_figures draws for the kind asked.
#ifndef HYPERSWEEP_CLIENT_PLOT_COMMAND_H_
#define HYPERSWEEP_CLIENT_PLOT_COMMAND_H_

#include <string>

#include "absl/status/status.h"
#include "client/commands.h"
#include "client/sweep_client.h"

namespace hypersweep {

struct PlotOptionsCli {
  std::string sweep_id;
  std::string kind;  // curves, lr-finder, schedule, time
  std::string out_path;
  std::string metric;  // "" : the sweep's objective metric
};
// Writes the SVG to options.out_path and "wrote PATH (N series)" to stderr. INVALID_ARGUMENT
// for an unknown kind or an unwritable file; NOT_FOUND when there is nothing to plot yet.
absl::Status RunPlot(SweepClient& client, const PlotOptionsCli& options, Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_PLOT_COMMAND_H_
