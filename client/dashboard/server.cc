#include "client/dashboard/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/dashboard/assets.h"
#include "client/dashboard/auth.h"
#include "client/dashboard/html.h"
#include "client/dashboard/pages.h"
#include "client/plot_command.h"
#include "client/sweep_client.h"
#include "client/sweep_view.h"
#include "core/metrics.h"
#include "nlohmann/json.hpp"
#include "rpc/connection.h"
#include "rpc/token_file.h"

namespace hypersweep::dashboard {
namespace {

// Sweeps listed on / (newest first), and how many of them get their best value looked up.
constexpr size_t kMaxSweepsListed = 200;
constexpr size_t kMaxBestLookups = 50;
// A trial page looks through at most this many of its sweep's trials (there is no GetTrial).
constexpr int kTrialSearchPages = 20;
constexpr int kTrialSearchPageSize = 1000;
// Learning-curve plots on a sweep page.
constexpr size_t kMaxCurveMetrics = 6;
// An event stream writes a comment this often when idle, so a gone browser is noticed.
constexpr auto kStreamPing = std::chrono::seconds(5);
// Events queued for one slow browser before the oldest are dropped (each carries the counts, so
// a dropped one loses nothing the next does not say).
constexpr size_t kMaxQueuedEvents = 64;

// Security headers on every response: nothing inline, nothing from elsewhere, no framing.
constexpr char kPageCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
constexpr char kSvgCsp[] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

bool IsMetricName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

int HttpStatusFor(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    default:
      return 502;
  }
}

std::string TitleFor(int http_status) {
  switch (http_status) {
    case 503:
      return "coordinator unavailable";
    case 404:
      return "not found";
    case 400:
      return "bad request";
    default:
      return "coordinator error";
  }
}

void SendError(httplib::Response& res, const absl::Status& st) {
  const int code = HttpStatusFor(st);
  const bool refused = st.code() == absl::StatusCode::kUnauthenticated ||
                       st.code() == absl::StatusCode::kPermissionDenied;
  res.status = code;
  res.set_content(ErrorPage(code, refused ? "coordinator refused the dashboard" : TitleFor(code),
                            std::string(st.message())),
                  "text/html; charset=utf-8");
}

void SendHtml(httplib::Response& res, const std::string& html) {
  res.status = 200;
  res.set_content(html, "text/html; charset=utf-8");
}

// One browser's event stream: a thread reads WatchSweep and queues SSE chunks; the HTTP worker
// thread writes them. Ended by the browser going away (ctx cancelled) or the watch ending.
struct EventStream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  bool ended = false;
  bool sweep_over = false;  // the watch ended because the sweep did
  grpc::ClientContext ctx;
  std::thread reader;
};

std::string EventJson(const v1::SweepEvent& e) {
  nlohmann::json j;
  j["sweep_id"] = e.sweep().id();
  j["state"] = StateName(e.sweep().state());
  const auto& c = e.sweep().counts();
  j["counts"] = {{"queued", c.queued()},       {"leased", c.leased()},
                 {"succeeded", c.succeeded()}, {"diverged", c.diverged()},
                 {"failed", c.failed()},       {"cancelled", c.cancelled()},
                 {"total", c.total()},         {"finished", c.finished()}};
  if (e.has_trial()) {
    j["trial_id"] = e.trial().id();
    j["trial_status"] = StatusName(e.trial().status());
    j["epochs_reported"] = e.trial().epochs_reported();
  }
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& ep : e.epochs()) epochs.push_back(ep.epoch());
  j["epochs"] = epochs;
  // ensure_ascii: the data line is plain ASCII whatever the names hold; dump() never emits a
  // newline, which would end the SSE field.
  return j.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
}

class Dashboard {
 public:
  Dashboard(DashboardOptions options, std::unique_ptr<SweepClient> client, std::string token)
      : options_(std::move(options)), client_(std::move(client)), token_(std::move(token)) {}

