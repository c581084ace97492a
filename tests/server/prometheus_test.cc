// hypersweepd's /metrics (docs/METRICS.md) with real processes on loopback: the metric names the
// docs list are served with the documented types; a real Prometheus (Debian's `prometheus`,
// installed by `make deps`) started with the shipped deploy/prometheus/prometheus.yml (only the
// target port, the intervals and the paths changed) sees the target up and the finished-trials
// counter move while simulated workers run a sweep; promtool accepts the shipped config and alert
// rules; a non-loopback --metrics-listen without a token or TLS is refused; with a token, a
// request without it gets 401.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

namespace fs = std::filesystem;
using test_support::Process;
using test_support::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kPromtool = "/usr/bin/promtool";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Scratch(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "hs_prom_" + name + "_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A port nobody listens on now (the kernel's pick for a socket closed again).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// The number after `prefix` in `text`, 0 if absent.
int PortAfter(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix);
  return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + prefix.size());
}

// hypersweepd on loopback with /metrics on a kernel-chosen port.
struct Daemon {
  Daemon(const std::string& dir, std::vector<std::string> extra = {},
         const std::string& scheme = "http")
      : log(dir + "/hypersweepd.log"),
        process(
            [&] {
              std::vector<std::string> argv = {HYPERSWEEPD_BIN, "--listen",     "127.0.0.1:0",
                                               "--db",          dir + "/hs.db", "--metrics-listen",
                                               "127.0.0.1:0",   "--lease-ttl",  "5s"};
              argv.insert(argv.end(), extra.begin(), extra.end());
              return argv;
            }(),
            dir + "/hypersweepd.log") {
    WaitFor(
        [&] {
          const std::string l = process.log();
          return l.find("listening on 127.0.0.1:") != std::string::npos &&
                 l.find("event=serving_metrics url=" + scheme + "://127.0.0.1:") !=
                     std::string::npos;
        },
        std::chrono::seconds(20));
    const std::string l = process.log();
    grpc_port = PortAfter(l, "listening on 127.0.0.1:");
    metrics_port = PortAfter(l, "event=serving_metrics url=" + scheme + "://127.0.0.1:");
    EXPECT_GT(grpc_port, 0) << l;
    EXPECT_GT(metrics_port, 0) << l;
  }
  std::string log;
  Process process;
  int grpc_port = 0;
  int metrics_port = 0;
};

httplib::Result Get(int port, const std::string& path, const std::string& token = "") {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return c.Get(path.c_str(), h);
}

// docs/METRICS.md's table: name -> type.
std::map<std::string, std::string> DocumentedMetrics() {
  std::map<std::string, std::string> out;
  std::istringstream doc(ReadText(std::string(HYPERSWEEP_SOURCE_DIR) + "/docs/METRICS.md"));
  const std::regex row(R"(^\| `(hypersweep_[a-z0-9_]+)` \| (counter|gauge|histogram) \|)");
  std::string line;
  std::smatch m;
  while (std::getline(doc, line)) {
    if (std::regex_search(line, m, row)) out[m[1]] = m[2];
  }
  return out;
}

// Served families: name -> type, from the # TYPE lines; also checks each sample line's form.
std::map<std::string, std::string> ServedMetrics(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  const std::regex sample(
      R"re(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\+Inf|-Inf|NaN|-?[0-9.eE+-]+)$)re");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, type)) {
      out[m[1]] = m[2];
    } else if (line.rfind("# HELP ", 0) != 0) {
      EXPECT_TRUE(std::regex_match(line, sample)) << "not a sample line: " << line;
    }
  }
  return out;
}

std::unique_ptr<grpc::ClientContext> Ctx(int ms = 10'000) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return c;
}

