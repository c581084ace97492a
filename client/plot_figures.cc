#include "client/plot_figures.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/output.h"
#include "client/plot.h"

namespace hypersweep {
namespace {

// A curve as a plot series, with its SE band when it is a mean over several trials.
PlotSeries Series(const FigureCurve& c) {
  PlotSeries s;
  s.label = c.label;
  s.x = c.x;
  s.y = c.y;
  if (c.trials > 1 && c.se.size() == c.y.size()) {
    s.label += absl::StrCat(" (mean of ", c.trials, " ± SE)");
    for (size_t i = 0; i < c.y.size(); ++i) {
      const double se = std::isfinite(c.se[i]) ? c.se[i] : 0;  // one run at this epoch: no band
      s.lower.push_back(c.y[i] - se);
      s.upper.push_back(c.y[i] + se);
    }
  }
  return s;
}

}  // namespace

std::string MetricAxisLabel(const std::string& metric) {
  std::string words = metric;
  for (const auto& [prefix, name] : {std::pair<const char*, const char*>{"val_", "validation "},
                                     {"train_", "training "},
                                     {"test_", "test "}}) {
    if (words.rfind(prefix, 0) == 0) {
      words = absl::StrCat(name, words.substr(std::strlen(prefix)));
      break;
    }
  }
  for (char& c : words) {
    if (c == '_') c = ' ';
  }
  auto ends_with = [&](const std::string& tail) {
    return words.size() >= tail.size() &&
           words.compare(words.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (ends_with("auc")) words = absl::StrCat(words.substr(0, words.size() - 3), "AUC");
  if (ends_with("ams")) words = absl::StrCat(words.substr(0, words.size() - 3), "AMS");
  if (ends_with("accuracy") || ends_with("AUC")) return absl::StrCat(words, " (fraction)");
  if (ends_with("seconds")) return absl::StrCat(words.substr(0, words.size() - 7), "time (s)");
  if (ends_with("samples per second")) return absl::StrCat(words, " (1/s)");
  if (words == "lr") return "learning rate";
  return words;
}

std::string RenderSweepFigure(SweepFigure kind, const std::string& sweep_name,
                              const std::string& metric, const std::vector<FigureCurve>& curves) {
  PlotOptions po;
  switch (kind) {
    case SweepFigure::kCurves:
      po.title = absl::StrCat(sweep_name, ": ", metric, " per epoch");
      po.x_label = "epoch";
      po.y_label = MetricAxisLabel(metric);
      break;
    case SweepFigure::kTime:
      po.title = absl::StrCat(sweep_name, ": ", metric, " against training time");
      po.x_label = "wall-clock training time (s)";
      po.y_label = MetricAxisLabel(metric);
      break;
    case SweepFigure::kSchedules:
      po.title = absl::StrCat(sweep_name, ": learning-rate schedules");
      po.x_label = "epoch";
      po.y_label = "learning rate";
      break;
  }
  std::vector<PlotSeries> series;
  series.reserve(curves.size());
  for (const auto& c : curves) series.push_back(Series(c));
  return RenderSvg(series, po);
}

std::string RenderObjectiveHistoryFigure(const std::string& sweep_name, const std::string& metric,
                                         bool maximize, const std::vector<double>& values) {
  PlotOptions po;
  po.title = absl::StrCat(sweep_name, ": ", metric, " over completed trials");
  po.x_label = "completed trial (n-th)";
  po.y_label = MetricAxisLabel(metric);
  PlotSeries each, best;
  each.label = absl::StrCat("each trial's best ", metric);
  best.label = absl::StrCat("best so far (", maximize ? "maximize" : "minimize", ")");
  double so_far = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    so_far = i == 0 ? v : (maximize ? std::max(so_far, v) : std::min(so_far, v));
    each.x.push_back(static_cast<double>(i + 1));
    each.y.push_back(v);
    best.x.push_back(static_cast<double>(i + 1));
    best.y.push_back(so_far);
  }
  return RenderSvg({each, best}, po);
}

std::string RenderParallelCoordinatesFigure(const std::string& sweep_name,
                                            const std::vector<std::string>& axes,
                                            const std::vector<std::vector<double>>& rows,
                                            bool maximize) {
  constexpr double kWidth = 800, kHeight = 480, kPad = 20, kTop = 60, kBottom = 400;
  constexpr double kFont = 12, kTitleFont = 15;
  const size_t n = axes.size();
  // Each axis's range (log10 when its values are positive and span more than two decades).
  struct Range {
    double lo = 0, hi = 0;
    bool log = false;
    bool any = false;
  };
  std::vector<Range> ranges(n);
  for (size_t j = 0; j < n; ++j) {
    Range& r = ranges[j];
    bool positive = true;
    for (const auto& row : rows) {
      if (j >= row.size() || !std::isfinite(row[j])) continue;
      const double v = row[j];
      r.lo = r.any ? std::min(r.lo, v) : v;
      r.hi = r.any ? std::max(r.hi, v) : v;
      r.any = true;
      positive = positive && v > 0;
    }
    r.log = r.any && positive && r.hi / r.lo > 100;
  }
  const double span = n > 1 ? (kWidth - 2 * 60) / static_cast<double>(n - 1) : 0;
  auto x_of = [&](size_t j) { return n > 1 ? 60 + span * static_cast<double>(j) : kWidth / 2; };
  auto y_of = [&](size_t j, double v) {
    const Range& r = ranges[j];
    double lo = r.lo, hi = r.hi;
    if (r.log) {
      lo = std::log10(lo);
      hi = std::log10(hi);
      v = std::log10(v);
    }
    const double f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return kBottom - f * (kBottom - kTop);
  };
  auto num = [](double v) { return absl::StrFormat("%.4g", v); };
  auto px = [](double v) { return absl::StrFormat("%.1f", v); };
  std::string svg = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"",
      kWidth, "\" height=\"", kHeight, "\" viewBox=\"0 0 ", kWidth, " ", kHeight,
      "\" font-family=\"sans-serif\" font-size=\"", kFont, "\">\n<rect x=\"0\" y=\"0\" width=\"",
      kWidth, "\" height=\"", kHeight, "\" fill=\"white\"/>\n<text x=\"", kWidth / 2,
      "\" y=\"25\" "
      "font-size=\"",
      kTitleFont, "\" text-anchor=\"middle\">",
      XmlEscape(FitText(absl::StrCat(sweep_name, ": parameters and ",
                                     axes.empty() ? std::string("objective") : axes.back()),
                        kTitleFont, kWidth - 2 * kPad)),
      "</text>\n");
  // Lines first, worst first, so the best are drawn on top.
  const size_t obj = n == 0 ? 0 : n - 1;
  std::vector<size_t> order;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (n > 0 && obj < rows[i].size() && std::isfinite(rows[i][obj])) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return maximize ? rows[a][obj] < rows[b][obj] : rows[a][obj] > rows[b][obj];
  });
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& row = rows[order[k]];
    // k / (count - 1): 0 for the worst, 1 for the best.
    const double t = order.size() > 1 ? static_cast<double>(k) / (order.size() - 1) : 1.0;
    const int shade = static_cast<int>(std::lround(200 - 170 * t));
    std::string d;
    for (size_t j = 0; j < n && j < row.size(); ++j) {
      if (!std::isfinite(row[j]) || !ranges[j].any) continue;
      absl::StrAppend(&d, d.empty() ? "M" : " L", px(x_of(j)), ",", px(y_of(j, row[j])));
    }
    absl::StrAppend(&svg, "<path class=\"trial\" data-objective=\"", num(row[obj]), "\" d=\"", d,
                    "\" fill=\"none\" stroke=\"rgb(", shade, ",", shade, ",", 255 - shade / 4,
                    ")\" stroke-width=\"1.5\"/>\n");
  }
  const double label_width = n > 1 ? span - 8 : kWidth - 2 * kPad;
  for (size_t j = 0; j < n; ++j) {
    const double x = x_of(j);
    absl::StrAppend(
        &svg, "<g class=\"axis\" data-axis=\"", XmlEscape(axes[j]), "\"><line x1=\"", px(x),
        "\" y1=\"", kTop, "\" x2=\"", px(x), "\" y2=\"", kBottom,
        "\" stroke=\"black\"/>\n<text x=\"", px(x), "\" y=\"", kBottom + 30,
        "\" text-anchor=\"middle\">",
        XmlEscape(FitText(axes[j] + (ranges[j].log ? " (log)" : ""), kFont, label_width)),
        "</text>\n");
    if (ranges[j].any) {
      absl::StrAppend(&svg, "<text x=\"", px(x), "\" y=\"", kTop - 6, "\" text-anchor=\"middle\">",
                      XmlEscape(FitText(num(ranges[j].hi), kFont, label_width)),
                      "</text>\n<text x=\"", px(x), "\" y=\"", kBottom + 14,
                      "\" text-anchor=\"middle\">",
                      XmlEscape(FitText(num(ranges[j].lo), kFont, label_width)), "</text>\n");
    }
    absl::StrAppend(&svg, "</g>\n");
  }
  absl::StrAppend(&svg, "<text x=\"", kWidth / 2, "\" y=\"", kHeight - 15,
                  "\" text-anchor=\"middle\">",
                  XmlEscape(FitText(absl::StrCat("one line per completed trial; darker is better (",
                                                 maximize ? "higher" : "lower", ")"),
                                    kFont, kWidth - 2 * kPad)),
                  "</text>\n</svg>\n");
  return svg;
}

