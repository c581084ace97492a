// The CLI's figures: how each kind of plot looks (title, axes, legend text, mean +- SE bands,
// suggested-LR markers, clipping) given the series a command assembled. Commands fetch and
// assemble data; these functions decide the drawing and render it with RenderSvg (client/plot.h).
// Each returns a complete SVG document. Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_PLOT_FIGURES_H_
#define HYPERSWEEP_CLIENT_PLOT_FIGURES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hypersweep {

// One curve of a figure: y against x, possibly the mean over several trials.
struct FigureCurve {
  std::string label;  // the point's label ("1cycle max_lr 0.096, batch 256": client/series_label)
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> se;  // empty, or the standard error of each y
  // The most trials averaged into one y. Above 1 the legend says "(mean of N ± SE)" and the
  // curve gets a y +- se band.
  int trials = 1;
};

// One LR range test: smoothed loss against learning rate.
struct LrRangeCurve {
  std::string label;
  std::vector<double> lr;  // diverged steps already left out
  std::vector<double> smoothed_loss;
  std::optional<double> suggested_lr;  // marked, and named in the legend
  std::string rule;  // the rule that suggested it (the sweep's auto rule), if known
};

enum class SweepFigure {
  kCurves,     // the metric per epoch
  kTime,       // the metric against wall-clock training seconds (x)
  kSchedules,  // each point's learning rate per epoch (metric unused)
};

// A metric's axis label in words with its unit where it has one: "validation loss",
// "validation accuracy (fraction)", "elapsed time (s)", "learning rate"; other names with
// their underscores as spaces.
std::string MetricAxisLabel(const std::string& metric);

// A figure of a sweep named `sweep_name`, one curve per point. Axes: "epoch" or "wall-clock
// training time (s)" against MetricAxisLabel(metric), or "learning rate" per epoch.
std::string RenderSweepFigure(SweepFigure kind, const std::string& sweep_name,
                              const std::string& metric, const std::vector<FigureCurve>& curves);

// The objective over completed trials, in trial order: each trial's best value of `metric` and
// the best so far (lower is better unless `maximize`). x: "completed trial (n-th)".
std::string RenderObjectiveHistoryFigure(const std::string& sweep_name, const std::string& metric,
                                         bool maximize, const std::vector<double>& values);

// Parallel coordinates: one vertical axis per name in `axes` (parameters, then the objective
// last), one polyline per row (rows[i][j]: row i's value on axis j; NaN: not drawn on that axis),
// coloured by its objective value from dark (best) to light (worst). An axis whose positive
// values span more than two decades is logarithmic. Each axis is labelled with its name, its
// lowest and highest value.
std::string RenderParallelCoordinatesFigure(const std::string& sweep_name,
                                            const std::vector<std::string>& axes,
                                            const std::vector<std::vector<double>>& rows,
                                            bool maximize);

// The LR range tests of a sweep: log-lr axis, the loss axis clipped at 4x the lowest loss of any
// curve (like fastai's plot: the explosion is clipped, not the scale), a marker per suggestion.
// `used_lrs`: the learning rates the sweep's trials ran with after the range tests (their
// resolved `auto` max_lr), each marked "used LR x" next to the suggestions.
std::string RenderLrFinderFigure(const std::string& sweep_name,
                                 const std::vector<LrRangeCurve>& curves,
                                 const std::vector<double>& used_lrs = {});

// `hypersweep schedule --format svg`: one schedule's learning rate per epoch; the title names the
// schedule kind and the number of steps.
std::string RenderSchedulePreview(const std::string& schedule_name, int64_t steps,
                                  const FigureCurve& lr);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_PLOT_FIGURES_H_
