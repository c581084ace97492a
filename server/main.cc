// hypersweepd: the coordinator. Parses flags, blocks signals and runs a Coordinator (which wires
// the store, the scheduler and the gRPC services together) until SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/log.h"
#include "rpc/token_file.h"
#include "server/coordinator.h"
#include "server/service/listen_address.h"
#include "server/store/sqlite_schema.h"

namespace hypersweep {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(what + ": cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Run(int argc, char** argv) {
  CLI::App app{"hypersweepd: the hypersweep coordinator (sweeps, leases, results in SQLite)"};
  std::string listen = "127.0.0.1:7070", db, client_token_file, worker_token_file,
              operator_token_file, tls_cert, tls_key, lease_ttl = "30s", max_wait = "60s",
              worker_expiry = "24h", log_format = "text", log_level = "info";
  int registration_rate = kRegistrationsPerSecondPerPeer;
  bool no_sync = false, insecure_plaintext = false;
  int64_t max_spec_bytes = kDefaultMaxSpecBytes, max_sweep_trials = kDefaultMaxSweepTrials,
          max_queued_trials = SchedulerOptions().max_queued_trials;
  app.add_option("--listen", listen, "address to listen on (host:port; port 0 picks one)")
      ->capture_default_str();
  app.add_option("--db", db, "SQLite database file (created if missing), or :memory:")->required();
  app.add_option("--client-token-file", client_token_file, "bearer token for SweepService (CLI)");
  app.add_option("--worker-token-file", worker_token_file, "bearer token for WorkerService");
  app.add_option("--operator-token-file", operator_token_file,
                 "bearer token for operator calls (ClearQuarantine); without it, and with other "
                 "tokens set, those calls are refused");
  app.add_option("--tls-cert", tls_cert, "PEM certificate (with --tls-key: serve TLS)");
  app.add_option("--tls-key", tls_key, "PEM private key");
  app.add_option("--lease-ttl", lease_ttl, "lease TTL, e.g. 30s, 500ms, 2m")->capture_default_str();
  app.add_option("--max-wait", max_wait, "longest AcquireTrial long-poll")->capture_default_str();
  app.add_option("--worker-expiry", worker_expiry,
                 "forget workers not seen for this long that hold no lease (0: never)")
      ->capture_default_str();
  app.add_option("--registration-rate", registration_rate,
                 "RegisterWorker calls allowed per second per peer host, in bursts of 10x "
                 "(0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-sync", no_sync,
               "commit without fsync (survives a crash of hypersweepd, not of the machine)");
  app.add_flag("--insecure-plaintext", insecure_plaintext,
               "allow a non-loopback address without TLS (tokens then cross the network in clear)");
  app.add_option("--max-spec-bytes", max_spec_bytes,
                 "largest sweep spec accepted, in bytes (checked before parsing)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{64} << 20));
  app.add_option("--max-sweep-trials", max_sweep_trials, "most trials one sweep may expand to")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxTrialsPerSweep));
  app.add_option("--max-queued-trials", max_queued_trials,
                 "most trials queued or running over all sweeps; a submit beyond is refused")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--log-format", log_format,
                 "log lines on stderr: text (key=value) or json (one object per line)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "least level logged: debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  // Metrics (docs/METRICS.md): off unless --metrics-listen; non-loopback like --listen.
  std::string metrics_listen, metrics_token_file;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve GET /metrics (Prometheus text) on host:port, e.g. 127.0.0.1:9464");
  app.add_option("--metrics-token-file", metrics_token_file,
                 "bearer token /metrics asks for (needed on a non-loopback --metrics-listen)");
  CLI11_PARSE(app, argc, argv);
  {
    log::Format format = log::Format::kText;
    log::Level level = log::Level::kInfo;
    log::ParseFormat(log_format, &format);
    log::ParseLevel(log_level, &level);
    log::Configure(format, level, "hypersweepd");
  }

