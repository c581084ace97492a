#include "client/commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/plot.h"
#include "client/points.h"
#include "core/schedule.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"

namespace hypersweep {

using nlohmann::json;

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kCliOk;
    case absl::StatusCode::kInvalidArgument:
      return kCliUsage;
    case absl::StatusCode::kNotFound:
      return kCliNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kCliUnreachable;
    default:
      return kCliFailure;
  }
}

// ---- SweepClient ----

absl::StatusOr<std::unique_ptr<SweepClient>> SweepClient::Connect(const ClientConfig& config) {
  ASSIGN_OR_RETURN(auto channel, MakeChannel(config.connection));
  const auto deadline =
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(config.timeout_seconds * 1000));
  if (!channel->WaitForConnected(deadline)) {
    return absl::UnavailableError(absl::StrFormat("cannot reach hypersweepd at %s within %gs",
                                                  config.connection.server,
                                                  config.timeout_seconds));
  }
  // Calls get a generous deadline: a query over a large sweep may take a while, a dead server
  // must not hang the CLI forever.
  const absl::Duration call_timeout =
      std::max(absl::Seconds(60), absl::Seconds(config.timeout_seconds));
  return std::make_unique<SweepClient>(v1::SweepService::NewStub(channel), config.connection.server,
                                       config.connection.token, call_timeout);
}

SweepClient::SweepClient(std::unique_ptr<v1::SweepService::StubInterface> stub, std::string address,
                         std::string token, absl::Duration call_timeout)
    : stub_(std::move(stub)),
      address_(std::move(address)),
      token_(std::move(token)),
      call_timeout_(call_timeout) {}

void SweepClient::Prepare(grpc::ClientContext* ctx, bool deadline) const {
  AddAuth(ctx, token_);
  if (deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
}

absl::Status SweepClient::Convert(const grpc::Status& s) const {
  absl::Status st = FromGrpc(s);
  if (st.ok()) return st;
  switch (st.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return absl::Status(st.code(),
                          absl::StrCat("authentication failed at ", address_, ": ", st.message(),
                                       " (check --token-file / HYPERSWEEP_TOKEN)"));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::Status(st.code(), absl::StrCat("hypersweepd at ", address_, ": ", st.message()));
    default:
      return st;
  }
}

absl::StatusOr<v1::SubmitSweepResponse> SweepClient::Submit(const std::string& spec, bool dry_run) {
  grpc::ClientContext ctx;
  Prepare(&ctx, true);
  v1::SubmitSweepRequest req;
  req.set_spec(spec);
  req.set_dry_run(dry_run);
  v1::SubmitSweepResponse resp;
  RETURN_IF_ERROR(Convert(stub_->SubmitSweep(&ctx, req, &resp)));
  return resp;
}

absl::StatusOr<v1::Sweep> SweepClient::GetSweep(const std::string& sweep_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, true);
  v1::GetSweepRequest req;
  req.set_sweep_id(sweep_id);
  v1::GetSweepResponse resp;
  RETURN_IF_ERROR(Convert(stub_->GetSweep(&ctx, req, &resp)));
  return resp.sweep();
}

absl::StatusOr<std::vector<v1::Sweep>> SweepClient::ListSweeps() {
  std::vector<v1::Sweep> out;
  std::string token;
  do {
    grpc::ClientContext ctx;
    Prepare(&ctx, true);
    v1::ListSweepsRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    v1::ListSweepsResponse resp;
    RETURN_IF_ERROR(Convert(stub_->ListSweeps(&ctx, req, &resp)));
    for (auto& s : *resp.mutable_sweeps()) out.push_back(std::move(s));
    token = resp.next_page_token();
  } while (!token.empty());
  return out;
}

absl::StatusOr<v1::Sweep> SweepClient::Cancel(const std::string& sweep_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, true);
  v1::CancelSweepRequest req;
  req.set_sweep_id(sweep_id);
  v1::CancelSweepResponse resp;
  RETURN_IF_ERROR(Convert(stub_->CancelSweep(&ctx, req, &resp)));
  return resp.sweep();
}

absl::StatusOr<std::vector<v1::Trial>> SweepClient::ListTrials(v1::ListTrialsRequest request,
                                                               int64_t limit) {
  constexpr int64_t kPage = 10'000;  // the server's maximum
  std::vector<v1::Trial> out;
  request.clear_page_token();
  while (true) {
    const int64_t want = limit > 0 ? std::min<int64_t>(kPage, limit - out.size()) : kPage;
    request.set_page_size(static_cast<int32_t>(want));
    grpc::ClientContext ctx;
    Prepare(&ctx, true);
    v1::ListTrialsResponse resp;
    RETURN_IF_ERROR(Convert(stub_->ListTrials(&ctx, request, &resp)));
    if (out.empty()) out.reserve(limit > 0 ? limit : resp.total());
    for (auto& t : *resp.mutable_trials()) out.push_back(std::move(t));
    if (resp.next_page_token().empty() || (limit > 0 && static_cast<int64_t>(out.size()) >= limit))
      break;
    request.set_page_token(resp.next_page_token());
  }
  return out;
}