// A simulated worker: acquire, report one epoch, take `pause`, finish SUCCEEDED; until `stop` or
// no work for a second.
void RunWorker(std::shared_ptr<grpc::Channel> ch, std::atomic<bool>* stop,
               std::chrono::milliseconds pause) {
  auto stub = v1::WorkerService::NewStub(ch);
  v1::RegisterWorkerRequest reg;
  reg.mutable_capabilities()->set_host("sim");
  v1::RegisterWorkerResponse regr;
  ASSERT_TRUE(stub->RegisterWorker(Ctx().get(), reg, &regr).ok());
  while (!*stop) {
    v1::AcquireTrialRequest req;
    req.set_worker_id(regr.worker_id());
    req.set_max_wait_ms(1000);
    v1::AcquireTrialResponse a;
    if (!stub->AcquireTrial(Ctx(6000).get(), req, &a).ok() || !a.acquired()) return;
    v1::ReportEpochsRequest rep;
    *rep.mutable_lease() = a.lease();
    v1::EpochMetrics* e = rep.add_epochs();
    e->set_epoch(0);
    (*e->mutable_metrics())["val_loss"] = 0.5;
    v1::ReportEpochsResponse repr;
    EXPECT_TRUE(stub->ReportEpochs(Ctx().get(), rep, &repr).ok());
    std::this_thread::sleep_for(pause);
    v1::FinishTrialRequest f;
    *f.mutable_lease() = a.lease();
    f.set_status(v1::SUCCEEDED);
    v1::FinishTrialResponse fr;
    EXPECT_TRUE(stub->FinishTrial(Ctx().get(), f, &fr).ok());
  }
}

std::string SubmitSweep(int grpc_port, int trials) {
  auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                grpc::InsecureChannelCredentials());
  auto stub = v1::SweepService::NewStub(ch);
  v1::SubmitSweepRequest sub;
  sub.set_spec(
      "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n"
      "random: {trials: " +
      std::to_string(trials) + ", params: {momentum: {uniform: [0.5, 0.9]}}}\n");
  v1::SubmitSweepResponse subr;
  grpc::Status s = stub->SubmitSweep(Ctx().get(), sub, &subr);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return subr.sweep().id();
}

// Prometheus's instant query: the value of the first result, or -1 when there is none.
double Query(int port, const std::string& promql) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  auto res = c.Get(("/api/v1/query?query=" + httplib::detail::encode_query_param(promql)).c_str());
  if (!res || res->status != 200) return -1;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded() || j["status"] != "success") return -1;
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.empty()) return -1;
  return std::stod(result[0]["value"][1].get<std::string>());
}

