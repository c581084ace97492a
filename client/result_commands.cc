#include "client/result_commands.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/points.h"
#include "client/sweep_view.h"
#include "client/trial_row.h"
#include "core/status_macros.h"

namespace hypersweep {

using nlohmann::json;

namespace {

// A standard error as a cell: null (empty in tables and CSV) when undefined, i.e. for one run.
json SeCell(double se) { return std::isfinite(se) ? json(se) : json(); }

v1::Goal GoalFor(const v1::Sweep& sweep, const std::string& metric) {
  return metric == sweep.objective().metric() && sweep.objective().goal() == v1::MAXIMIZE
             ? v1::MAXIMIZE
             : v1::MINIMIZE;
}

absl::StatusOr<v1::TrialStatus> ParseTrialStatus(const std::string& name) {
  v1::TrialStatus s;
  if (v1::TrialStatus_Parse(absl::AsciiStrToUpper(name), &s) && s != v1::TRIAL_STATUS_UNSPECIFIED) {
    return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--status: unknown status '", name,
                   "' (queued, leased, succeeded, diverged, failed, cancelled, pruned)"));
}

// Metric names over all epochs of all trials, sorted.
std::vector<std::string> MetricNames(const std::vector<v1::TrialMetrics>& metrics) {
  std::set<std::string> names;
  for (const auto& t : metrics) {
    for (const auto& e : t.epochs()) {
      for (const auto& [k, v] : e.metrics()) names.insert(k);
    }
  }
  return {names.begin(), names.end()};
}

// The epoch's value of each name, null where it has none.
std::vector<json> MetricCells(const v1::EpochMetrics* e, const std::vector<std::string>& names) {
  std::vector<json> cells;
  cells.reserve(names.size());
  for (const auto& n : names) {
    if (e == nullptr) {
      cells.emplace_back();
      continue;
    }
    auto it = e->metrics().find(n);
    cells.push_back(it == e->metrics().end() ? json() : json(it->second));
  }
  return cells;
}

// {"epoch": N, metric: value...}, non-finite values as null.
json EpochJson(const v1::EpochMetrics& e) {
  json o = {{"epoch", e.epoch()}};
  for (const auto& [k, v] : e.metrics()) o[k] = std::isfinite(v) ? json(v) : json();
  return o;
}

std::vector<std::string> TrialIds(const std::vector<v1::Trial>& trials) {
  std::vector<std::string> ids;
  ids.reserve(trials.size());
  for (const auto& t : trials) ids.push_back(t.id());
  return ids;
}

// `best` over points: mean +- standard error across each point's folds/seeds, per epoch; the
// point whose mean curve reaches the best value wins.
absl::Status BestPoint(SweepClient& client, const v1::Sweep& sweep, const std::string& metric,
                       const std::vector<v1::Trial>& trials, const std::vector<Point>& points,
                       Format format, Io& io) {
  ASSIGN_OR_RETURN(auto metrics, client.GetMetrics(TrialIds(trials), {metric}));
  std::map<std::string, const v1::TrialMetrics*> by_id;
  for (const auto& m : metrics) by_id[m.trial_id()] = &m;
  const bool maximize = GoalFor(sweep, metric) == v1::MAXIMIZE;
  const Point* best = nullptr;
  double best_mean = 0, best_se = 0;
  int64_t best_epoch = -1, best_n = 0;
  for (const auto& p : points) {
    std::vector<const v1::TrialMetrics*> ms;
    for (const auto* t : p.trials) {
      if (auto it = by_id.find(t->id()); it != by_id.end()) ms.push_back(it->second);
    }
    const MetricSeries series = AggregateMetric(ms, metric);
    for (size_t i = 0; i < series.mean.size(); ++i) {
      const double m = series.mean[i];
      if (!std::isfinite(m)) continue;
      if (best == nullptr || (maximize ? m > best_mean : m < best_mean)) {
        best = &p;
        best_mean = m;
        best_se = series.se[i];
        best_epoch = static_cast<int64_t>(series.epoch[i]);
        best_n = series.n[i];
      }
    }
  }
  if (best == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no trial of sweep ", sweep.id(), " has reported ", metric, " yet"));
  }
  std::vector<std::string> tid;
  for (const auto* t : best->trials) tid.push_back(t->id());
  const std::string goal = GoalName(GoalFor(sweep, metric));
  if (format == Format::kJson) {
    json params = json::object();
    for (const auto& [k, v] : best->params) params[k] = v;
    WriteJson({{"point", best->label},
               {"params", params},
               {"metric", metric},
               {"goal", goal},
               {"mean", best_mean},
               {"se", SeCell(best_se)},
               {"epoch", best_epoch},
               {"n", best_n},
               {"trials", tid}},
              *io.out);
    return absl::OkStatus();
  }
  Table table;
  table.columns = {"point", "metric", "goal", "mean", "se", "epoch", "n", "trials"};
  table.AddRow({best->label, metric, goal, best_mean, SeCell(best_se), best_epoch, best_n,
                absl::StrJoin(tid, " ")});
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<v1::Trial>> BestTrial(SweepClient& client, const v1::Sweep& sweep,
                                                   const std::string& metric) {
  v1::ListTrialsRequest req;
  req.set_sweep_id(sweep.id());
  req.set_sort_metric(metric);
  req.set_sort_by(v1::ListTrialsRequest::BEST);
  ASSIGN_OR_RETURN(auto trials, client.ListTrials(req, 1));
  if (trials.empty() || !trials[0].has_best_value()) return std::nullopt;
  return trials[0];
}

absl::Status RunTrials(SweepClient& client, const TrialsOptions& options, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(options.format, io));
  if (options.limit < 0) return absl::InvalidArgumentError("--limit: must be >= 0");
  v1::ListTrialsRequest req;
  req.set_sweep_id(options.sweep_id);
  for (const auto& name : options.statuses) {
    ASSIGN_OR_RETURN(auto s, ParseTrialStatus(name));
    req.add_status(s);
  }
  std::string metric = options.sort_metric;
  if (metric.empty()) {
    // Index order, still showing each trial's best and final value of the sweep's objective.
    ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(options.sweep_id));
    metric = sweep.objective().metric();
    req.set_sort_by(v1::ListTrialsRequest::INDEX);
  }
  req.set_sort_metric(metric);
  ASSIGN_OR_RETURN(auto trials, client.ListTrials(req, options.limit));
  if (format == Format::kJson) {
    json arr = json::array();
    for (const auto& t : trials) arr.push_back(TrialJson(t, kTrialListColumns, metric));
    WriteJson(arr, *io.out);
    return absl::OkStatus();
  }
  WriteTable(TrialTable(trials, kTrialListColumns, metric), format, *io.out);
  return absl::OkStatus();
}

