// `hypersweep dashboard` (the real binary) against a real hypersweepd on loopback, with a
// simulated worker reporting epochs over gRPC: pages, plots, the event stream, escaping, the
// listen policy, the token, cancel, and a coordinator that stops and comes back.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "tests/client/xml_check.h"
#include "tests/support/coordinator_process.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kEvilName[] = "<script>alert(1)</script>";

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// `hypersweep [--server S] dashboard --listen 127.0.0.1:0 EXTRA...`; the port comes from the first
// line it prints ("dashboard listening on http://127.0.0.1:PORT ...").
class DashboardProcess {
 public:
  // `global`: CLI options before `dashboard` (the coordinator connection).
  DashboardProcess(const std::string& server, const std::vector<std::string>& extra,
                   const std::string& log, const std::vector<std::string>& global = {}) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) dup2(err, STDERR_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> args = {HYPERSWEEP_CLI_BIN, "--server", server};
      args.insert(args.end(), global.begin(), global.end());
      args.insert(args.end(), {"dashboard", "--listen", "127.0.0.1:0"});
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512] = {0};
    if (fgets(line, sizeof(line), f) != nullptr) {
      first_line_ = line;
      std::smatch m;
      if (std::regex_search(first_line_, m, std::regex("https?://127\\.0\\.0\\.1:([0-9]+)"))) {
        port_ = std::stoi(m[1]);
      }
    }
    fclose(f);
  }
  ~DashboardProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Waits up to `timeout` for the process to exit; its wait status, or -1.
  int Wait(std::chrono::milliseconds timeout) {
    int status = -1;
    const bool exited =
        test_support::WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
    if (!exited) return -1;
    pid_ = -1;
    return status;
  }
  const std::string& first_line() const { return first_line_; }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5);
    c.set_read_timeout(20);
    return c;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string first_line_;
};

// A worker over gRPC: takes a trial and reports epochs with made-up metrics.
class SimulatedWorker {
 public:
  explicit SimulatedWorker(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::WorkerService::NewStub(channel)) {}

  bool Register() {
    v1::RegisterWorkerRequest req;
    req.mutable_capabilities()->set_host("<b>sim-host</b>");
    req.mutable_capabilities()->set_device("cpu");
    req.mutable_capabilities()->set_slots(1);
    v1::RegisterWorkerResponse resp;
    if (!stub_->RegisterWorker(Ctx().get(), req, &resp).ok()) return false;
    id_ = resp.worker_id();
    return true;
  }
  // Leases the next trial; its id, or "" when none came within 5 s.
  std::string Acquire() {
    v1::AcquireTrialRequest req;
    req.set_worker_id(id_);
    req.set_max_wait_ms(5000);
    v1::AcquireTrialResponse resp;
    if (!stub_->AcquireTrial(Ctx().get(), req, &resp).ok() || !resp.acquired()) return "";
    lease_ = resp.lease();
    return lease_.trial_id();
  }
  bool Report(int epoch) {
    v1::ReportEpochsRequest req;
    *req.mutable_lease() = lease_;
    auto* m = req.add_epochs();
    m->set_epoch(epoch);
    (*m->mutable_metrics())["train_loss"] = 1.0 / (epoch + 1);
    (*m->mutable_metrics())["val_loss"] = 1.2 / (epoch + 1);
    (*m->mutable_metrics())["elapsed_seconds"] = 1.5 * (epoch + 1);
    (*m->mutable_metrics())["steps"] = 10.0 * (epoch + 1);
    v1::ReportEpochsResponse resp;
    return stub_->ReportEpochs(Ctx().get(), req, &resp).ok();
  }
  bool Fail(const std::string& reason) {
    v1::FinishTrialRequest req;
    *req.mutable_lease() = lease_;
    req.set_status(v1::FAILED);
    req.set_failure_class(v1::USER_ERROR);
    req.set_reason(reason);
    v1::FinishTrialResponse resp;
    return stub_->FinishTrial(Ctx().get(), req, &resp).ok();
  }
  bool Finish() {
    v1::FinishTrialRequest req;
    *req.mutable_lease() = lease_;
    req.set_status(v1::SUCCEEDED);
    v1::FinishTrialResponse resp;
    return stub_->FinishTrial(Ctx().get(), req, &resp).ok();
  }

