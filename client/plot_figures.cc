#include "client/plot_figures.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
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

std::string RenderLrFinderFigure(const std::string& sweep_name,
                                 const std::vector<LrRangeCurve>& curves) {
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