TEST(MetricsEndpointTest, ServesEveryDocumentedMetricWithItsType) {
  const std::string dir = Scratch("names");
  Daemon d(dir);
  ASSERT_GT(d.metrics_port, 0);
  SubmitSweep(d.grpc_port, 3);  // some RPCs and commits, so the series have samples
  const auto start = std::chrono::steady_clock::now();
  auto res = Get(d.metrics_port, "/metrics");
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::printf("METRICS_SCRAPE %zu bytes in %.2f ms\n", res->body.size(), ms);
  const auto documented = DocumentedMetrics();
  ASSERT_GE(documented.size(), 15u) << "docs/METRICS.md's table was not parsed";
  const auto served = ServedMetrics(res->body);
  for (const auto& [name, type] : documented) {
    auto it = served.find(name);
    ASSERT_NE(it, served.end()) << name << " is in docs/METRICS.md but not served";
    EXPECT_EQ(it->second, type) << name;
  }
  for (const auto& [name, type] : served) {
    EXPECT_EQ(documented.count(name), 1u) << name << " is served but not in docs/METRICS.md";
  }
  EXPECT_THAT(res->body, HasSubstr("hypersweep_trials{status=\"QUEUED\"} 3\n"));
  EXPECT_THAT(res->body, HasSubstr("hypersweep_sweeps{state=\"RUNNING\"} 1\n"));
  EXPECT_THAT(res->body, HasSubstr("hypersweep_queue_leasable_trials 3\n"));
  EXPECT_THAT(res->body, HasSubstr("hypersweep_rpc_requests_total{method=\"hypersweep.v1."
                                   "SweepService/SubmitSweep\",code=\"OK\"} 1\n"));
  EXPECT_THAT(res->body, HasSubstr("hypersweep_database_size_bytes{file=\"db\"} "));
  EXPECT_THAT(res->body, Not(HasSubstr("hypersweep_database_size_bytes{file=\"db\"} 0\n")));
  auto other = Get(d.metrics_port, "/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

TEST(PrometheusTest, ScrapesTheTargetAndSeesTrialsFinish) {
  ASSERT_TRUE(fs::exists(kPrometheus))
      << kPrometheus << " is missing: `make deps` installs Debian's prometheus package";
  const std::string dir = Scratch("scrape");
  Daemon d(dir);
  ASSERT_GT(d.metrics_port, 0);

  // The shipped config, changed only where the test must: the target's port and the intervals.
  std::string config =
      ReadText(std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy/prometheus/prometheus.yml");
  ASSERT_THAT(config, HasSubstr("127.0.0.1:9464"));
  ASSERT_THAT(config, HasSubstr("rule_files:"));
  config = std::regex_replace(config, std::regex("127\\.0\\.0\\.1:9464"),
                              "127.0.0.1:" + std::to_string(d.metrics_port));
  config = std::regex_replace(config, std::regex("(scrape|evaluation)_interval: 15s"),
                              "$1_interval: 1s");
  { std::ofstream(dir + "/prometheus.yml") << config; }
  fs::copy_file(std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy/prometheus/alerts.yml",
                dir + "/alerts.yml", fs::copy_options::overwrite_existing);
  const int prom_port = FreePort();
  ASSERT_GT(prom_port, 0);
  Process prom({kPrometheus, "--config.file=" + dir + "/prometheus.yml",
                "--storage.tsdb.path=" + dir + "/tsdb",
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
               dir + "/prometheus.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Get(prom_port, "/-/ready");
        return r && r->status == 200;
      },
      std::chrono::seconds(30)))
      << prom.log();
  ASSERT_TRUE(WaitFor([&] { return Query(prom_port, "up{job=\"hypersweepd\"}") == 1; },
                      std::chrono::seconds(20)))
      << "the target never came up\n"
      << prom.log();
  // The alert rules were loaded from the shipped file.
  auto rules = Get(prom_port, "/api/v1/rules");
  ASSERT_TRUE(rules);
  EXPECT_THAT(rules->body, HasSubstr("HypersweepCoordinatorDown"));
  EXPECT_THAT(rules->body, HasSubstr("HypersweepNoLiveWorkersWithWorkQueued"));
  EXPECT_THAT(rules->body, HasSubstr("HypersweepCommitErrors"));

  const std::string finished = "sum(hypersweep_trials_finished_total{job=\"hypersweepd\"})";
  const double before = Query(prom_port, finished);
  ASSERT_EQ(before, 0) << "no trial has run yet";
  SubmitSweep(d.grpc_port, 40);
  std::atomic<bool> stop{false};
  auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(d.grpc_port),
                                grpc::InsecureChannelCredentials());
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back(RunWorker, ch, &stop, std::chrono::milliseconds(100));
  }
  // Prometheus sees the counter move while the sweep runs (two scrapes with different values).
  double first_moving = -1, later = -1;
  const bool moved = WaitFor(
      [&] {
        const double v = Query(prom_port, finished);
        if (v > 0 && first_moving < 0) first_moving = v;
        later = v;
        return first_moving > 0 && v > first_moving;
      },
      std::chrono::seconds(30));
  const double running = Query(prom_port, "hypersweep_sweeps{state=\"RUNNING\"}");
  stop = true;
  for (auto& t : workers) t.join();
  EXPECT_TRUE(moved) << "finished trials seen by Prometheus: first " << first_moving << ", then "
                     << later;
  EXPECT_EQ(running, 1) << "the sweep was still running while the counter moved";
  EXPECT_GE(Query(prom_port, "hypersweep_workers_registered"), 2);
  EXPECT_GT(Query(prom_port,
                  "sum(hypersweep_rpc_requests_total{method=\"hypersweep.v1.WorkerService/"
                  "FinishTrial\",code=\"OK\"})"),
            0);
  EXPECT_EQ(Query(prom_port, "hypersweep_commit_errors_total"), 0);
}