 private:
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::string id_;
  v1::LeaseRef lease_;
};

class DashboardE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = std::make_unique<test_support::CoordinatorProcess>(HYPERSWEEPD_BIN, db(),
                                                                      std::vector<std::string>{});
    ASSERT_GT(coordinator_->port(), 0) << coordinator_->first_line();
    address_ = coordinator_->address();
    channel_ = coordinator_->Channel();
    sweeps_ = v1::SweepService::NewStub(channel_);
    v1::SubmitSweepRequest req;
    req.set_spec(std::string("name: \"") + kEvilName +
                 "\"\ndataset: {synthetic: {samples: 200, features: 4, classes: 2}}\n"
                 "schedule: {constant: {lr: 0.01}}\nepochs: 3\nseeds: [0, 1]\n");
    v1::SubmitSweepResponse resp;
    grpc::Status s = sweeps_->SubmitSweep(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    sweep_id_ = resp.sweep().id();
    ASSERT_EQ(resp.sweep().counts().total(), 2);
  }

  std::string db() const { return dir_.File("hs.db"); }
  std::string log() const { return dir_.File("dashboard.log"); }

  std::unique_ptr<DashboardProcess> StartDashboard(const std::vector<std::string>& extra = {}) {
    auto d = std::make_unique<DashboardProcess>(address_, extra, log());
    EXPECT_GT(d->port(), 0) << d->first_line();
    return d;
  }

  v1::Sweep GetSweep() {
    v1::GetSweepRequest req;
    req.set_sweep_id(sweep_id_);
    v1::GetSweepResponse resp;
    EXPECT_TRUE(sweeps_->GetSweep(Ctx().get(), req, &resp).ok());
    return resp.sweep();
  }

  test_support::TempDir dir_{"hypersweep-dashboard"};
  std::unique_ptr<test_support::CoordinatorProcess> coordinator_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SweepService::Stub> sweeps_;
  std::string sweep_id_;
};