std::string RenderLrFinderFigure(const std::string& sweep_name,
                                 const std::vector<LrRangeCurve>& curves,
                                 const std::vector<double>& used_lrs) {
  PlotOptions po;
  po.title = absl::StrCat(sweep_name, ": LR range test");
  po.x_label = "learning rate";
  po.y_label = "training loss (smoothed)";
  po.log_x = true;
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
  for (const auto& c : curves) {
    PlotSeries s;
    s.label = c.label;
    s.x = c.lr;
    s.y = c.smoothed_loss;
    double lowest = std::numeric_limits<double>::infinity();
    for (double loss : c.smoothed_loss) lowest = std::min(lowest, loss);
    if (std::isfinite(lowest) && lowest > 0) {
      po.y_max = std::max(po.y_max.value_or(0), 4 * lowest);
    }
    if (c.suggested_lr) {
      const std::string lr = CellText(*c.suggested_lr);
      const std::string by = c.rule.empty() ? "" : absl::StrCat(" (rule ", c.rule, ")");
      markers.push_back({*c.suggested_lr, absl::StrCat("suggested ", lr, by)});
      s.label += absl::StrCat(" (", c.rule.empty() ? "suggests" : c.rule, " ", lr, ")");
    }
    series.push_back(std::move(s));
  }
  for (const double lr : used_lrs) markers.push_back({lr, absl::StrCat("used LR ", CellText(lr))});
  return RenderSvg(series, po, markers);
}

std::string RenderSchedulePreview(const std::string& schedule_name, int64_t steps,
                                  const FigureCurve& lr) {
  PlotOptions po;
  po.title = absl::StrCat(schedule_name, " schedule, ", steps, " steps");
  po.x_label = "epoch";
  po.y_label = "learning rate";
  return RenderSvg({Series(lr)}, po);
}

}  // namespace hypersweep
