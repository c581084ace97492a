#include "client/sweep_commands.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/progress.h"
#include "client/result_commands.h"
#include "client/sweep_view.h"
#include "core/status_macros.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"

namespace hypersweep {

using nlohmann::json;

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Columns of a dry run's expansion, before its "param.<key>" columns.
const std::vector<std::string>& DryRunColumns() {
  static const auto* columns =
      new std::vector<std::string>{"index", "batch_size", "schedule", "epochs", "seed", "fold"};
  return *columns;
}

std::vector<json> DryRunCells(size_t index, const ExpandedTrial& e) {
  return {static_cast<int64_t>(index),
          e.spec.batch_size,
          ScheduleName(e.spec.schedule),
          e.spec.epochs,
          e.spec.seed,
          e.spec.validation.kind == ValidationSpec::Kind::kKFold ? json(e.spec.validation.fold)
                                                                 : json()};
}

// Most trials `submit --dry-run` lists; `count` says how many the sweep has.
constexpr int64_t kMaxDryRunRows = 100'000;

// `submit --dry-run`: the expansion, one row per trial (JSON: a document with every trial, up to
// kMaxDryRunRows).
absl::Status PrintDryRun(const SweepSpec& spec, Format format, Io& io) {
  if (IsTpe(spec)) {
    // TPE points are proposed as results arrive: only how many can be said in advance.
    const int64_t total = CountTrials(spec);
    if (format == Format::kJson) {
      WriteJson({{"name", spec.name},
                 {"count", total},
                 {"adaptive_points", spec.tpe.trials},
                 {"trials_per_point", TrialsPerPoint(spec)},
                 {"range_tests_per_point", HasAutoLr(spec) ? spec.auto_lr.range_tests : 0},
                 {"parallel", spec.tpe.parallel},
                 {"startup_points", std::min(spec.tpe.startup_trials, spec.tpe.trials)},
                 {"trials", json::array()}},
                *io.out);
      return absl::OkStatus();
    }
    (format == Format::kTable ? *io.out : *io.err)
        << spec.tpe.trials << " points will be proposed adaptively (tpe: at most "
        << spec.tpe.parallel << " at a time, the first "
        << std::min(spec.tpe.startup_trials, spec.tpe.trials) << " at random), "
        << TrialsPerPoint(spec) << " trials each"
        << (HasAutoLr(spec) ? absl::StrCat(" after ", spec.auto_lr.range_tests,
                                           " LR range tests of its own (auto LR)")
                            : std::string())
        << ": " << total << " trials (dry run: nothing queued)\n";
    return absl::OkStatus();
  }
  // The rows shown are bounded (the coordinator makes a large sweep's trials as they run).
  const int64_t count = CountTrials(spec);
  const int64_t shown = std::min(count, kMaxDryRunRows);
  std::vector<ExpandedTrial> expanded;
  expanded.reserve(static_cast<size_t>(shown));
  for (auto& t : ExpandRange(spec, 0, shown)) {
    if (!t.ok()) return t.status();
    expanded.push_back(*std::move(t));
  }
  const std::string more =
      shown < count ? absl::StrCat(" (the first ", shown, " shown)") : std::string();
  if (format == Format::kJson) {
    json trials = json::array();
    for (size_t i = 0; i < expanded.size(); ++i) {
      json o = RowJson(DryRunColumns(), DryRunCells(i, expanded[i]));
      json params = json::object();
      for (const auto& [k, v] : expanded[i].params) params[k] = v;
      o["params"] = std::move(params);
      trials.push_back(std::move(o));
    }
    WriteJson({{"name", spec.name}, {"count", count}, {"trials", trials}}, *io.out);
    return absl::OkStatus();
  }
  std::set<std::string> keys;
  for (const auto& e : expanded) {
    for (const auto& [k, v] : e.params) keys.insert(k);
  }
  Table table;
  table.columns = DryRunColumns();
  for (const auto& k : keys) table.columns.push_back("param." + k);
  for (size_t i = 0; i < expanded.size(); ++i) {
    std::vector<json> row = DryRunCells(i, expanded[i]);
    std::map<std::string, std::string> params(expanded[i].params.begin(), expanded[i].params.end());
    for (const auto& k : keys) {
      auto it = params.find(k);
      row.push_back(it == params.end() ? json() : json(it->second));
    }
    table.rows.push_back(std::move(row));
  }
  (format == Format::kTable ? *io.out : *io.err)
      << count << " trials (dry run: nothing queued)" << more << "\n";
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

// Follows a sweep until it ends; progress on stderr (a redrawn bar on a terminal, a line per
// finished trial otherwise). Returns the last state seen.
absl::StatusOr<v1::Sweep> FollowProgress(SweepClient& client, const std::string& sweep_id, Io& io) {
  v1::Sweep last;
  int64_t last_done = -1;
  RETURN_IF_ERROR(client.Watch(sweep_id, [&](const v1::SweepEvent& e) {
    last = e.sweep();
    const int64_t done = DoneTrials(last.counts());
    if (io.err_is_terminal) {
      *io.err << "\r\033[K" << ProgressLine(last, absl::Now()) << std::flush;
    } else if (done != last_done) {
      *io.err << done << "/" << last.counts().total() << " trials done\n";
    }
    last_done = done;
  }));
  if (io.err_is_terminal) *io.err << "\n";
  return last;
}

}  // namespace

absl::Status RunSubmit(const SubmitOptions& options, const ConnectFn& connect, Io& io) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(options.spec_path));
  ASSIGN_OR_RETURN(const Format format, FormatFor(options.format, io));
  // Validate locally with the server's parser, so a bad spec fails fast and offline.
  auto spec = ParseSweepSpec(text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(),
                        absl::StrCat(options.spec_path, ": ", spec.status().message()));
  }
  if (options.dry_run) return PrintDryRun(*spec, format, io);
  ASSIGN_OR_RETURN(auto client, connect());
  ASSIGN_OR_RETURN(auto resp, client->Submit(text, false));
  const v1::Sweep& sweep = resp.sweep();
  if (format == Format::kJson) {
    WriteJson(SweepJson(sweep), *io.out);
  } else {
    *io.out << sweep.id() << "\n";
  }
  io.out->flush();
  *io.err << "submitted " << sweep.name() << ": " << sweep.counts().total() << " trials\n";
  if (!options.wait) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto last, FollowProgress(*client, sweep.id(), io));
  *io.err << StateName(last.state()) << ": " << CountsLine(last.counts()) << "\n";
  if (last.state() == v1::SWEEP_CANCELLED) {
    return absl::AbortedError(absl::StrCat("sweep ", sweep.id(), " was cancelled"));
  }
  if (last.state() == v1::SWEEP_PAUSED) {
    return absl::FailedPreconditionError(absl::StrCat("sweep ", sweep.id(), " ", WaitReason(last)));
  }
  return absl::OkStatus();
}