TEST_F(DashboardE2eTest, PagesShowSweepTrialsAndPlotsWithDataEscaped) {
  SimulatedWorker worker(channel_);
  ASSERT_TRUE(worker.Register());
  const std::string trial = worker.Acquire();
  ASSERT_FALSE(trial.empty());
  ASSERT_TRUE(worker.Report(0));
  ASSERT_TRUE(worker.Report(1));
  ASSERT_TRUE(worker.Finish());
  const std::string failed = worker.Acquire();
  ASSERT_FALSE(failed.empty());
  ASSERT_TRUE(worker.Fail("bad data: <img src=x onerror=alert(3)>"));
  auto dash = StartDashboard();
  auto http = dash->Client();

  auto index = http.Get("/");
  ASSERT_TRUE(index);
  ASSERT_EQ(index->status, 200) << index->body;
  EXPECT_THAT(index->body, HasSubstr("id=\"sweeps-table\""));
  EXPECT_THAT(index->body, HasSubstr("data-sweep-id=\"" + sweep_id_ + "\""));
  EXPECT_THAT(index->body, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));

  auto page = http.Get("/sweeps/" + sweep_id_);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_THAT(page->body, HasSubstr("id=\"sweep-counts\""));
  EXPECT_THAT(page->body, HasSubstr("<td data-count=\"succeeded\">succeeded <b>1</b></td>"));
  EXPECT_THAT(page->body, HasSubstr("<td data-count=\"failed\">failed <b>1</b></td>"));
  EXPECT_THAT(page->body, HasSubstr("bad data: &lt;img src=x onerror=alert(3)&gt;"));
  EXPECT_THAT(page->body, HasSubstr("id=\"best-trial\""));
  EXPECT_THAT(page->body, HasSubstr("<b id=\"best-value\">0.6</b>"));  // val_loss 1.2 / 2
  EXPECT_THAT(page->body, HasSubstr("<td data-count=\"total\">total <b>2</b></td>"));
  EXPECT_EQ(test_support::CountOccurrences(page->body, "<tr data-trial-id="), 2);
  EXPECT_THAT(page->body, HasSubstr("<tr data-trial-id=\"" + trial + "\""));
  // In index order each row still has its best and final objective value (epochs, best, final).
  EXPECT_THAT(page->body, HasSubstr("<td>2</td><td>0.6</td><td>0.6</td>"));
  EXPECT_THAT(page->body, Not(HasSubstr("cancel-button")));  // read-only by default
  const std::string img = "/sweeps/" + sweep_id_ + "/plots/curves.svg?metric=val_loss";
  EXPECT_THAT(page->body, HasSubstr("<img id=\"plot-curves-val_loss\" data-plot=\"curves\""));
  EXPECT_THAT(page->body, HasSubstr("src=\"" + img + "\""));

  auto svg = http.Get(img);
  ASSERT_TRUE(svg);
  ASSERT_EQ(svg->status, 200) << svg->body;
  EXPECT_EQ(svg->get_header_value("Content-Type"), "image/svg+xml");
  testing_xml::Parser parser(svg->body);
  auto root = parser.Parse();
  ASSERT_NE(root, nullptr) << parser.error();
  EXPECT_EQ(root->name, "svg");
  EXPECT_EQ(testing_xml::SeriesPaths(*root).size(), 1u);  // the one trial with epochs

  auto history = http.Get("/sweeps/" + sweep_id_ + "/plots/objective-history.svg");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->status, 200) << history->body;
  testing_xml::Parser history_parser(history->body);
  auto history_root = history_parser.Parse();
  ASSERT_NE(history_root, nullptr) << history_parser.error();
  EXPECT_EQ(testing_xml::SeriesPaths(*history_root).size(), 2u);

  // One completed trial: no parameter takes two values yet, and the image says so.
  auto parallel = http.Get("/sweeps/" + sweep_id_ + "/plots/parallel.svg");
  ASSERT_TRUE(parallel);
  EXPECT_EQ(parallel->status, 404);
  EXPECT_THAT(parallel->body, HasSubstr("nothing to plot"));
  EXPECT_NE(testing_xml::Parser(parallel->body).Parse(), nullptr);

  auto trial_page = http.Get("/sweeps/" + sweep_id_ + "/trials/" + trial);
  ASSERT_TRUE(trial_page);
  ASSERT_EQ(trial_page->status, 200) << trial_page->body;
  EXPECT_THAT(trial_page->body, HasSubstr("<td id=\"epoch-count\">2</td>"));
  EXPECT_EQ(test_support::CountOccurrences(trial_page->body, "<tr data-epoch="), 2);
  auto failed_page = http.Get("/sweeps/" + sweep_id_ + "/trials/" + failed);
  ASSERT_TRUE(failed_page);
  ASSERT_EQ(failed_page->status, 200) << failed_page->body;
  EXPECT_THAT(
      failed_page->body,
      HasSubstr("<td id=\"trial-reason\">bad data: &lt;img src=x onerror=alert(3)&gt;</td>"));
  EXPECT_THAT(failed_page->body, HasSubstr("<td id=\"trial-status\">FAILED</td>"));
  EXPECT_THAT(failed_page->body, HasSubstr("<td id=\"trial-attempt\">1</td>"));

  auto workers = http.Get("/workers");
  ASSERT_TRUE(workers);
  ASSERT_EQ(workers->status, 200);
  EXPECT_THAT(workers->body, HasSubstr("&lt;b&gt;sim-host&lt;/b&gt;"));

  // No script or markup from data anywhere: the only <script is the embedded one, by URL.
  for (const auto* body :
       {&index->body, &page->body, &trial_page->body, &failed_page->body, &workers->body}) {
    EXPECT_THAT(*body, Not(HasSubstr("<script>")));
    EXPECT_THAT(*body, Not(HasSubstr("<img src=x")));
    EXPECT_THAT(*body, Not(HasSubstr("<b>sim-host")));
    EXPECT_EQ(test_support::CountOccurrences(*body, "<script"), 1);
  }
  EXPECT_THAT(svg->body, Not(HasSubstr("<script")));

  auto js = http.Get("/static/dashboard.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_THAT(js->body, HasSubstr("EventSource"));
  EXPECT_THAT(js->body, HasSubstr("reconnecting"));

  auto missing = http.Get("/sweeps/sw-nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(DashboardE2eTest, EventStreamDeliversAnEventWhenAnEpochIsReported) {
  SimulatedWorker worker(channel_);
  ASSERT_TRUE(worker.Register());
  const std::string trial = worker.Acquire();
  ASSERT_FALSE(trial.empty());
  auto dash = StartDashboard();

  std::mutex mu;
  std::string received;
  std::atomic<bool> stop{false};
  int status = 0;
  std::thread reader([&] {
    auto http = dash->Client();
    auto res = http.Get(("/sweeps/" + sweep_id_ + "/events").c_str(),
                        [&](const httplib::Response& r) {
                          status = r.status;
                          return r.status == 200;
                        },
                        [&](const char* data, size_t n) {
                          std::lock_guard<std::mutex> l(mu);
                          received.append(data, n);
                          return !stop.load();
                        });
  });
  auto seen = [&](const std::string& needle) {
    return test_support::WaitFor(
        [&] {
          std::lock_guard<std::mutex> l(mu);
          return received.find(needle) != std::string::npos;
        },
        15s);
  };
  EXPECT_TRUE(seen("event: hello\n"));
  // The dashboard sends `hello` before its WatchSweep call is registered at the coordinator; the
  // first `update` (WatchSweep's snapshot) says it is. An epoch reported before that would be in
  // the snapshot's state, not an event of its own (the page refreshes on either).
  EXPECT_TRUE(seen("event: update\n"));
  ASSERT_TRUE(worker.Report(0));
  EXPECT_TRUE(seen("\"epochs\":[0]")) << received;
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_THAT(received, HasSubstr("event: update\ndata: {"));
    EXPECT_THAT(received, HasSubstr("\"trial_id\":\"" + trial + "\""));
  }
  stop = true;
  ASSERT_TRUE(worker.Report(1));  // wakes the stream so the reader sees `stop`
  reader.join();
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(dash->running());
}