absl::StatusOr<int64_t> SweepClient::CountTrials(const std::string& sweep_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, true);
  v1::ListTrialsRequest req;
  req.set_sweep_id(sweep_id);
  req.set_page_size(1);
  v1::ListTrialsResponse resp;
  RETURN_IF_ERROR(Convert(stub_->ListTrials(&ctx, req, &resp)));
  return resp.total();
}

absl::StatusOr<std::vector<v1::TrialMetrics>> SweepClient::GetMetrics(
    const std::vector<std::string>& ids, const std::vector<std::string>& metrics) {
  constexpr size_t kBatch = 1000;
  std::vector<v1::TrialMetrics> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); i += kBatch) {
    grpc::ClientContext ctx;
    Prepare(&ctx, true);
    v1::GetTrialMetricsRequest req;
    for (size_t k = i; k < ids.size() && k < i + kBatch; ++k) req.add_trial_ids(ids[k]);
    for (const auto& m : metrics) req.add_metrics(m);
    v1::GetTrialMetricsResponse resp;
    RETURN_IF_ERROR(Convert(stub_->GetTrialMetrics(&ctx, req, &resp)));
    for (auto& t : *resp.mutable_trials()) out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<v1::GetLrCurveResponse> SweepClient::GetLrCurve(const std::string& trial_id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, true);
  v1::GetLrCurveRequest req;
  req.set_trial_id(trial_id);
  v1::GetLrCurveResponse resp;
  RETURN_IF_ERROR(Convert(stub_->GetLrCurve(&ctx, req, &resp)));
  return resp;
}

absl::StatusOr<std::vector<v1::Worker>> SweepClient::ListWorkers() {
  grpc::ClientContext ctx;
  Prepare(&ctx, true);
  v1::ListWorkersResponse resp;
  RETURN_IF_ERROR(Convert(stub_->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp)));
  return std::vector<v1::Worker>(resp.workers().begin(), resp.workers().end());
}

absl::Status SweepClient::Watch(const std::string& sweep_id,
                                const std::function<void(const v1::SweepEvent&)>& on_event) {
  grpc::ClientContext ctx;
  Prepare(&ctx, false);  // a watch lasts as long as the sweep
  v1::WatchSweepRequest req;
  req.set_sweep_id(sweep_id);
  auto reader = stub_->WatchSweep(&ctx, req);
  v1::SweepEvent event;
  while (reader->Read(&event)) on_event(event);
  return Convert(reader->Finish());
}

// ---- helpers ----