  auto fail = [](const std::string& msg) {
    std::cerr << "hypersweepd: " << msg << "\n";
    return 2;
  };
  absl::Duration ttl, wait;
  if (!absl::ParseDuration(lease_ttl, &ttl) || ttl <= absl::ZeroDuration()) {
    return fail("--lease-ttl: expected a positive duration like 30s, got '" + lease_ttl + "'");
  }
  if (!absl::ParseDuration(max_wait, &wait) || wait < absl::ZeroDuration()) {
    return fail("--max-wait: expected a duration like 60s, got '" + max_wait + "'");
  }
  absl::Duration expiry;
  if (!absl::ParseDuration(worker_expiry, &expiry) || expiry < absl::ZeroDuration()) {
    return fail("--worker-expiry: expected a duration like 24h, got '" + worker_expiry + "'");
  }
  AuthConfig auth;
  for (auto [file, token] : {std::pair{&client_token_file, &auth.client_token},
                             std::pair{&worker_token_file, &auth.worker_token},
                             std::pair{&operator_token_file, &auth.operator_token}}) {
    if (file->empty()) continue;
    auto t = ReadTokenFile(*file);
    if (!t.ok()) return fail(std::string(t.status().message()));
    *token = *t;
  }
  if (!auth.client_token.empty() && auth.client_token == auth.worker_token) {
    return fail("the client and worker tokens must differ");
  }
  if (!auth.operator_token.empty() &&
      (auth.operator_token == auth.client_token || auth.operator_token == auth.worker_token)) {
    return fail("the operator token must differ from the client and worker tokens");
  }
  if (tls_cert.empty() != tls_key.empty()) return fail("--tls-cert and --tls-key go together");
  ListenPolicy policy;
  policy.client_token = !auth.client_token.empty();
  policy.worker_token = !auth.worker_token.empty();
  policy.tls = !tls_cert.empty();
  policy.insecure_plaintext = insecure_plaintext;
  if (auto s = CheckListenPolicy(listen, policy); !s.ok()) return fail(std::string(s.message()));
  GrpcServerOptions grpc_options;
  grpc_options.listen = listen;
  // gRPC refuses anything larger before it is parsed; a spec at the limit still fits.
  grpc_options.max_receive_bytes = static_cast<int>(
      std::max<int64_t>(kDefaultMaxReceiveBytes, max_spec_bytes + (int64_t{1} << 20)));
  if (!tls_cert.empty()) {
    auto cert = ReadFile(tls_cert, "--tls-cert");
    auto key = ReadFile(tls_key, "--tls-key");
    if (!cert.ok()) return fail(std::string(cert.status().message()));
    if (!key.ok()) return fail(std::string(key.status().message()));
    grpc_options.tls_cert_pem = *cert;
    grpc_options.tls_key_pem = *key;
  }

  // Lock-order checking costs a graph lookup per lock in absl builds that enable it; the
  // annotations and the clang -Wthread-safety build are our checks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // SIGTERM/SIGINT are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CoordinatorOptions options;
  options.store.path = db;
  options.store.sync = !no_sync;
  options.scheduler.lease_ttl_ms = absl::ToInt64Milliseconds(ttl);
  options.scheduler.max_acquire_wait_ms = absl::ToInt64Milliseconds(wait);
  options.scheduler.spec_limits.max_spec_bytes = max_spec_bytes;
  options.scheduler.spec_limits.max_sweep_trials = max_sweep_trials;
  options.scheduler.max_queued_trials = max_queued_trials;
  options.scheduler.worker_expiry_ms = absl::ToInt64Milliseconds(expiry);
  options.registrations_per_second = registration_rate;
  options.auth = auth;
  options.grpc = grpc_options;
  options.metrics = {metrics_listen, "", tls_cert, tls_key, insecure_plaintext};
  if (!metrics_token_file.empty()) {
    auto t = ReadTokenFile(metrics_token_file);
    if (!t.ok()) return fail(std::string(t.status().message()));
    options.metrics.bearer_token = *t;
  }
  if (auto s =
          metrics_listen.empty() ? absl::OkStatus() : CheckMetricsListenPolicy(options.metrics);
      !s.ok()) {
    return fail(std::string(s.message()));  // exit 2, like --listen's policy
  }
  auto coordinator = Coordinator::Start(options);
  if (!coordinator.ok()) {
    const int code = coordinator.status().code() == absl::StatusCode::kFailedPrecondition ? 3 : 2;
    log::Error("start_failed",
               {{"db", db}, {"error", coordinator.status().message()}, {"exit_code", code}});
    log::Flush();
    std::cerr << "hypersweepd: " << coordinator.status().message() << "\n";
    return code;
  }
  if (int mp = (*coordinator)->metrics_port(); mp != 0) {
    std::string mhost = HostOf(metrics_listen);
    if (mhost.find(':') != std::string::npos) mhost = "[" + mhost + "]";  // IPv6
    log::Info("serving_metrics", {{"url", absl::StrCat(tls_cert.empty() ? "http" : "https", "://",
                                                       mhost, ":", mp, "/metrics")}});
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  log::Info("serving", {{"address", absl::StrCat(host, ":", (*coordinator)->port())},
                        {"tls", !grpc_options.tls_cert_pem.empty()},
                        {"db", db},
                        {"schema_version", kSchemaVersion},
                        {"sync", !no_sync},
                        {"lease_ttl_ms", options.scheduler.lease_ttl_ms}});
  std::printf("hypersweepd listening on %s:%d (%s, db %s)\n", host.c_str(), (*coordinator)->port(),
              grpc_options.tls_cert_pem.empty() ? "plaintext" : "TLS", db.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  log::Info("shutting_down", {{"signal", sig}});
  // End long-polls, stop accepting and let in-flight calls finish (their commits complete), then
  // drain the store's queue.
  (*coordinator)->Shutdown(absl::Seconds(5));
  log::Info("stopped");
  log::Flush();
  return 0;
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
int RunBackupCommand(int argc, char** argv);  // server/backup_main.cc
}  // namespace hypersweep

int main(int argc, char** argv) {
  // `hypersweepd backup ...` and `hypersweepd restore ...`: subcommands; anything else is the
  // coordinator's own flags.
  const std::string first = argc > 1 ? argv[1] : "";
  if (first == "backup" || first == "restore") return hypersweep::RunBackupCommand(argc, argv);
  return hypersweep::Run(argc, argv);
}