// An event stream says "end" and closes when the sweep ends; it closes without "end" when the
// coordinator goes away (the page then shows "reconnecting" and retries).
TEST_F(DashboardE2eTest, EventStreamEndsWithTheSweepAndClosesWhenTheCoordinatorDies) {
  auto dash = StartDashboard();
  auto read_stream = [&](const std::string& id, std::string* out, std::atomic<bool>* done) {
    return std::thread([&, id, out, done] {
      auto http = dash->Client();
      http.Get(("/sweeps/" + id + "/events").c_str(), [&](const char* data, size_t n) {
        out->append(data, n);  // only this thread writes; read after `done`
        return true;
      });
      *done = true;
    });
  };
  std::string ended;
  std::atomic<bool> ended_done{false};
  std::thread first = read_stream(sweep_id_, &ended, &ended_done);
  std::this_thread::sleep_for(500ms);  // the stream is open and watching
  v1::CancelSweepRequest cancel;
  cancel.set_sweep_id(sweep_id_);
  v1::CancelSweepResponse cancelled;
  ASSERT_TRUE(sweeps_->CancelSweep(Ctx().get(), cancel, &cancelled).ok());
  EXPECT_TRUE(test_support::WaitFor([&] { return ended_done.load(); }, 15s));
  first.join();
  EXPECT_THAT(ended, HasSubstr("event: end\n"));

  v1::SubmitSweepRequest req;
  req.set_spec(
      "name: second\ndataset: {synthetic: {samples: 200, features: 4, classes: 2}}\n"
      "schedule: {constant: {lr: 0.01}}\nepochs: 3\n");
  v1::SubmitSweepResponse second;
  ASSERT_TRUE(sweeps_->SubmitSweep(Ctx().get(), req, &second).ok());
  std::string broken;
  std::atomic<bool> broken_done{false};
  std::thread other = read_stream(second.sweep().id(), &broken, &broken_done);
  std::this_thread::sleep_for(500ms);
  coordinator_->Kill(SIGKILL);
  EXPECT_TRUE(test_support::WaitFor([&] { return broken_done.load(); }, 15s));
  other.join();
  EXPECT_THAT(broken, HasSubstr("event: hello\n"));
  EXPECT_THAT(broken, Not(HasSubstr("event: end")));
  EXPECT_TRUE(dash->running());
}