absl::Status RunList(SweepClient& client, const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(auto sweeps, client.ListSweeps());
  Table table;
  table.columns = {"id",     "name",   "state",  "done",      "total", "succeeded",
                   "failed", "queued", "leased", "objective", "goal",  "created"};
  for (const auto& s : sweeps) {
    const auto& c = s.counts();
    table.AddRow({s.id(), s.name(), StateName(s.state()), DoneTrials(c), c.total(), c.succeeded(),
                  c.failed(), c.queued(), c.leased(), s.objective().metric(),
                  GoalName(s.objective().goal()), TimeText(s.created_unix_ms())});
  }
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

namespace {

// An auto LR resolved so far: the range test's value and how many trials took it.
struct AutoLr {
  std::string lr;
  int64_t trials = 0;
};

// Auto LRs by the range test trial they came from (the lr_from parameter). Reads every trial, so
// only for a sweep with `auto` LR (at most 10^6 trials); a large grid's status reads none.
absl::StatusOr<std::map<std::string, AutoLr>> AutoLrs(SweepClient& client, const v1::Sweep& sweep) {
  auto spec = ParseSweepSpec(sweep.spec_text());
  if (spec.ok() && !HasAutoLr(*spec)) return std::map<std::string, AutoLr>();
  v1::ListTrialsRequest req;
  req.set_sweep_id(sweep.id());
  ASSIGN_OR_RETURN(auto trials, client.ListTrials(req));
  std::map<std::string, AutoLr> auto_lr;
  for (const auto& t : trials) {
    auto from = t.params().find("lr_from");
    auto lr = t.params().find("max_lr");
    if (from == t.params().end() || lr == t.params().end()) continue;
    AutoLr& a = auto_lr[from->second];
    a.lr = lr->second;
    ++a.trials;
  }
  return auto_lr;
}

}  // namespace

absl::Status RunStatus(SweepClient& client, const std::string& sweep_id,
                       const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(sweep_id));
  const std::string metric = sweep.objective().metric();
  ASSIGN_OR_RETURN(auto best, BestTrial(client, sweep, metric));
  const double eta = EtaSeconds(sweep, absl::Now());
  const auto& c = sweep.counts();
  Table table;
  table.columns = {"id",       "name",        "state",     "queued", "leased", "succeeded",
                   "diverged", "failed",      "cancelled", "pruned", "total",  "done",
                   "progress", "eta_seconds", "objective", "goal",   "best",   "best_trial"};
  table.AddRow({sweep.id(), sweep.name(), StateName(sweep.state()), c.queued(), c.leased(),
                c.succeeded(), c.diverged(), c.failed(), c.cancelled(), c.pruned(), c.total(),
                DoneTrials(c), DoneFraction(c), std::isfinite(eta) ? json(eta) : json(), metric,
                GoalName(sweep.objective().goal()), best ? json(best->best_value()) : json(),
                best ? json(best->id()) : json()});
  ASSIGN_OR_RETURN(const auto auto_lr, AutoLrs(client, sweep));
  if (format == Format::kJson) {
    json doc = table.ToJson()[0];
    doc["wait_reason"] = WaitReason(sweep);
    doc["auto_lr"] = json::array();
    for (const auto& [from, a] : auto_lr) {
      doc["auto_lr"].push_back({{"lr", std::stod(a.lr)}, {"from", from}, {"trials", a.trials}});
    }
    WriteJson(doc, *io.out);
    return absl::OkStatus();
  }
  if (format == Format::kCsv) {
    WriteTable(table, format, *io.out);
    return absl::OkStatus();
  }
  // A report for people, not rows.
  const Style& st = io.out_style;
  *io.out << st.Bold(absl::StrCat("sweep ", sweep.id(), " (", sweep.name(), ")")) << "  "
          << StateName(sweep.state()) << "\n";
  if (io.out_is_terminal) *io.out << ProgressBar(DoneFraction(c)) << "  ";
  const std::string wait = WaitReason(sweep);
  *io.out << DoneTrials(c) << "/" << c.total() << " done  "
          << (wait.empty() ? "ETA " + FormatDuration(eta) : wait) << "\n";
  *io.out << CountsLine(c) << "\n";
  if (best) {
    *io.out << "best " << metric << " (" << GoalName(sweep.objective().goal())
            << ") so far: " << st.Green(CellText(best->best_value())) << "  trial " << best->id();
    for (const auto& [k, v] : best->params()) *io.out << "  " << k << "=" << v;
    *io.out << "\n";
  } else {
    *io.out << "best " << metric << ": none reported yet\n";
  }
  for (const auto& [from, a] : auto_lr) {
    *io.out << "auto LR " << a.lr << " from range test " << from << " -> " << a.trials
            << " trial(s)\n";
  }
  return absl::OkStatus();
}