  void Install(httplib::Server& server) {
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-store");
      res.set_header("Content-Security-Policy", kPageCsp);
      if (!token_.empty() && !Authorized(req.get_header_value("Authorization"), token_)) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"hypersweep dashboard\"");
        return httplib::Server::HandlerResponse::Handled;  // empty body
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server.Get("/static/dashboard.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kDashboardJs, "text/javascript; charset=utf-8");
    });
    server.Get("/static/dashboard.css", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kDashboardCss, "text/css; charset=utf-8");
    });
    server.Get("/",
               [this](const httplib::Request& req, httplib::Response& res) { Sweeps(req, res); });
    server.Get("/workers",
               [this](const httplib::Request& req, httplib::Response& res) { Workers(req, res); });
    server.Get(R"(/sweeps/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) { Sweep(req, res); });
    server.Get(R"(/sweeps/([^/]+)/trials/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) { Trial(req, res); });
    server.Get(
        R"(/sweeps/([^/]+)/plots/(curves|time|schedule|lr-finder|objective-history|parallel)\.svg)",
        [this](const httplib::Request& req, httplib::Response& res) { Plot(req, res); });
    server.Get(R"(/sweeps/([^/]+)/events)",
               [this](const httplib::Request& req, httplib::Response& res) { Events(req, res); });
    if (options_.allow_cancel) {
      server.Post(
          R"(/sweeps/([^/]+)/cancel)",
          [this](const httplib::Request& req, httplib::Response& res) { Cancel(req, res); });
    }
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      // 401 stays empty; other errors without a page of their own get a short one.
      if (res.status == 401 || !res.body.empty()) return;
      res.set_content(ErrorPage(res.status, res.status == 404 ? "not found" : "error", ""),
                      "text/html; charset=utf-8");
    });
  }

 private:
  void Sweeps(const httplib::Request& req, httplib::Response& res) {
    auto sweeps = client_->ListSweeps();
    if (!sweeps.ok()) return SendError(res, sweeps.status());
    std::sort(sweeps->begin(), sweeps->end(), [](const v1::Sweep& a, const v1::Sweep& b) {
      return a.created_unix_ms() != b.created_unix_ms() ? a.created_unix_ms() > b.created_unix_ms()
                                                        : a.id() > b.id();
    });
    if (sweeps->size() > kMaxSweepsListed) sweeps->resize(kMaxSweepsListed);
    std::vector<SweepRow> rows;
    for (auto& s : *sweeps) {
      SweepRow row;
      if (rows.size() < kMaxBestLookups) {
        auto best = BestTrial(s);
        if (!best.ok()) return SendError(res, best.status());
        if (*best && (*best)->has_best_value()) row.best = (*best)->best_value();
      }
      row.sweep = std::move(s);
      rows.push_back(std::move(row));
    }
    SendHtml(res,
             req.get_param_value("fragment") == "sweeps" ? SweepsFragment(rows) : SweepsPage(rows));
  }

  void Workers(const httplib::Request& req, httplib::Response& res) {
    auto workers = client_->ListWorkers();
    if (!workers.ok()) return SendError(res, workers.status());
    SendHtml(res, req.get_param_value("fragment") == "workers"
                      ? WorkersFragment(*workers, absl::Now())
                      : WorkersPage(*workers, absl::Now()));
  }

  // The sweep's best trial by its objective (nullopt when it has none).
  absl::StatusOr<std::optional<v1::Trial>> BestTrial(const v1::Sweep& sweep) {
    v1::ListTrialsRequest req;
    req.set_sweep_id(sweep.id());
    req.set_sort_metric(sweep.objective().metric());
    req.set_page_size(1);
    auto page = client_->ListTrialsPage(req);
    if (!page.ok()) return page.status();
    if (page->trials_size() == 0 || !page->trials(0).has_best_value()) {
      return std::optional<v1::Trial>();
    }
    return std::optional<v1::Trial>(page->trials(0));
  }

  void Sweep(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    SweepView view;
    view.allow_cancel = options_.allow_cancel;
    auto sweep = client_->GetSweep(id);
    if (!sweep.ok()) return SendError(res, sweep.status());
    view.sweep = *sweep;
    auto best = BestTrial(view.sweep);
    if (!best.ok()) return SendError(res, best.status());
    view.best = *best;

    TrialQuery& q = view.query;
    q.sort = req.get_param_value("sort");
    q.status = req.get_param_value("status");
    q.page_token = req.get_param_value("page_token");
    q.page_size = options_.trial_page_size;
    if (!q.sort.empty() && !IsMetricName(q.sort)) {
      return SendError(res, absl::InvalidArgumentError("sort: not a metric name"));
    }
    v1::ListTrialsRequest lreq;
    lreq.set_sweep_id(id);
    if (q.sort.empty()) {  // by index, with each trial's best and final objective value
      lreq.set_sort_metric(view.sweep.objective().metric());
      lreq.set_sort_by(v1::ListTrialsRequest::INDEX);
    } else {
      lreq.set_sort_metric(q.sort);
    }
    lreq.set_page_size(q.page_size);
    lreq.set_page_token(q.page_token);
    if (!q.status.empty()) {
      v1::TrialStatus st;
      if (!v1::TrialStatus_Parse(q.status, &st) || st == v1::TRIAL_STATUS_UNSPECIFIED) {
        return SendError(res, absl::InvalidArgumentError("status: not a trial status"));
      }
      lreq.add_status(st);
    }
    auto page = client_->ListTrialsPage(lreq);
    if (!page.ok()) return SendError(res, page.status());
    view.trials.assign(page->trials().begin(), page->trials().end());
    view.matching = page->total();
    view.next_page_token = page->next_page_token();

    const std::string fragment = req.get_param_value("fragment");
    if (fragment == "summary") return SendHtml(res, SweepSummaryFragment(view, absl::Now()));
    if (fragment == "trials") return SendHtml(res, TrialsFragment(view));

    view.has_lr_range_tests = absl::StrContains(view.sweep.spec_text(), "auto");
    for (const auto& t : view.trials) {
      if (t.role() == v1::LR_RANGE_TEST) view.has_lr_range_tests = true;
    }
    auto metrics = CurveMetrics(view);
    if (!metrics.ok()) return SendError(res, metrics.status());
    view.metrics = *metrics;
    SendHtml(res, SweepPage(view, absl::Now()));
  }

  // The metrics worth a learning curve: the objective first, then the losses and scores a probe
  // trial (the best, else the first with epochs) reported; not timings, rates or test scores.
  absl::StatusOr<std::vector<std::string>> CurveMetrics(const SweepView& view) {
    static const auto* kSkip = new std::set<std::string>{metrics::kLr,
                                                         metrics::kMomentum,
                                                         metrics::kSeconds,
                                                         metrics::kSamplesPerSecond,
                                                         metrics::kElapsedSeconds,
                                                         metrics::kSteps,
                                                         metrics::kPartial};
    std::vector<std::string> out = {view.sweep.objective().metric()};
    std::string probe = view.best ? view.best->id() : "";
    for (const auto& t : view.trials) {
      if (probe.empty() && t.epochs_reported() > 0 && t.role() == v1::TRAIN) probe = t.id();
    }
    if (probe.empty()) return out;
    auto m = client_->GetMetrics({probe}, {});
    if (!m.ok()) return m.status();
    std::set<std::string> names;
    for (const auto& tm : *m) {
      for (const auto& e : tm.epochs()) {
        for (const auto& [k, v] : e.metrics()) names.insert(k);
      }
    }
    for (const auto& n : names) {
      if (out.size() >= kMaxCurveMetrics) break;
      if (kSkip->count(n) || metrics::IsTestMetric(n) || n == out.front()) continue;
      out.push_back(n);
    }
    return out;
  }

  void Trial(const httplib::Request& req, httplib::Response& res) {
    const std::string sweep_id = req.matches[1];
    const std::string trial_id = req.matches[2];
    auto sweep = client_->GetSweep(sweep_id);
    if (!sweep.ok()) return SendError(res, sweep.status());
    std::optional<v1::Trial> trial;
    v1::ListTrialsRequest lreq;
    lreq.set_sweep_id(sweep_id);
    lreq.set_page_size(kTrialSearchPageSize);
    for (int i = 0; i < kTrialSearchPages && !trial; ++i) {
      auto page = client_->ListTrialsPage(lreq);
      if (!page.ok()) return SendError(res, page.status());
      for (const auto& t : page->trials()) {
        if (t.id() == trial_id) trial = t;
      }
      if (page->next_page_token().empty()) break;
      lreq.set_page_token(page->next_page_token());
    }
    if (!trial) {
      return SendError(
          res, absl::NotFoundError(absl::StrCat("no trial ", trial_id, " in sweep ", sweep_id)));
    }
    auto metrics = client_->GetMetrics({trial_id}, {});
    if (!metrics.ok()) return SendError(res, metrics.status());
    std::vector<v1::EpochMetrics> epochs;
    for (const auto& tm : *metrics) epochs.assign(tm.epochs().begin(), tm.epochs().end());
    if (req.get_param_value("fragment") == "trial") {
      return SendHtml(res, TrialFragment(*trial, *sweep, epochs));
    }
    SendHtml(res, TrialPage(*trial, *sweep, epochs));
  }

  void Plot(const httplib::Request& req, httplib::Response& res) {
    const std::string sweep_id = req.matches[1];
    const std::string kind = req.matches[2];
    const std::string metric = req.get_param_value("metric");
    res.headers.erase("Content-Security-Policy");  // the SVG's own, not the pages'
    res.set_header("Content-Security-Policy", kSvgCsp);
    if (!metric.empty() && !IsMetricName(metric)) {
      return SendError(res, absl::InvalidArgumentError("metric: not a metric name"));
    }
    std::ostringstream warnings;  // points that could not be drawn: not shown
    auto plot = BuildPlot(*client_, sweep_id, kind, metric, warnings);
    if (plot.ok()) {
      res.status = 200;
      res.set_content(plot->svg, "image/svg+xml");
      return;
    }
    const int code = HttpStatusFor(plot.status());
    res.status = code;
    // An image of the reason, so an <img> shows why there is no plot yet.
    res.set_content(
        absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"60\" "
                     "data-http-status=\"",
                     code,
                     "\"><text x=\"10\" y=\"35\" font-family=\"sans-serif\" "
                     "font-size=\"13\">",
                     EscapeHtml(std::string(plot.status().message())), "</text></svg>\n"),
        "image/svg+xml");
  }

  void Cancel(const httplib::Request& req, httplib::Response& res) {
    // CSRF guard: a cross-site form cannot set a custom header, and a cross-site fetch that sets
    // one needs a CORS preflight this server never grants; an Origin, when sent, must be ours.
    const std::string origin = req.get_header_value("Origin");
    const std::string host = req.get_header_value("Host");
    if (req.get_header_value("X-Hypersweep-Action") != "cancel" ||
        (!origin.empty() && origin != "http://" + host && origin != "https://" + host)) {
      res.status = 403;
      res.set_content("cancel needs the header X-Hypersweep-Action: cancel from this origin\n",
                      "text/plain; charset=utf-8");
      return;
    }
    auto sweep = client_->Cancel(req.matches[1]);
    if (!sweep.ok()) return SendError(res, sweep.status());
    nlohmann::json j = {{"sweep_id", sweep->id()}, {"state", StateName(sweep->state())}};
    res.set_content(j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace),
                    "application/json");
  }

  void Events(const httplib::Request& req, httplib::Response& res) {
    const std::string sweep_id = req.matches[1];
    auto sweep = client_->GetSweep(sweep_id);
    if (!sweep.ok()) return SendError(res, sweep.status());
    if (streams_.fetch_add(1) >= options_.max_streams) {
      streams_.fetch_sub(1);
      res.status = 503;
      res.set_header("Retry-After", "10");
      res.set_content("too many event streams\n", "text/plain; charset=utf-8");
      return;
    }
    auto stream = std::make_shared<EventStream>();
    stream->chunks.push_back(absl::StrCat("retry: 2000\nevent: hello\ndata: ", EventJson([&] {
                                            v1::SweepEvent e;
                                            *e.mutable_sweep() = *sweep;
                                            return e;
                                          }()),
                                          "\n\n"));
    stream->reader = std::thread([this, stream, sweep_id] {
      const absl::Status st = client_->Watch(
          sweep_id,
          [&](const v1::SweepEvent& e) {
            std::lock_guard<std::mutex> l(stream->mu);
            if (stream->chunks.size() >= kMaxQueuedEvents) stream->chunks.pop_front();
            stream->chunks.push_back(absl::StrCat("event: update\ndata: ", EventJson(e), "\n\n"));
            stream->cv.notify_all();
          },
          &stream->ctx);
      std::lock_guard<std::mutex> l(stream->mu);
      stream->ended = true;
      stream->sweep_over = st.ok();
      stream->cv.notify_all();
    });
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, stream](size_t, httplib::DataSink& sink) {
          if (stopping_) return false;  // shutting down: end the stream, the page reconnects
          std::unique_lock<std::mutex> l(stream->mu);
          stream->cv.wait_for(l, kStreamPing,
                              [&] { return !stream->chunks.empty() || stream->ended; });
          std::deque<std::string> chunks;
          chunks.swap(stream->chunks);
          const bool ended = stream->ended;
          const bool sweep_over = stream->sweep_over;
          l.unlock();
          if (chunks.empty() && !ended) chunks.push_back(": ping\n\n");
          for (const auto& c : chunks) {
            if (!sink.is_writable() || !sink.write(c.data(), c.size())) return false;
          }
          if (ended) {
            // The sweep ended: say so and close. The coordinator went away: close without a
            // word, and the page reconnects with backoff.
            if (sweep_over) {
              const std::string end = "event: end\ndata: {}\n\n";
              sink.write(end.data(), end.size());
              sink.done();
              return true;
            }
            return false;
          }
          return true;
        },
        [this, stream](bool) {
          stream->ctx.TryCancel();
          if (stream->reader.joinable()) stream->reader.join();
          streams_.fetch_sub(1);
        });
  }

  const DashboardOptions options_;
  std::unique_ptr<SweepClient> client_;
  const std::string token_;
  std::atomic<int> streams_{0};

 public:
  // Open event streams end within a ping interval (kStreamPing) so the server can stop.
  std::atomic<bool> stopping_{false};
};

}  // namespace