absl::Status RunBest(SweepClient& client, const std::string& sweep_id, const std::string& metric_in,
                     const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(sweep_id));
  const std::string metric = metric_in.empty() ? sweep.objective().metric() : metric_in;
  {
    // Points with several folds or seeds are ranked by the mean over them (the best epoch of the
    // mean curve), the way the curves plot shows them.
    v1::ListTrialsRequest req;
    req.set_sweep_id(sweep_id);
    ASSIGN_OR_RETURN(auto trials, client.ListTrials(req));
    auto points = GroupIntoPoints(trials);
    const bool aggregated = std::any_of(points.begin(), points.end(),
                                        [](const Point& p) { return p.trials.size() > 1; });
    if (aggregated) return BestPoint(client, sweep, metric, trials, points, format, io);
  }
  ASSIGN_OR_RETURN(auto best, BestTrial(client, sweep, metric));
  if (!best) {
    return absl::NotFoundError(
        absl::StrCat("no trial of sweep ", sweep_id, " has reported ", metric, " yet"));
  }
  const std::string goal = GoalName(GoalFor(sweep, metric));
  if (format == Format::kJson) {
    json o = TrialJson(*best, kTrialListColumns, metric);
    o["goal"] = goal;
    WriteJson(o, *io.out);
    return absl::OkStatus();
  }
  Table table = TrialTable({*best}, kTrialListColumns, metric);
  table.columns.push_back("goal");
  for (auto& row : table.rows) row.push_back(goal);
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

absl::Status RunCurves(SweepClient& client, const CurvesOptions& options, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(options.format, io));
  std::vector<std::string> ids = options.trial_ids;
  std::map<std::string, v1::Trial> by_id;
  {
    v1::ListTrialsRequest req;
    req.set_sweep_id(options.sweep_id);
    ASSIGN_OR_RETURN(auto trials, client.ListTrials(req));
    for (auto& t : trials) by_id[t.id()] = t;
    if (ids.empty()) ids = TrialIds(trials);
  }
  for (const auto& id : ids) {
    if (!by_id.count(id)) {
      return absl::NotFoundError(absl::StrCat("trial ", id, " is not in sweep ", options.sweep_id));
    }
  }
  ASSIGN_OR_RETURN(auto metrics, client.GetMetrics(ids, options.metrics));
  const std::vector<std::string> names =
      options.metrics.empty() ? MetricNames(metrics) : options.metrics;
  if (format == Format::kJson) {
    json trials = json::array();
    for (const auto& tm : metrics) {
      json epochs = json::array();
      for (const auto& e : tm.epochs()) epochs.push_back(EpochJson(e));
      trials.push_back({{"trial_id", tm.trial_id()},
                        {"params", ParamsJson(by_id[tm.trial_id()])},
                        {"epochs", std::move(epochs)}});
    }
    WriteJson({{"sweep_id", options.sweep_id}, {"metrics", names}, {"trials", trials}}, *io.out);
    return absl::OkStatus();
  }
  Table table;
  table.columns = {"trial_id", "epoch"};
  table.columns.insert(table.columns.end(), names.begin(), names.end());
  for (const auto& tm : metrics) {
    for (const auto& e : tm.epochs()) {
      std::vector<json> row = {tm.trial_id(), e.epoch()};
      for (auto& cell : MetricCells(&e, names)) row.push_back(std::move(cell));
      table.rows.push_back(std::move(row));
    }
  }
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