// --max-streams bounds the event streams served at once: one more gets 503 until one closes.
TEST_F(DashboardE2eTest, EventStreamsAreBounded) {
  auto dash = StartDashboard({"--max-streams", "1"});
  std::atomic<bool> opened{false}, stop{false};
  std::thread holder([&] {
    auto http = dash->Client();
    http.Get(("/sweeps/" + sweep_id_ + "/events").c_str(), [&](const char*, size_t) {
      opened = true;
      return !stop.load();
    });
  });
  ASSERT_TRUE(test_support::WaitFor([&] { return opened.load(); }, 10s));
  auto http = dash->Client();
  auto second = http.Get("/sweeps/" + sweep_id_ + "/events");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  EXPECT_EQ(second->get_header_value("Retry-After"), "10");
  auto page = http.Get("/sweeps/" + sweep_id_);  // pages still work
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  stop = true;
  holder.join();  // a ping that fails to write (within two pings, 10 s) frees its slot
  int status = 0;
  EXPECT_TRUE(test_support::WaitFor(
      [&] {
        // The freed slot is taken by a stream that is then dropped at once.
        httplib::Client c("127.0.0.1", dash->port());
        c.set_read_timeout(2);
        c.Get(("/sweeps/" + sweep_id_ + "/events").c_str(),
              [&](const httplib::Response& r) {
                status = r.status;
                return false;
              },
              [](const char*, size_t) { return false; });
        return status == 200;
      },
      30s))
      << status;
}

// The dashboard reaches a coordinator that wants a client token with the CLI's own --token-file
// (given before `dashboard`); without it the pages say the coordinator refused it.
TEST(DashboardCoordinatorAuthTest, UsesTheCliTokenForTheCoordinator) {
  test_support::TempDir dir("hypersweep-dashboard-auth");
  const std::string client_token = dir.Write("client.token", "client-secret-1234\n");
  const std::string worker_token = dir.Write("worker.token", "worker-secret-5678\n");
  test_support::CoordinatorProcess coordinator(
      HYPERSWEEPD_BIN, dir.File("hs.db"),
      {"--client-token-file", client_token, "--worker-token-file", worker_token});
  ASSERT_GT(coordinator.port(), 0) << coordinator.first_line();
  {
    DashboardProcess without(coordinator.address(), {}, dir.File("dashboard.log"));
    ASSERT_GT(without.port(), 0) << without.first_line();
    auto page = without.Client().Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 502);
    EXPECT_THAT(page->body, HasSubstr("coordinator refused the dashboard"));
    EXPECT_THAT(page->body, HasSubstr("authentication failed"));
    EXPECT_THAT(page->body, Not(HasSubstr("client-secret")));
  }
  DashboardProcess with(coordinator.address(), {}, dir.File("dashboard.log"),
                        {"--token-file", client_token});
  ASSERT_GT(with.port(), 0) << with.first_line();
  auto page = with.Client().Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200) << page->body;
  EXPECT_THAT(page->body, HasSubstr("id=\"sweeps-table\""));
}