namespace {

std::string StatusName(v1::TrialStatus s) {
  return v1::TrialStatus_IsValid(s) ? v1::TrialStatus_Name(s) : "UNKNOWN";
}

std::string StateName(v1::SweepState s) {
  switch (s) {
    case v1::SWEEP_RUNNING:
      return "RUNNING";
    case v1::SWEEP_COMPLETED:
      return "COMPLETED";
    case v1::SWEEP_CANCELLED:
      return "CANCELLED";
    default:
      return "UNKNOWN";
  }
}

std::string GoalName(v1::Goal g) { return g == v1::MAXIMIZE ? "maximize" : "minimize"; }

std::string TimeText(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

json Optional(bool has, double v) { return has && std::isfinite(v) ? json(v) : json(); }

int64_t Done(const v1::TrialCounts& c) {
  return c.succeeded() + c.diverged() + c.failed() + c.cancelled() + c.pruned();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json CountsJson(const v1::TrialCounts& c) {
  return {{"queued", c.queued()},     {"leased", c.leased()}, {"succeeded", c.succeeded()},
          {"diverged", c.diverged()}, {"failed", c.failed()}, {"cancelled", c.cancelled()},
          {"pruned", c.pruned()},     {"total", c.total()},   {"done", Done(c)}};
}

json SweepJson(const v1::Sweep& s) {
  return {
      {"id", s.id()},
      {"name", s.name()},
      {"state", StateName(s.state())},
      {"objective", {{"metric", s.objective().metric()}, {"goal", GoalName(s.objective().goal())}}},
      {"counts", CountsJson(s.counts())},
      {"created", TimeText(s.created_unix_ms())},
      {"created_unix_ms", s.created_unix_ms()},
      {"max_attempts", s.max_attempts()}};
}

// Columns every trial row has, in order; params follow as "param.<key>".
const std::vector<std::string>& TrialColumns() {
  static const auto* cols = new std::vector<std::string>{
      "id",   "index",  "status", "attempt", "batch_size", "schedule", "fold",
      "seed", "epochs", "metric", "best",    "final",      "worker",   "reason"};
  return *cols;
}

std::vector<json> TrialCells(const v1::Trial& t, const std::string& metric) {
  return {t.id(),
          t.index(),
          StatusName(t.status()),
          t.attempt(),
          t.batch_size(),
          t.schedule(),
          t.fold() >= 0 ? json(t.fold()) : json(),
          t.seed(),
          t.epochs_reported(),
          metric.empty() ? json() : json(metric),
          Optional(t.has_best_value(), t.best_value()),
          Optional(t.has_final_value(), t.final_value()),
          t.worker_id().empty() ? json() : json(t.worker_id()),
          t.reason().empty() ? json() : json(t.reason())};
}

// Param keys over all trials, sorted.
std::vector<std::string> ParamKeys(const std::vector<v1::Trial>& trials) {
  std::set<std::string> keys;
  for (const auto& t : trials) {
    for (const auto& [k, v] : t.params()) keys.insert(k);
  }
  return {keys.begin(), keys.end()};
}

json ParamsJson(const v1::Trial& t) {
  json p = json::object();
  for (const auto& [k, v] : t.params()) p[k] = v;
  return p;
}

json TrialJson(const v1::Trial& t, const std::string& metric) {
  json o = json::object();
  const auto cells = TrialCells(t, metric);
  for (size_t i = 0; i < cells.size(); ++i) o[TrialColumns()[i]] = cells[i];
  o["params"] = ParamsJson(t);
  return o;
}

// A table of trials with param columns; `extra` columns are appended per row by `more`.
Table TrialTable(const std::vector<v1::Trial>& trials, const std::string& metric) {
  Table table;
  table.columns = TrialColumns();
  const auto keys = ParamKeys(trials);
  for (const auto& k : keys) table.columns.push_back("param." + k);
  table.rows.reserve(trials.size());
  for (const auto& t : trials) {
    auto row = TrialCells(t, metric);
    for (const auto& k : keys) {
      auto it = t.params().find(k);
      row.push_back(it == t.params().end() ? json() : json(it->second));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

absl::StatusOr<Format> FormatFor(const std::string& name, const Io& io) {
  return ParseFormat(name, io.out_is_terminal);
}

std::vector<std::string> MetricNames(const std::vector<v1::TrialMetrics>& metrics) {
  std::set<std::string> names;
  for (const auto& t : metrics) {
    for (const auto& e : t.epochs()) {
      for (const auto& [k, v] : e.metrics()) names.insert(k);
    }
  }
  return {names.begin(), names.end()};
}

json EpochJson(const v1::EpochMetrics& e) {
  json o = {{"epoch", e.epoch()}};
  for (const auto& [k, v] : e.metrics()) o[k] = std::isfinite(v) ? json(v) : json();
  return o;
}

// The best trial by `metric` (goal from the sweep when it is the objective), if any reported it.
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

v1::Goal GoalFor(const v1::Sweep& sweep, const std::string& metric) {
  return metric == sweep.objective().metric() && sweep.objective().goal() == v1::MAXIMIZE
             ? v1::MAXIMIZE
             : v1::MINIMIZE;
}

std::string ColouredStatus(const Style& style, v1::TrialStatus s) {
  const std::string name = StatusName(s);
  switch (s) {
    case v1::SUCCEEDED:
      return style.Green(name);
    case v1::FAILED:
    case v1::DIVERGED:
      return style.Red(name);
    case v1::CANCELLED:
      return style.Yellow(name);
    default:
      return name;
  }
}

std::string CountsLine(const v1::TrialCounts& c) {
  return absl::StrFormat(
      "queued %d  leased %d  succeeded %d  diverged %d  failed %d  cancelled %d  pruned %d",
      c.queued(), c.leased(), c.succeeded(), c.diverged(), c.failed(), c.cancelled(), c.pruned());
}

double Fraction(const v1::TrialCounts& c) {
  return c.total() > 0 ? static_cast<double>(Done(c)) / c.total() : 0;
}

// Seconds left at the rate so far; NaN when unknown.
double EtaSeconds(const v1::Sweep& s) {
  const int64_t done = Done(s.counts());
  if (s.state() != v1::SWEEP_RUNNING) return 0;
  if (done == 0 || s.created_unix_ms() <= 0) return std::nan("");
  const double elapsed =
      absl::ToDoubleSeconds(absl::Now() - absl::FromUnixMillis(s.created_unix_ms()));
  return elapsed / done * (s.counts().total() - done);
}

// One progress line: "[####....]  45%  9/20  ETA 1m05s".
std::string ProgressLine(const v1::Sweep& s) {
  return absl::StrCat(ProgressBar(Fraction(s.counts())), "  ", Done(s.counts()), "/",
                      s.counts().total(), "  ", StateName(s.state()), "  ETA ",
                      FormatDuration(EtaSeconds(s)));
}

// Follows a sweep until it ends; progress on stderr (a redrawn bar on a terminal, a line per
// finished trial otherwise). Returns the last state seen.
absl::StatusOr<v1::Sweep> FollowProgress(SweepClient& client, const std::string& sweep_id, Io& io) {
  v1::Sweep last;
  int64_t last_done = -1;
  RETURN_IF_ERROR(client.Watch(sweep_id, [&](const v1::SweepEvent& e) {
    last = e.sweep();
    const int64_t done = Done(last.counts());
    if (io.err_is_terminal) {
      *io.err << "\r\033[K" << ProgressLine(last) << std::flush;
    } else if (done != last_done) {
      *io.err << done << "/" << last.counts().total() << " trials done\n";
    }
    last_done = done;
  }));
  if (io.err_is_terminal) *io.err << "\n";
  return last;
}

}  // namespace

// ---- submit ----

absl::Status RunSubmit(const SubmitOptions& options, const ConnectFn& connect, Io& io) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(options.spec_path));
  ASSIGN_OR_RETURN(const Format format, FormatFor(options.format, io));
  // Validate locally with the server's parser, so a bad spec fails fast and offline.
  auto spec = ParseSweepSpec(text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(),
                        absl::StrCat(options.spec_path, ": ", spec.status().message()));
  }
  if (options.dry_run) {
    ASSIGN_OR_RETURN(auto expanded, ExpandSweep(*spec));
    std::set<std::string> keys;
    for (const auto& e : expanded) {
      for (const auto& [k, v] : e.params) keys.insert(k);
    }
    Table table;
    table.columns = {"index", "batch_size", "schedule", "epochs", "seed", "fold"};
    for (const auto& k : keys) table.columns.push_back("param." + k);
    for (size_t i = 0; i < expanded.size(); ++i) {
      const auto& e = expanded[i];
      std::vector<json> row = {static_cast<int64_t>(i),
                               e.spec.batch_size,
                               ScheduleName(e.spec.schedule),
                               e.spec.epochs,
                               e.spec.seed,
                               e.spec.validation.kind == ValidationSpec::Kind::kKFold
                                   ? json(e.spec.validation.fold)
                                   : json()};
      std::map<std::string, std::string> params(e.params.begin(), e.params.end());
      for (const auto& k : keys) {
        auto it = params.find(k);
        row.push_back(it == params.end() ? json() : json(it->second));
      }
      table.rows.push_back(std::move(row));
    }
    if (format == Format::kJson) {
      json points = json::array();
      for (size_t i = 0; i < expanded.size(); ++i) {
        json o = json::object();
        for (size_t c = 0; c < 6; ++c) o[table.columns[c]] = table.rows[i][c];
        json params = json::object();
        for (const auto& [k, v] : expanded[i].params) params[k] = v;
        o["params"] = std::move(params);
        points.push_back(std::move(o));
      }
      WriteJson({{"name", spec->name}, {"count", expanded.size()}, {"trials", points}}, *io.out);
    } else {
      (format == Format::kTable ? *io.out : *io.err)
          << expanded.size() << " trials (dry run: nothing queued)\n";
      WriteTable(table, format, *io.out);
    }
    return absl::OkStatus();
  }
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
  return absl::OkStatus();
}

// ---- list, status, watch, cancel, workers ----

absl::Status RunList(SweepClient& client, const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(auto sweeps, client.ListSweeps());
  Table table;
  table.columns = {"id",     "name",   "state",  "done",      "total", "succeeded",
                   "failed", "queued", "leased", "objective", "goal",  "created"};
  for (const auto& s : sweeps) {
    const auto& c = s.counts();
    table.AddRow({s.id(), s.name(), StateName(s.state()), Done(c), c.total(), c.succeeded(),
                  c.failed(), c.queued(), c.leased(), s.objective().metric(),
                  GoalName(s.objective().goal()), TimeText(s.created_unix_ms())});
  }
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

absl::Status RunStatus(SweepClient& client, const std::string& sweep_id,
                       const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(sweep_id));
  const std::string metric = sweep.objective().metric();
  ASSIGN_OR_RETURN(auto best, BestTrial(client, sweep, metric));
  const double eta = EtaSeconds(sweep);
  const auto& c = sweep.counts();
  Table table;
  table.columns = {"id",       "name",        "state",     "queued", "leased", "succeeded",
                   "diverged", "failed",      "cancelled", "pruned", "total",  "done",
                   "progress", "eta_seconds", "objective", "goal",   "best",   "best_trial"};
  table.AddRow({sweep.id(), sweep.name(), StateName(sweep.state()), c.queued(), c.leased(),
                c.succeeded(), c.diverged(), c.failed(), c.cancelled(), c.pruned(), c.total(),
                Done(c), Fraction(c), std::isfinite(eta) ? json(eta) : json(), metric,
                GoalName(sweep.objective().goal()), best ? json(best->best_value()) : json(),
                best ? json(best->id()) : json()});
  // Auto LRs resolved so far: each range test's value and how many trials took it.
  struct AutoLr {
    std::string lr;
    int64_t trials = 0;
  };
  std::map<std::string, AutoLr> auto_lr;  // lr_from -> value
  {
    v1::ListTrialsRequest req;
    req.set_sweep_id(sweep_id);
    ASSIGN_OR_RETURN(auto trials, client.ListTrials(req));
    for (const auto& t : trials) {
      auto from = t.params().find("lr_from");
      auto lr = t.params().find("max_lr");
      if (from == t.params().end() || lr == t.params().end()) continue;
      AutoLr& a = auto_lr[from->second];
      a.lr = lr->second;
      ++a.trials;
    }
  }
  if (format == Format::kJson) {
    json doc = table.ToJson()[0];
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
  const Style& st = io.out_style;
  *io.out << st.Bold(absl::StrCat("sweep ", sweep.id(), " (", sweep.name(), ")")) << "  "
          << StateName(sweep.state()) << "\n";
  if (io.out_is_terminal) *io.out << ProgressBar(Fraction(c)) << "  ";
  *io.out << Done(c) << "/" << c.total() << " done  ETA " << FormatDuration(eta) << "\n";
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
  bool header = false;
  const std::vector<std::string> columns = {
      "time",   "state", "queued",   "leased",       "succeeded", "diverged", "failed", "cancelled",
      "pruned", "total", "trial_id", "trial_status", "epoch",     "metric",   "value"};
  absl::Status status = client.Watch(sweep_id, [&](const v1::SweepEvent& e) {
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
    std::vector<json> row = {TimeText(absl::ToUnixMillis(absl::Now())),
                             StateName(s.state()),
                             c.queued(),
                             c.leased(),
                             c.succeeded(),
                             c.diverged(),
                             c.failed(),
                             c.cancelled(),
                             c.pruned(),
                             c.total(),
                             has_trial ? json(e.trial().id()) : json(),
                             has_trial ? json(StatusName(e.trial().status())) : json(),
                             epoch ? json(*epoch) : json(),
                             metric,
                             value ? json(*value) : json()};
    if (format == Format::kJson) {  // JSON Lines: one document per event
      json o = json::object();
      for (size_t i = 0; i < columns.size(); ++i) o[columns[i]] = row[i];
      WriteJson(o, *io.out);
    } else if (format == Format::kCsv) {
      Table t;
      t.columns = columns;
      t.AddRow(row);
      std::ostringstream ss;
      WriteTable(t, Format::kCsv, ss);
      std::string text = ss.str();
      if (header) text = text.substr(text.find('\n') + 1);
      header = true;
      *io.out << text;
    } else {
      std::string line = absl::StrCat(CellText(row[0]), "  ", ProgressLine(s));
      if (has_trial) {
        absl::StrAppend(&line, "  trial ", e.trial().id(), " ",
                        ColouredStatus(io.out_style, e.trial().status()));
        if (epoch) absl::StrAppend(&line, " epoch ", *epoch);
        if (value) absl::StrAppend(&line, " ", metric, "=", CellText(*value));
      }
      *io.out << line << "\n";
    }
    io.out->flush();
  });
  return status;
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

absl::Status RunWorkers(SweepClient& client, const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(auto workers, client.ListWorkers());
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  Table table;
  table.columns = {"id",          "host",        "device",
                   "slots",       "busy",        "last_seen",
                   "seconds_ago", "quarantined", "consecutive_failures",
                   "why"};
  for (const auto& w : workers) {
    const auto& cap = w.capabilities();
    table.AddRow({w.id(), cap.host(), cap.device(), cap.slots(), w.active_leases(),
                  TimeText(w.last_seen_unix_ms()),
                  std::max<int64_t>(0, now_ms - w.last_seen_unix_ms()) / 1000.0, w.quarantined(),
                  w.consecutive_failures(),
                  w.quarantined()
                      ? json(absl::StrCat(w.consecutive_failures(), " failed trials in a row"))
                      : json()});
  }
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

// ---- trials, best, curves, export, lr-curve ----

namespace {

absl::StatusOr<v1::TrialStatus> ParseTrialStatus(const std::string& name) {
  v1::TrialStatus s;
  if (v1::TrialStatus_Parse(absl::AsciiStrToUpper(name), &s) && s != v1::TRIAL_STATUS_UNSPECIFIED) {
    return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--status: unknown status '", name,
                   "' (queued, leased, succeeded, diverged, failed, cancelled, pruned)"));
}

}  // namespace

absl::Status RunTrials(SweepClient& client, const TrialsOptions& options, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(options.format, io));
  if (options.limit < 0) return absl::InvalidArgumentError("--limit: must be >= 0");
  v1::ListTrialsRequest req;
  req.set_sweep_id(options.sweep_id);
  for (const auto& name : options.statuses) {
    ASSIGN_OR_RETURN(auto s, ParseTrialStatus(name));
    req.add_status(s);
  }
  req.set_sort_metric(options.sort_metric);
  ASSIGN_OR_RETURN(auto trials, client.ListTrials(req, options.limit));
  if (format == Format::kJson) {
    json arr = json::array();
    for (const auto& t : trials) arr.push_back(TrialJson(t, options.sort_metric));
    WriteJson(arr, *io.out);
    return absl::OkStatus();
  }
  WriteTable(TrialTable(trials, options.sort_metric), format, *io.out);
  return absl::OkStatus();
}

// `best` over points: mean +- standard error across each point's folds/seeds, per epoch; the
// point whose mean curve reaches the best value wins.
absl::Status BestPoint(SweepClient& client, const v1::Sweep& sweep, const std::string& metric,
                       const std::vector<v1::Trial>& trials, const std::vector<Point>& points,
                       Format format, Io& io) {
  std::vector<std::string> ids;
  for (const auto& t : trials) ids.push_back(t.id());
  ASSIGN_OR_RETURN(auto metrics, client.GetMetrics(ids, {metric}));
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
  json params = json::object();
  for (const auto& [k, v] : best->params) params[k] = v;
  json trial_ids = json::array();
  for (const auto* t : best->trials) trial_ids.push_back(t->id());
  const std::string goal = GoalName(GoalFor(sweep, metric));
  if (format == Format::kJson) {
    WriteJson({{"point", best->label},
               {"params", params},
               {"metric", metric},
               {"goal", goal},
               {"mean", best_mean},
               {"se", best_se},
               {"epoch", best_epoch},
               {"n", best_n},
               {"trials", trial_ids}},
              *io.out);
    return absl::OkStatus();
  }
  Table table;
  table.columns = {"point", "metric", "goal", "mean", "se", "epoch", "n", "trials"};
  std::vector<std::string> tid;
  for (const auto* t : best->trials) tid.push_back(t->id());
  table.AddRow(
      {best->label, metric, goal, best_mean, best_se, best_epoch, best_n, absl::StrJoin(tid, " ")});
  WriteTable(table, format, *io.out);
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
    json o = TrialJson(*best, metric);
    o["goal"] = goal;
    WriteJson(o, *io.out);
    return absl::OkStatus();
  }
  Table table = TrialTable({*best}, metric);
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
    if (ids.empty()) {
      for (const auto& t : trials) ids.push_back(t.id());
    }
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
      for (const auto& n : names) {
        auto it = e.metrics().find(n);
        row.push_back(it == e.metrics().end() ? json() : json(it->second));
      }
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
  std::vector<std::string> ids;
  for (const auto& t : trials) ids.push_back(t.id());
  ASSIGN_OR_RETURN(auto metrics, client.GetMetrics(ids, {}));
  std::map<std::string, const v1::TrialMetrics*> metrics_of;
  for (const auto& m : metrics) metrics_of[m.trial_id()] = &m;
  if (format == Format::kJson) {
    json arr = json::array();
    for (const auto& t : trials) {
      json o = TrialJson(t, "");
      o.erase("metric");
      o.erase("best");
      o.erase("final");
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
  // One row per trial and epoch (a trial with no epochs gets one row with an empty epoch).
  const auto keys = ParamKeys(trials);
  const auto names = MetricNames(metrics);
  Table table;
  table.columns = {"sweep_id", "trial_id", "index", "status", "attempt", "batch_size",
                   "schedule", "fold",     "seed",  "worker", "reason",  "epoch"};
  for (const auto& k : keys) table.columns.push_back("param." + k);
  table.columns.insert(table.columns.end(), names.begin(), names.end());
  for (const auto& t : trials) {
    std::vector<json> base = {sweep_id,
                              t.id(),
                              t.index(),
                              StatusName(t.status()),
                              t.attempt(),
                              t.batch_size(),
                              t.schedule(),
                              t.fold() >= 0 ? json(t.fold()) : json(),
                              t.seed(),
                              t.worker_id().empty() ? json() : json(t.worker_id()),
                              t.reason().empty() ? json() : json(t.reason())};
    auto emit = [&](const v1::EpochMetrics* e) {
      std::vector<json> row = base;
      row.push_back(e ? json(e->epoch()) : json());
      for (const auto& k : keys) {
        auto it = t.params().find(k);
        row.push_back(it == t.params().end() ? json() : json(it->second));
      }
      for (const auto& n : names) {
        if (e == nullptr) {
          row.push_back(json());
          continue;
        }
        auto it = e->metrics().find(n);
        row.push_back(it == e->metrics().end() ? json() : json(it->second));
      }
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
    table.AddRow({p.step(), p.lr(), std::isfinite(p.loss()) ? json(p.loss()) : json(),
                  std::isfinite(p.smoothed_loss()) ? json(p.smoothed_loss()) : json()});
  }
  if (format == Format::kJson) {
    WriteJson({{"trial_id", trial_id},
               {"suggested_lr", curve.has_suggested_lr() ? json(curve.suggested_lr()) : json()},
               {"points", table.ToJson()}},
              *io.out);
    return absl::OkStatus();
  }
  WriteTable(table, format, *io.out);
  const std::string suggestion =
      curve.has_suggested_lr() ? CellText(curve.suggested_lr()) : std::string("none");
  (format == Format::kTable ? *io.out : *io.err) << "suggested lr: " << suggestion << "\n";
  return absl::OkStatus();
}

// ---- schedule ----

namespace {

struct SchedulePoints {
  std::vector<double> step, lr, momentum;
};

absl::StatusOr<SchedulePoints> SampleSchedule(const ScheduleSpec& spec, int64_t steps,
                                              int64_t steps_per_epoch, double momentum,
                                              int64_t max_points) {
  RunGeometry geometry;
  geometry.steps_per_epoch = steps_per_epoch;
  geometry.epochs = (steps + steps_per_epoch - 1) / steps_per_epoch;
  geometry.momentum = momentum;
  ASSIGN_OR_RETURN(const Schedule schedule, Schedule::Create(spec, geometry));
  SchedulePoints out;
  const int64_t stride = std::max<int64_t>(1, (steps + max_points - 1) / max_points);
  for (int64_t i = 0; i < steps; i += stride) {
    out.step.push_back(static_cast<double>(i));
    out.lr.push_back(schedule.Lr(i));
    out.momentum.push_back(schedule.Momentum(i));
  }
  if (steps > 1 && out.step.back() != steps - 1) {  // always show the last step
    out.step.push_back(static_cast<double>(steps - 1));
    out.lr.push_back(schedule.Lr(steps - 1));
    out.momentum.push_back(schedule.Momentum(steps - 1));
  }
  return out;
}

}  // namespace

absl::Status RunSchedule(const ScheduleOptions& options, Io& io) {
  if (options.steps < 1) return absl::InvalidArgumentError("--steps: must be >= 1");
  if (options.steps_per_epoch < 1) {
    return absl::InvalidArgumentError("--steps-per-epoch: must be >= 1");
  }
  ASSIGN_OR_RETURN(YAML::Node node, LoadYaml(options.schedule, "--schedule"));
  auto spec = ParseSchedule(node, "schedule", ParseOptions{});
  if (!spec.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--schedule: ", spec.status().message()));
  }
  const bool svg = options.format == "svg";
  ASSIGN_OR_RETURN(auto points, SampleSchedule(*spec, options.steps, options.steps_per_epoch,
                                               options.momentum, svg ? 2000 : options.steps));
  if (svg) {
    PlotSeries lr{"lr", {}, points.lr, {}, {}};
    for (double s : points.step) lr.x.push_back(s / options.steps_per_epoch);
    PlotOptions po;
    po.title = absl::StrCat(ScheduleName(*spec), " schedule, ", options.steps, " steps");
    po.x_label = "epoch";
    po.y_label = "learning rate";
    *io.out << RenderSvg({lr}, po);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const Format format,
                   ParseFormat(options.format.empty() ? "csv" : options.format, false));
  Table table;
  table.columns = {"step", "epoch", "lr", "momentum"};
  table.rows.reserve(points.step.size());
  for (size_t i = 0; i < points.step.size(); ++i) {
    const auto step = static_cast<int64_t>(points.step[i]);
    table.AddRow({step, step / options.steps_per_epoch, points.lr[i], points.momentum[i]});
  }
  if (format == Format::kJson) {
    WriteJson({{"schedule", ToJson(*spec)},
               {"steps", options.steps},
               {"steps_per_epoch", options.steps_per_epoch},
               {"points", table.ToJson()}},
              *io.out);
  } else {
    WriteTable(table, format, *io.out);
  }
  return absl::OkStatus();
}

// ---- plot ----

namespace {

constexpr double kDivergedLoss = 1e29;

// Mean of a metric per epoch for a point, with SE bands when more than one trial contributed.
PlotSeries MeanSeries(const std::string& label, const MetricSeries& m) {
  PlotSeries s;
  s.label = label;
  s.x = m.epoch;
  s.y = m.mean;
  const int max_n = m.n.empty() ? 0 : *std::max_element(m.n.begin(), m.n.end());
  if (max_n > 1) {
    s.label += absl::StrCat(" (mean of ", max_n, " ± SE)");
    for (size_t i = 0; i < m.mean.size(); ++i) {
      s.lower.push_back(m.mean[i] - m.se[i]);
      s.upper.push_back(m.mean[i] + m.se[i]);
    }
  }
  return s;
}

}  // namespace

absl::Status RunPlot(SweepClient& client, const PlotOptionsCli& options, Io& io) {
  static const std::set<std::string> kKinds = {"curves", "lr-finder", "schedule", "time"};
  if (!kKinds.count(options.kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--kind: expected curves, lr-finder, schedule or time, got '", options.kind, "'"));
  }
  if (options.out_path.empty()) return absl::InvalidArgumentError("--out: required");
  ASSIGN_OR_RETURN(const v1::Sweep sweep, client.GetSweep(options.sweep_id));
  const std::string metric = options.metric.empty() ? sweep.objective().metric() : options.metric;
  v1::ListTrialsRequest req;
  req.set_sweep_id(options.sweep_id);
  ASSIGN_OR_RETURN(auto all_trials, client.ListTrials(req));
  const bool lr_finder = options.kind == "lr-finder";
  std::vector<v1::Trial> trials;
  for (auto& t : all_trials) {
    if ((t.schedule() == "lr_range_test") == lr_finder) trials.push_back(std::move(t));
  }
  if (trials.empty()) {
    return absl::NotFoundError(absl::StrCat("sweep ", options.sweep_id, " has no ",
                                            lr_finder ? "LR range test trials" : "trials",
                                            " to plot"));
  }
  const auto points = GroupIntoPoints(trials);
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
  PlotOptions po;
  if (lr_finder) {
    po.title = absl::StrCat(sweep.name(), ": LR range test");
    po.x_label = "learning rate";
    po.y_label = "smoothed loss";
    po.log_x = true;
    for (const auto& p : points) {
      for (const v1::Trial* t : p.trials) {
        ASSIGN_OR_RETURN(auto curve, client.GetLrCurve(t->id()));
        if (curve.points_size() == 0) continue;
        PlotSeries s;
        s.label = p.trials.size() > 1 ? absl::StrCat(p.label, " seed=", t->seed()) : p.label;
        double lowest = std::numeric_limits<double>::infinity();
        for (const auto& q : curve.points()) {
          // The worker reports a diverged step's loss as 1e30: not a point of the curve.
          if (!std::isfinite(q.smoothed_loss()) || q.smoothed_loss() >= kDivergedLoss) continue;
          s.x.push_back(q.lr());
          s.y.push_back(q.smoothed_loss());
          lowest = std::min(lowest, q.smoothed_loss());
        }
        // Like fastai's plot: the explosion past 4x the lowest loss is clipped, not the scale.
        if (std::isfinite(lowest) && lowest > 0) {
          po.y_max = std::max(po.y_max.value_or(0), 4 * lowest);
        }
        if (curve.has_suggested_lr()) {
          markers.push_back(
              {curve.suggested_lr(), absl::StrCat("suggested ", CellText(curve.suggested_lr()))});
          s.label += absl::StrCat(" (suggests ", CellText(curve.suggested_lr()), ")");
        }
        series.push_back(std::move(s));
      }
    }
  } else {
    std::vector<std::string> ids;
    for (const auto& t : trials) ids.push_back(t.id());
    std::vector<std::string> wanted = {metric, "elapsed_seconds", "steps"};
    ASSIGN_OR_RETURN(auto metrics, client.GetMetrics(ids, wanted));
    std::map<std::string, const v1::TrialMetrics*> metrics_of;
    for (const auto& m : metrics) metrics_of[m.trial_id()] = &m;
    for (const auto& p : points) {
      std::vector<const v1::TrialMetrics*> pm;
      for (const v1::Trial* t : p.trials) {
        if (auto it = metrics_of.find(t->id()); it != metrics_of.end()) pm.push_back(it->second);
      }
      if (options.kind == "curves") {
        auto m = AggregateMetric(pm, metric);
        if (m.epoch.empty()) continue;
        series.push_back(MeanSeries(p.label, m));
      } else if (options.kind == "time") {
        auto m = AggregateMetric(pm, metric);
        auto secs = AggregateMetric(pm, "elapsed_seconds");
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
        if (timed.epoch.empty()) continue;
        series.push_back(MeanSeries(p.label, timed));
      } else {  // schedule: the LR the point's trials train with, per (fractional) epoch
        const v1::Trial* t = p.trials.front();
        ParseOptions parse_options;
        parse_options.allow_auto = true;
        auto spec = ParseTrialSpec(t->spec_json(), parse_options);
        if (!spec.ok()) continue;
        int64_t spe = 0;
        if (auto it = metrics_of.find(t->id()); it != metrics_of.end()) {
          for (const auto& e : it->second->epochs()) {
            auto st = e.metrics().find("steps");
            if (st != e.metrics().end() && e.epoch() >= 0) {
              spe = static_cast<int64_t>(std::llround(st->second / (e.epoch() + 1)));
              break;
            }
          }
        }
        if (spe < 1) spe = 100;  // not reported yet: the shape does not depend on it much
        auto sampled =
            SampleSchedule(spec->schedule, spec->epochs * spe, spe, spec->momentum, 1000);
        if (!sampled.ok()) {
          *io.err << "skipping " << p.label << ": " << sampled.status().message() << "\n";
          continue;
        }
        PlotSeries s;
        s.label = p.label;
        for (double step : sampled->step) s.x.push_back(step / spe);
        s.y = sampled->lr;
        series.push_back(std::move(s));
      }
    }
    if (options.kind == "curves") {
      po.title = absl::StrCat(sweep.name(), ": ", metric, " per epoch");
      po.x_label = "epoch";
      po.y_label = metric;
    } else if (options.kind == "time") {
      po.title = absl::StrCat(sweep.name(), ": ", metric, " against training time");
      po.x_label = "wall-clock training seconds";
      po.y_label = metric;
    } else {
      po.title = absl::StrCat(sweep.name(), ": learning-rate schedules");
      po.x_label = "epoch";
      po.y_label = "learning rate";
    }
  }
  if (series.empty()) {
    return absl::NotFoundError(absl::StrCat("nothing to plot for sweep ", options.sweep_id, " (no ",
                                            lr_finder ? "LR curves" : metric, " reported yet)"));
  }
  std::ofstream out(options.out_path);
  if (!out)
    return absl::InvalidArgumentError(absl::StrCat("--out: cannot write '", options.out_path, "'"));
  out << RenderSvg(series, po, markers);
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("writing '", options.out_path, "' failed"));
  *io.err << "wrote " << options.out_path << " (" << series.size() << " series)\n";
  return absl::OkStatus();
}

}  // namespace hypersweep
