#include "client/plot_command.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/plot_figures.h"
#include "client/points.h"
#include "core/metrics.h"
#include "core/schedule.h"
#include "core/status_macros.h"
#include "core/trial_spec.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

// Points per schedule curve.
constexpr int64_t kScheduleMaxPoints = 1000;
// Steps per epoch assumed for a trial that has not reported any yet: the shape of a schedule
// hardly depends on it.
constexpr int64_t kDefaultStepsPerEpoch = 100;

using MetricsById = std::map<std::string, const v1::TrialMetrics*>;

FigureCurve MeanCurve(const std::string& label, const MetricSeries& m) {
  FigureCurve c;
  c.label = label;
  c.x = m.epoch;
  c.y = m.mean;
  c.se = m.se;
  c.trials = m.n.empty() ? 0 : *std::max_element(m.n.begin(), m.n.end());
  return c;
}

std::vector<const v1::TrialMetrics*> MetricsOf(const Point& p, const MetricsById& metrics_of) {
  std::vector<const v1::TrialMetrics*> out;
  for (const v1::Trial* t : p.trials) {
    if (auto it = metrics_of.find(t->id()); it != metrics_of.end()) out.push_back(it->second);
  }
  return out;
}

// The metric against the mean elapsed training seconds at each epoch; nullopt when no epoch has
// both.
std::optional<FigureCurve> TimeCurve(const Point& p, const MetricsById& metrics_of,
                                     const std::string& metric) {
  const auto pm = MetricsOf(p, metrics_of);
  const MetricSeries m = AggregateMetric(pm, metric);
  const MetricSeries secs = AggregateMetric(pm, "elapsed_seconds");
  std::map<double, double> t_of;
  for (size_t i = 0; i < secs.epoch.size(); ++i) t_of[secs.epoch[i]] = secs.mean[i];
  MetricSeries timed;
  for (size_t i = 0; i < m.epoch.size(); ++i) {
    auto it = t_of.find(m.epoch[i]);
    if (it == t_of.end()) continue;
    timed.epoch.push_back(it->second);
    timed.mean.push_back(m.mean[i]);
    timed.se.push_back(m.se[i]);
    timed.n.push_back(m.n[i]);
  }
  if (timed.epoch.empty()) return std::nullopt;
  return MeanCurve(p.label, timed);
}

// The learning rate the point's (first) trial trains with, per fractional epoch; nullopt when its
// spec cannot be read. Steps per epoch come from its reported "steps" metric.
std::optional<FigureCurve> ScheduleCurve(const Point& p, const MetricsById& metrics_of,
                                         std::ostream& warnings) {
  const v1::Trial* t = p.trials.front();
  ParseOptions parse_options;
  parse_options.allow_auto = true;
  auto spec = ParseTrialSpec(t->spec_json(), parse_options);
  if (!spec.ok()) return std::nullopt;
  int64_t spe = 0;
  if (auto it = metrics_of.find(t->id()); it != metrics_of.end()) {
    for (const auto& e : it->second->epochs()) {
      auto st = e.metrics().find(metrics::kSteps);
      if (st != e.metrics().end() && e.epoch() >= 0) {
        spe = static_cast<int64_t>(std::llround(st->second / (e.epoch() + 1)));
        break;
      }
    }
  }
  if (spe < 1) spe = kDefaultStepsPerEpoch;
  ScheduleTableOptions options;
  options.steps = spec->epochs * spe;
  options.steps_per_epoch = spe;
  options.momentum = spec->momentum;
  options.max_rows = kScheduleMaxPoints;
  auto rows = ScheduleTable(spec->schedule, options);
  if (!rows.ok()) {
    warnings << "skipping " << p.label << ": " << rows.status().message() << "\n";
    return std::nullopt;
  }
  FigureCurve c;
  c.label = p.label;
  for (const auto& r : *rows) {
    c.x.push_back(static_cast<double>(r.step) / spe);
    c.y.push_back(r.lr);
  }
  return c;
}

// Curves of `kind` (curves, time or schedule), one per point that has something to show.
absl::StatusOr<std::vector<FigureCurve>> PointCurves(SweepClient& client, SweepFigure kind,
                                                     const std::vector<v1::Trial>& trials,
                                                     const std::vector<Point>& points,
                                                     const std::string& metric,
                                                     std::ostream& warnings) {
  std::vector<std::string> ids;
  for (const auto& t : trials) ids.push_back(t.id());
  ASSIGN_OR_RETURN(auto metrics,
                   client.GetMetrics(ids, {metric, metrics::kElapsedSeconds, metrics::kSteps}));
  MetricsById metrics_of;
  for (const auto& m : metrics) metrics_of[m.trial_id()] = &m;
  std::vector<FigureCurve> curves;
  for (const auto& p : points) {
    std::optional<FigureCurve> c;
    if (kind == SweepFigure::kCurves) {
      const MetricSeries m = AggregateMetric(MetricsOf(p, metrics_of), metric);
      if (!m.epoch.empty()) c = MeanCurve(p.label, m);
    } else if (kind == SweepFigure::kTime) {
      c = TimeCurve(p, metrics_of, metric);
    } else {
      c = ScheduleCurve(p, metrics_of, warnings);
    }
    if (c) curves.push_back(std::move(*c));
  }
  return curves;
}