absl::Status RunDashboard(const DashboardOptions& options, const ClientConfig& coordinator,
                          Io& io) {
  auto address = ParseListen(options.listen);
  if (!address.ok()) return address.status();
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key: give both or neither");
  }
  const bool tls = !options.tls_cert.empty();
  if (auto st = CheckListen(options.listen, !options.token_file.empty(), tls); !st.ok()) return st;
  if (options.max_streams < 1 || options.max_streams > 1000) {
    return absl::InvalidArgumentError("--max-streams: expected 1 to 1000");
  }
  if (options.trial_page_size < 1 || options.trial_page_size > 1000) {
    return absl::InvalidArgumentError("trial page size: expected 1 to 1000");
  }
  std::string token;
  if (!options.token_file.empty()) {
    auto t = ReadTokenFile(options.token_file);
    if (!t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--token-file: ", t.status().message()));
    }
    token = *t;
  }
  std::unique_ptr<httplib::Server> server;
  if (tls) {
    auto ssl =
        std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(
          "--tls-cert/--tls-key: cannot load the certificate and key (PEM files that match)");
    }
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  // SIGINT and SIGTERM stop the server gracefully: blocked here, before any thread exists that
  // could take them (gRPC's and the HTTP pool's inherit the mask), and taken by one thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR2);  // how the server wakes the waiter when it stops on its own
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // The channel connects lazily and reconnects on its own (rpc/connection.cc: backoff at most
  // 2 s), so the dashboard starts and keeps running while the coordinator is down.
  auto channel = MakeChannel(coordinator.connection);
  if (!channel.ok()) return channel.status();
  CallSettings settings;
  settings.address = coordinator.connection.server;
  settings.token = coordinator.connection.token;
  settings.timeout = options.rpc_timeout;
  Dashboard dashboard(
      options, std::make_unique<SweepClient>(v1::SweepService::NewStub(*channel), settings), token);
  dashboard.Install(*server);
  // Each event stream holds a worker thread: room for all of them plus the page requests.
  const size_t threads = static_cast<size_t>(options.max_streams) + 8;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_read_timeout(10);
  server->set_write_timeout(10);
  server->set_keep_alive_timeout(5);
  server->set_payload_max_length(64 * 1024);
  int port = address->port;
  if (port == 0) {
    port = server->bind_to_any_port(address->host);
    if (port < 0) port = 0;
  } else if (!server->bind_to_port(address->host, port)) {
    port = 0;
  }
  if (port == 0) {
    return absl::UnavailableError(absl::StrCat("--listen: cannot bind ", options.listen));
  }
  const std::string shown =
      address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host;
  *io.out << "dashboard listening on " << (tls ? "https" : "http") << "://" << shown << ":" << port
          << " (coordinator " << coordinator.connection.server << ")" << std::endl;
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == SIGUSR2) return;  // the server stopped on its own: nothing to do
    signalled = true;
    dashboard.stopping_ = true;
    server->stop();
  });
  const bool listened = server->listen_after_bind();
  if (!signalled)
    pthread_kill(waiter.native_handle(), SIGUSR2);  // blocked everywhere: taken
                                                    // only by the waiter's sigwait
  waiter.join();
  if (signalled) {
    *io.err << "dashboard stopped\n";
    return absl::OkStatus();
  }
  if (!listened) return absl::InternalError("the HTTP server stopped");
  return absl::OkStatus();
}

}  // namespace hypersweep::dashboard