// SIGTERM ends the dashboard with exit 0 even while a browser holds an event stream open.
TEST_F(DashboardE2eTest, SigtermStopsGracefullyWithAnOpenStream) {
  auto dash = StartDashboard();
  std::atomic<bool> opened{false};
  std::thread reader([&] {
    auto http = dash->Client();
    http.Get(("/sweeps/" + sweep_id_ + "/events").c_str(), [&](const char*, size_t) {
      opened = true;
      return true;
    });
  });
  EXPECT_TRUE(test_support::WaitFor([&] { return opened.load(); }, 10s));
  kill(dash->pid(), SIGTERM);
  const int status = dash->Wait(15s);
  reader.join();
  ASSERT_NE(status, -1) << "still running 15 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(DashboardE2eTest, NonLoopbackListenNeedsTokenAndTls) {
  const std::string token = dir_.Write("token", "s3cret-token\n");
  auto no_token = test_support::RunProgram(
      {HYPERSWEEP_CLI_BIN, "--server", address_, "dashboard", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(no_token.exit_code, 2) << no_token.err;
  EXPECT_THAT(no_token.err, HasSubstr("--token-file"));
  auto no_tls = test_support::RunProgram({HYPERSWEEP_CLI_BIN, "--server", address_, "dashboard",
                                          "--listen", "0.0.0.0:0", "--token-file", token});
  EXPECT_EQ(no_tls.exit_code, 2) << no_tls.err;
  EXPECT_THAT(no_tls.err, HasSubstr("--tls-cert"));
  EXPECT_THAT(no_tls.err, Not(HasSubstr("s3cret")));
}

TEST_F(DashboardE2eTest, WithATokenEveryRequestNeedsIt) {
  const std::string token = dir_.Write("token", "s3cret-token\n");
  auto dash = StartDashboard({"--token-file", token});
  auto http = dash->Client();
  for (const std::string& path : std::vector<std::string>{
           "/", "/workers", "/sweeps/" + sweep_id_, "/static/dashboard.js",
           "/sweeps/" + sweep_id_ + "/plots/curves.svg", "/sweeps/" + sweep_id_ + "/events"}) {
    auto none = http.Get(path.c_str());
    ASSERT_TRUE(none) << path;
    EXPECT_EQ(none->status, 401) << path;
    EXPECT_EQ(none->body, "") << path;
  }
  auto wrong = http.Get("/", {{"Authorization", "Bearer s3cret-tokeX"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto bearer = http.Get("/", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 200);
  EXPECT_THAT(bearer->body, HasSubstr(sweep_id_));
  auto basic = http.Get("/", {{"Authorization", "Basic " + absl::Base64Escape("me:s3cret-token")}});
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 200);
}

// The documented openssl recipe's certificates (deploy/tls/make-certs.sh): HTTPS with a token.
TEST_F(DashboardE2eTest, ServesHttpsWithTlsCertAndKey) {
  const std::string tls = dir_.File("tls");
  auto certs =
      test_support::RunCommand(std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy/tls/make-certs.sh " +
                               tls + " localhost 127.0.0.1");
  ASSERT_EQ(certs.status, 0) << certs.output;
  const std::string token = dir_.Write("token", "s3cret-token\n");
  auto dash = StartDashboard(
      {"--token-file", token, "--tls-cert", tls + "/server.crt", "--tls-key", tls + "/server.key"});
  EXPECT_THAT(dash->first_line(), HasSubstr("https://127.0.0.1:"));
  httplib::SSLClient https("127.0.0.1", dash->port());
  https.set_ca_cert_path((tls + "/ca.crt").c_str());
  https.enable_server_certificate_verification(true);
  https.set_connection_timeout(5);
  auto page = https.Get("/", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr(sweep_id_));
  auto unauthorized = https.Get("/");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
  // Plain HTTP to the HTTPS port gets no page.
  auto plain = dash->Client().Get("/", {{"Authorization", "Bearer s3cret-token"}});
  EXPECT_TRUE(!plain || plain->status != 200);

  const std::string bad = dir_.Write("bad.pem", "not a certificate\n");
  auto refused =
      test_support::RunProgram({HYPERSWEEP_CLI_BIN, "--server", address_, "dashboard", "--listen",
                                "127.0.0.1:0", "--tls-cert", bad, "--tls-key", bad});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("--tls-cert"));
  EXPECT_THAT(refused.err, Not(HasSubstr("not a certificate")));  // never echo file contents
}

TEST_F(DashboardE2eTest, CancelOnlyWithAllowCancelAndTheCsrfHeader) {
  {
    auto dash = StartDashboard();
    auto http = dash->Client();
    auto res = http.Post(("/sweeps/" + sweep_id_ + "/cancel").c_str(),
                         httplib::Headers{{"X-Hypersweep-Action", "cancel"}}, "", "text/plain");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
    EXPECT_EQ(GetSweep().state(), v1::SWEEP_RUNNING);
  }
  auto dash = StartDashboard({"--allow-cancel"});
  auto http = dash->Client();
  auto page = http.Get("/sweeps/" + sweep_id_);
  ASSERT_TRUE(page);
  EXPECT_THAT(page->body, HasSubstr("id=\"cancel-button\""));
  const std::string url = "/sweeps/" + sweep_id_ + "/cancel";
  auto no_header = http.Post(url.c_str(), "", "text/plain");
  ASSERT_TRUE(no_header);
  EXPECT_EQ(no_header->status, 403);
  auto cross_site = http.Post(
      url.c_str(),
      httplib::Headers{{"X-Hypersweep-Action", "cancel"}, {"Origin", "http://evil.example"}}, "",
      "text/plain");
  ASSERT_TRUE(cross_site);
  EXPECT_EQ(cross_site->status, 403);
  EXPECT_EQ(GetSweep().state(), v1::SWEEP_RUNNING);
  auto ok =
      http.Post(url.c_str(), httplib::Headers{{"X-Hypersweep-Action", "cancel"}}, "", "text/plain");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_THAT(ok->body, HasSubstr("CANCELLED"));
  EXPECT_EQ(GetSweep().state(), v1::SWEEP_CANCELLED);
}

TEST_F(DashboardE2eTest, StoppedCoordinatorGives503AndPagesWorkAgainAfterRestart) {
  auto dash = StartDashboard();
  auto http = dash->Client();
  auto before = http.Get("/sweeps/" + sweep_id_);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200);

  const int port = coordinator_->port();
  coordinator_->Kill(SIGKILL);
  for (const std::string& path : std::vector<std::string>{"/", "/sweeps/" + sweep_id_, "/workers",
                                                          "/sweeps/" + sweep_id_ + "/events"}) {
    auto down = http.Get(path.c_str());
    ASSERT_TRUE(down) << path;
    EXPECT_EQ(down->status, 503) << path;
    if (path != "/sweeps/" + sweep_id_ + "/events") {
      EXPECT_THAT(down->body, HasSubstr("coordinator unavailable")) << path;
      // The page script re-checks it every 5 s and reloads once it answers.
      EXPECT_THAT(down->body, HasSubstr("data-refresh-seconds=\"5\"")) << path;
      EXPECT_THAT(down->body, HasSubstr("id=\"error-title\" data-http-status=\"503\"")) << path;
    }
  }
  EXPECT_TRUE(dash->running());

  test_support::Process restarted(
      {HYPERSWEEPD_BIN, "--listen", "127.0.0.1:" + std::to_string(port), "--db", db()},
      dir_.File("hypersweepd-2.log"));
  int status = 0;
  EXPECT_TRUE(test_support::WaitFor(
      [&] {
        auto r = http.Get("/sweeps/" + sweep_id_);
        status = r ? r->status : -1;
        return status == 200;
      },
      30s))
      << status << " " << restarted.log();
  auto after = http.Get("/");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_THAT(after->body, HasSubstr(sweep_id_));
}

}  // namespace
}  // namespace hypersweep