// Each LR range test trial's curve (a trial of a point with several gets its seed in the label).
absl::StatusOr<std::vector<LrRangeCurve>> LrRangeCurves(SweepClient& client,
                                                        const std::vector<Point>& points) {
  std::vector<LrRangeCurve> curves;
  for (const auto& p : points) {
    for (const v1::Trial* t : p.trials) {
      ASSIGN_OR_RETURN(auto curve, client.GetLrCurve(t->id()));
      if (curve.points_size() == 0) continue;
      LrRangeCurve c;
      c.label = p.trials.size() > 1 ? absl::StrCat(p.label, ", seed ", t->seed()) : p.label;
      for (const auto& q : curve.points()) {
        if (q.diverged() || !std::isfinite(q.smoothed_loss())) continue;
        c.lr.push_back(q.lr());
        c.smoothed_loss.push_back(q.smoothed_loss());
      }
      if (curve.has_suggested_lr()) c.suggested_lr = curve.suggested_lr();
      c.rule = curve.rule();
      curves.push_back(std::move(c));
    }
  }
  return curves;
}

// The peak learning rate of a trial's schedule ({"schedule": {KIND: {"max_lr": x}}}, or "lr" for
// a constant one); nullopt when the spec has neither.
std::optional<double> ScheduleMaxLr(const std::string& spec_json) {
  const auto spec = nlohmann::json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object() || !spec.contains("schedule") || !spec["schedule"].is_object()) {
    return std::nullopt;
  }
  for (const auto& [kind, params] : spec["schedule"].items()) {
    if (!params.is_object()) continue;
    for (const char* key : {"max_lr", "lr"}) {
      if (params.contains(key) && params[key].is_number()) return params[key].get<double>();
    }
  }
  return std::nullopt;
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path);
  if (!out) return absl::InvalidArgumentError(absl::StrCat("--out: cannot write '", path, "'"));
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("writing '", path, "' failed"));
  return absl::OkStatus();
}

bool IsPlotKind(const std::string& kind) {
  static const auto* kKinds = new std::set<std::string>{"curves", "lr-finder",         "schedule",
                                                        "time",   "objective-history", "parallel"};
  return kKinds->count(kind) > 0;
}

absl::Status UnknownKind(const std::string& kind) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--kind: expected curves, lr-finder, schedule, time, objective-history or parallel, got '",
      kind, "'"));
}

}  // namespace