absl::Status RunWatch(SweepClient& client, const std::string& sweep_id,
                      const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  std::string metric;
  RowStream rows(
      {"time", "state", "queued", "leased", "succeeded", "diverged", "failed", "cancelled",
       "pruned", "total", "trial_id", "trial_status", "epoch", "metric", "value"},
      format, *io.out);
  return client.Watch(sweep_id, [&](const v1::SweepEvent& e) {
    const auto& s = e.sweep();
    if (metric.empty()) metric = s.objective().metric();
    const auto& c = s.counts();
    std::optional<int64_t> epoch;
    std::optional<double> value;
    for (const auto& em : e.epochs()) {
      epoch = em.epoch();
      auto it = em.metrics().find(metric);
      value = it != em.metrics().end() ? std::optional<double>(it->second) : std::nullopt;
    }
    const bool has_trial = e.has_trial() && !e.trial().id().empty();
    const absl::Time now = absl::Now();
    if (format != Format::kTable) {
      rows.Write({TimeText(absl::ToUnixMillis(now)), StateName(s.state()), c.queued(), c.leased(),
                  c.succeeded(), c.diverged(), c.failed(), c.cancelled(), c.pruned(), c.total(),
                  has_trial ? json(e.trial().id()) : json(),
                  has_trial ? json(StatusName(e.trial().status())) : json(),
                  epoch ? json(*epoch) : json(), metric, value ? json(*value) : json()});
      return;
    }
    // A line for people: time, progress, and what happened to which trial.
    std::string line = absl::StrCat(TimeText(absl::ToUnixMillis(now)), "  ", ProgressLine(s, now));
    if (has_trial) {
      absl::StrAppend(&line, "  trial ", e.trial().id(), " ",
                      ColouredStatus(io.out_style, e.trial().status()));
      if (epoch) absl::StrAppend(&line, " epoch ", *epoch);
      if (value) absl::StrAppend(&line, " ", metric, "=", CellText(*value));
    }
    *io.out << line << "\n";
    io.out->flush();
  });
}

absl::Status RunCancel(SweepClient& client, const std::string& sweep_id,
                       const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.Cancel(sweep_id));
  if (format == Format::kJson) {
    WriteJson(SweepJson(sweep), *io.out);
    return absl::OkStatus();
  }
  const auto& c = sweep.counts();
  Table table;
  table.columns = {"id", "state", "cancelled", "succeeded", "failed", "total"};
  table.AddRow(
      {sweep.id(), StateName(sweep.state()), c.cancelled(), c.succeeded(), c.failed(), c.total()});
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

absl::Status RunResume(SweepClient& client, const std::string& sweep_id,
                       const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.Resume(sweep_id));
  if (format == Format::kJson) {
    WriteJson(SweepJson(sweep), *io.out);
    return absl::OkStatus();
  }
  const auto& c = sweep.counts();
  Table table;
  table.columns = {"id", "state", "queued", "failed", "total"};
  table.AddRow({sweep.id(), StateName(sweep.state()), c.queued(), c.failed(), c.total()});
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

}  // namespace hypersweep