absl::Status RunExport(SweepClient& client, const std::string& sweep_id,
                       const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(sweep_id));
  v1::ListTrialsRequest req;
  req.set_sweep_id(sweep_id);
  ASSIGN_OR_RETURN(auto trials, client.ListTrials(req));
  ASSIGN_OR_RETURN(auto metrics, client.GetMetrics(TrialIds(trials), {}));
  std::map<std::string, const v1::TrialMetrics*> metrics_of;
  for (const auto& m : metrics) metrics_of[m.trial_id()] = &m;
  if (format == Format::kJson) {
    json arr = json::array();
    for (const auto& t : trials) {
      json o = TrialJson(t, kTrialExportJsonColumns, "");
      o["spec"] = json::parse(t.spec_json(), nullptr, false);
      json epochs = json::array();
      if (auto it = metrics_of.find(t.id()); it != metrics_of.end()) {
        for (const auto& e : it->second->epochs()) epochs.push_back(EpochJson(e));
      }
      o["epochs"] = std::move(epochs);
      arr.push_back(std::move(o));
    }
    json doc = SweepJson(sweep);
    doc["spec_text"] = sweep.spec_text();
    WriteJson({{"sweep", doc}, {"trials", arr}}, *io.out);
    return absl::OkStatus();
  }
  // One row per trial and epoch (a trial with no epochs gets one row with an empty epoch):
  // sweep_id, the trial's export columns, epoch, its parameters, every metric.
  const auto keys = ParamKeys(trials);
  const auto names = MetricNames(metrics);
  Table table;
  table.columns = {"sweep_id"};
  for (auto& c : TrialColumnNames(kTrialExportColumns)) table.columns.push_back(std::move(c));
  table.columns.push_back("epoch");
  for (auto& c : ParamColumnNames(keys)) table.columns.push_back(std::move(c));
  table.columns.insert(table.columns.end(), names.begin(), names.end());
  for (const auto& t : trials) {
    const std::vector<json> trial_cells = TrialCells(t, kTrialExportColumns, "");
    const std::vector<json> param_cells = ParamCells(t, keys);
    auto emit = [&](const v1::EpochMetrics* e) {
      std::vector<json> row = {sweep_id};
      row.insert(row.end(), trial_cells.begin(), trial_cells.end());
      row.push_back(e ? json(e->epoch()) : json());
      row.insert(row.end(), param_cells.begin(), param_cells.end());
      for (auto& cell : MetricCells(e, names)) row.push_back(std::move(cell));
      table.rows.push_back(std::move(row));
    };
    auto it = metrics_of.find(t.id());
    if (it == metrics_of.end() || it->second->epochs_size() == 0) {
      emit(nullptr);
    } else {
      for (const auto& e : it->second->epochs()) emit(&e);
    }
  }
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

absl::Status RunLrCurve(SweepClient& client, const std::string& trial_id,
                        const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(auto curve, client.GetLrCurve(trial_id));
  if (curve.points_size() == 0) {
    return absl::NotFoundError(absl::StrCat("trial ", trial_id, " has no LR range test curve"));
  }
  Table table;
  table.columns = {"step", "lr", "loss", "smoothed_loss"};
  for (const auto& p : curve.points()) {
    // A diverged step's losses show as empty (null in JSON): it has none.
    const bool has_loss = !p.diverged() && std::isfinite(p.loss());
    table.AddRow({p.step(), p.lr(), has_loss ? json(p.loss()) : json(),
                  has_loss && std::isfinite(p.smoothed_loss()) ? json(p.smoothed_loss()) : json()});
  }
  // An auto-LR range test names the sweep's rule; suggested_lr is that rule's LR (before
  // auto.scale), the one the sweep used.
  const bool has_rule = !curve.rule().empty();
  if (format == Format::kJson) {
    json out = {{"trial_id", trial_id},
                {"suggested_lr", curve.has_suggested_lr() ? json(curve.suggested_lr()) : json()},
                {"points", table.ToJson()}};
    if (has_rule) out["rule"] = curve.rule();
    if (!curve.rule_error().empty()) out["rule_error"] = curve.rule_error();
    WriteJson(out, *io.out);
    return absl::OkStatus();
  }
  WriteTable(table, format, *io.out);
  std::string line =
      has_rule ? absl::StrCat("rule ", curve.rule(), ": ") : std::string("suggested lr: ");
  if (curve.has_suggested_lr()) {
    absl::StrAppend(&line, CellText(curve.suggested_lr()));
  } else {
    absl::StrAppend(&line, "none",
                    curve.rule_error().empty() ? "" : absl::StrCat(" (", curve.rule_error(), ")"));
  }
  (format == Format::kTable ? *io.out : *io.err) << line << "\n";
  return absl::OkStatus();
}

}  // namespace hypersweep