absl::StatusOr<PlotResult> BuildPlot(SweepClient& client, const std::string& sweep_id,
                                     const std::string& kind, const std::string& metric_name,
                                     std::ostream& warnings) {
  if (!IsPlotKind(kind)) return UnknownKind(kind);
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(sweep_id));
  const std::string metric = metric_name.empty() ? sweep.objective().metric() : metric_name;
  v1::ListTrialsRequest req;
  req.set_sweep_id(sweep_id);
  // Sorting by the metric makes the store fill in each trial's best value of it.
  if (kind == "objective-history" || kind == "parallel") req.set_sort_metric(metric);
  ASSIGN_OR_RETURN(auto all_trials, client.ListTrials(req));
  // LR range tests are plotted only by lr-finder, and lr-finder plots only them.
  const bool lr_finder = kind == "lr-finder";
  std::vector<v1::Trial> trials;
  std::set<double> used;  // the LRs that trials with a resolved `auto` LR ran with
  for (auto& t : all_trials) {
    if (lr_finder && t.role() == v1::TRAIN && t.has_lr_spread()) {
      if (auto lr = ScheduleMaxLr(t.spec_json())) used.insert(*lr);
    }
    if ((t.schedule() == "lr_range_test") == lr_finder) trials.push_back(std::move(t));
  }
  const std::vector<double> used_lrs(used.begin(), used.end());
  if (trials.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "sweep ", sweep_id, " has no ", lr_finder ? "LR range test trials" : "trials", " to plot"));
  }
  if (kind == "objective-history") {
    // Each completed trial's best objective value, in trial order (no finish times on the wire).
    std::sort(trials.begin(), trials.end(),
              [](const v1::Trial& a, const v1::Trial& b) { return a.index() < b.index(); });
    std::vector<double> values;
    for (const auto& t : trials) {
      const bool final = t.status() != v1::QUEUED && t.status() != v1::LEASED;
      if (final && t.has_best_value() && std::isfinite(t.best_value())) {
        values.push_back(t.best_value());
      }
    }
    if (values.empty()) {
      return absl::NotFoundError(absl::StrCat("nothing to plot for sweep ", sweep_id,
                                              " (no completed trial with ", metric, " yet)"));
    }
    PlotResult result;
    result.series = 2;
    result.svg = RenderObjectiveHistoryFigure(sweep.name(), metric,
                                              sweep.objective().goal() == v1::MAXIMIZE, values);
    return result;
  }
  if (kind == "parallel") {
    // Completed trials with a value; axes: the parameters that are numbers in all of them and
    // take more than one value (not seed or fold: they are repetitions, not choices).
    std::vector<const v1::Trial*> done;
    for (const auto& t : trials) {
      const bool final = t.status() != v1::QUEUED && t.status() != v1::LEASED;
      if (final && t.has_best_value() && std::isfinite(t.best_value())) done.push_back(&t);
    }
    std::sort(done.begin(), done.end(),
              [](const v1::Trial* a, const v1::Trial* b) { return a->index() < b->index(); });
    auto number = [](const std::string& text, double* v) {
      char* end = nullptr;
      *v = std::strtod(text.c_str(), &end);
      return !text.empty() && end == text.c_str() + text.size() && std::isfinite(*v);
    };
    std::set<std::string> keys;
    for (const auto* t : done) {
      for (const auto& [k, unused] : t->params()) keys.insert(k);
    }
    std::vector<std::string> axes;
    for (const auto& k : keys) {
      if (k == "seed" || k == "fold") continue;
      std::set<double> distinct;
      bool numeric = true;
      for (const auto* t : done) {
        auto it = t->params().find(k);
        double v;
        if (it == t->params().end() || !number(it->second, &v)) {
          numeric = false;
          break;
        }
        distinct.insert(v);
      }
      if (numeric && distinct.size() > 1) axes.push_back(k);
    }
    if (done.empty() || axes.empty()) {
      return absl::NotFoundError(
          absl::StrCat("nothing to plot for sweep ", sweep_id,
                       done.empty() ? " (no completed trial with a value yet)"
                                    : " (no numeric parameter takes more than one value)"));
    }
    std::vector<std::vector<double>> rows;
    for (const auto* t : done) {
      std::vector<double> row;
      for (const auto& k : axes) {
        double v = 0;
        number(t->params().at(k), &v);
        row.push_back(v);
      }
      row.push_back(t->best_value());
      rows.push_back(std::move(row));
    }
    axes.push_back(metric);
    PlotResult result;
    result.series = rows.size();
    result.svg = RenderParallelCoordinatesFigure(sweep.name(), axes, rows,
                                                 sweep.objective().goal() == v1::MAXIMIZE);
    return result;
  }
  const auto points = GroupIntoPoints(trials);
  const SweepFigure figure = kind == "time"       ? SweepFigure::kTime
                             : kind == "schedule" ? SweepFigure::kSchedules
                                                  : SweepFigure::kCurves;
  PlotResult result;
  if (lr_finder) {
    ASSIGN_OR_RETURN(auto curves, LrRangeCurves(client, points));
    result.series = curves.size();
    if (result.series > 0) result.svg = RenderLrFinderFigure(sweep.name(), curves, used_lrs);
  } else {
    ASSIGN_OR_RETURN(auto curves, PointCurves(client, figure, trials, points, metric, warnings));
    result.series = curves.size();
    if (result.series > 0) result.svg = RenderSweepFigure(figure, sweep.name(), metric, curves);
  }
  if (result.series == 0) {
    return absl::NotFoundError(absl::StrCat("nothing to plot for sweep ", sweep_id, " (no ",
                                            lr_finder ? "LR curves" : metric, " reported yet)"));
  }
  return result;
}

absl::Status RunPlot(SweepClient& client, const PlotOptionsCli& options, Io& io) {
  if (!IsPlotKind(options.kind)) return UnknownKind(options.kind);
  if (options.out_path.empty()) return absl::InvalidArgumentError("--out: required");
  ASSIGN_OR_RETURN(const PlotResult plot,
                   BuildPlot(client, options.sweep_id, options.kind, options.metric, *io.err));
  RETURN_IF_ERROR(WriteFile(options.out_path, plot.svg));
  *io.err << "wrote " << options.out_path << " (" << plot.series << " series)\n";
  return absl::OkStatus();
}

}  // namespace hypersweep