TEST(PrometheusTest, PromtoolAcceptsTheShippedConfigAndRules) {
  ASSERT_TRUE(fs::exists(kPromtool))
      << kPromtool << " is missing: `make deps` installs Debian's prometheus package";
  const std::string deploy = std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy/prometheus";
  auto rules = test_support::RunProgram({kPromtool, "check", "rules", deploy + "/alerts.yml"});
  EXPECT_EQ(rules.exit_code, 0) << rules.out << rules.err;
  EXPECT_THAT(rules.out + rules.err, HasSubstr("SUCCESS: 3 rules found"));
  auto config =
      test_support::RunProgram({kPromtool, "check", "config", deploy + "/prometheus.yml"});
  EXPECT_EQ(config.exit_code, 0) << config.out << config.err;
  // And a broken rule file is refused, so the check above can fail.
  const std::string dir = Scratch("promtool");
  std::ofstream(dir + "/bad.yml")
      << "groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: rate(up[\n";
  auto bad = test_support::RunProgram({kPromtool, "check", "rules", dir + "/bad.yml"});
  EXPECT_NE(bad.exit_code, 0);
}

int ExitCodeOf(Process& p) {
  const int status = p.Wait(std::chrono::seconds(20));
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MetricsListenPolicyTest, NonLoopbackNeedsTokenAndTls) {
  const std::string dir = Scratch("policy");
  { std::ofstream(dir + "/metrics.token") << "metrics-token-0123456789abcdef\n"; }
  {
    Process p({HYPERSWEEPD_BIN, "--listen", "127.0.0.1:0", "--db", ":memory:", "--metrics-listen",
               "0.0.0.0:0"},
              dir + "/no_token.log");
    EXPECT_EQ(ExitCodeOf(p), 2);
    EXPECT_THAT(p.log(), HasSubstr("refusing to serve metrics on non-loopback address 0.0.0.0:0 "
                                   "without --metrics-token-file"));
  }
  {
    Process p({HYPERSWEEPD_BIN, "--listen", "127.0.0.1:0", "--db", ":memory:", "--metrics-listen",
               "0.0.0.0:0", "--metrics-token-file", dir + "/metrics.token"},
              dir + "/no_tls.log");
    EXPECT_EQ(ExitCodeOf(p), 2);
    EXPECT_THAT(p.log(), HasSubstr("refusing to serve metrics on non-loopback address 0.0.0.0:0 "
                                   "in plaintext"));
  }
}

TEST(MetricsListenPolicyTest, WithATokenARequestWithoutItGets401) {
  const std::string dir = Scratch("token");
  { std::ofstream(dir + "/metrics.token") << "metrics-token-0123456789abcdef\n"; }
  Daemon d(dir, {"--metrics-token-file", dir + "/metrics.token"});
  ASSERT_GT(d.metrics_port, 0);
  auto none = Get(d.metrics_port, "/metrics");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_THAT(none->body, Not(HasSubstr("hypersweep_")));
  auto wrong = Get(d.metrics_port, "/metrics", "metrics-token-0123456789abcdeX");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto good = Get(d.metrics_port, "/metrics", "metrics-token-0123456789abcdef");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_THAT(good->body, HasSubstr("hypersweep_build_info{version="));
}

// With the coordinator's --tls-cert/--tls-key, /metrics is HTTPS with the same certificate: a
// client that trusts the CA reads it, and plain HTTP gets no metrics.
TEST(MetricsListenPolicyTest, TlsServesHttpsWithTheCoordinatorsCertificate) {
  const std::string dir = Scratch("tls");
  auto certs = test_support::RunCommand(std::string(HYPERSWEEP_SOURCE_DIR) +
                                        "/deploy/tls/make-certs.sh " + dir + "/tls 127.0.0.1");
  ASSERT_EQ(certs.status, 0) << certs.output;
  Daemon d(dir, {"--tls-cert", dir + "/tls/server.crt", "--tls-key", dir + "/tls/server.key"},
           "https");
  ASSERT_GT(d.metrics_port, 0) << d.process.log();
  httplib::SSLClient tls("127.0.0.1", d.metrics_port);
  tls.set_ca_cert_path((dir + "/tls/ca.crt").c_str());
  tls.enable_server_certificate_verification(true);
  auto res = tls.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("hypersweep_build_info{version="));
  auto plain = Get(d.metrics_port, "/metrics");
  EXPECT_TRUE(!plain || plain->body.find("hypersweep_") == std::string::npos);
}

}  // namespace
}  // namespace hypersweep
