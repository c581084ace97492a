// Self-contained SVG line plots (no external program): axes with ticks and labels, linear or log
// axes, one <path class="series"> per series, an optional shaded mean +- SE band per series
// (<path class="band">), vertical markers and a legend below the plot. Every text is placed (and
// if need be shortened with an ellipsis) by TextWidth's conservative estimate so that none leaves
// the canvas. Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_PLOT_H_
#define HYPERSWEEP_CLIENT_PLOT_H_

#include <optional>
#include <string>
#include <vector>

namespace hypersweep {

struct PlotSeries {
  std::string label;  // legend text
  std::vector<double> x;
  std::vector<double> y;
  // Optional band around y (e.g. mean +- standard error); empty or same size as y.
  std::vector<double> lower;
  std::vector<double> upper;
};

// A vertical dashed line at x (e.g. the suggested learning rate), labelled.
struct PlotMarker {
  double x = 0;
  std::string label;
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // log10 axis; non-positive x values are dropped
  bool log_y = false;
  // Clip the y axis at this value: higher points are drawn on the top edge (e.g. an LR range
  // test's loss explosion). Unset: fit all points.
  std::optional<double> y_max;
  int width = 800;  // pixels
  // Pixels without the legend: the legend goes below the x label, in as many rows as it needs,
  // and the canvas grows by them.
  int height = 500;
};

// Renders the plot. Points whose x or y is not finite (or not positive on a log axis) are
// skipped; a series left with no points still gets its legend entry but no path. The output is a
// complete, well-formed SVG document.
std::string RenderSvg(const std::vector<PlotSeries>& series, const PlotOptions& options,
                      const std::vector<PlotMarker>& markers = {});

// Tick positions for a linear axis over [lo, hi]: about `target` "nice" values (1, 2, 5 x 10^k).
std::vector<double> LinearTicks(double lo, double hi, int target = 6);
// Tick positions for a log10 axis over [lo, hi] (lo > 0): the powers of ten inside, or when
// there are fewer than two, 1-2-5 multiples.
std::vector<double> LogTicks(double lo, double hi);

// The width in pixels that `text` (UTF-8) takes at `font_size` in the plots' font, an estimate that
// errs wide so that layout built on it never clips: a per-glyph table in ems for ASCII, rounded up
// from DejaVu Sans (the widest of the usual "sans-serif" fonts: Linux's default; Arial, Helvetica
// and Liberation Sans are narrower), in five classes: 0.34 em (i j l I J | ! ' . , : ; space),
// 0.45 (f r t ( ) [ ] { } / \ - "), 0.84 (capitals and = + < > ~ ^ & #), 1.0 (m w M W % @, and
// every non-ASCII code point such as ± or an arrow), 0.66 for everything else (lower case,
// digits, _ and the rest).
double TextWidth(const std::string& text, double font_size);
// `text` itself when TextWidth(text) <= max_width, else its longest prefix (whole code points)
// followed by "…" that fits ("" when not even that does).
std::string FitText(const std::string& text, double font_size, double max_width);

// Escapes &, <, >, " and ' for XML text and attribute values.
std::string XmlEscape(const std::string& text);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_PLOT_H_
