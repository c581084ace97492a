// The coordinator, wired: opens the Store, rebuilds the Scheduler from it, starts the reaper,
// builds the gRPC services and starts the server. The one place that wires the layers together
// (STYLE 1), used by hypersweepd (server/main.cc) and by the in-process test server
// (tests/server/test_server.h). Flags, signals and printing stay in main.cc.
#ifndef HYPERSWEEP_SERVER_COORDINATOR_H_
#define HYPERSWEEP_SERVER_COORDINATOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/metrics/coordinator_metrics.h"
#include "server/metrics/http_server.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/service/auth.h"
#include "server/service/services.h"
#include "server/store/store.h"

namespace hypersweep {

// GET /metrics in the Prometheus text format (docs/METRICS.md). Off unless `listen` is set. A
// non-loopback address needs a bearer token and TLS (or insecure_plaintext), like the gRPC port.
struct MetricsOptions {
  std::string listen;         // host:port (port 0 picks one); empty: no metrics
  std::string bearer_token;   // --metrics-token-file's token; empty: none asked
  std::string tls_cert_path;  // both set (the coordinator's --tls-cert/--tls-key): HTTPS
  std::string tls_key_path;
  bool insecure_plaintext = false;
};

struct CoordinatorOptions {
  StoreOptions store;          // the database file (or :memory:) and whether commits fsync
  SchedulerOptions scheduler;  // lease TTL, long-poll bound, attempts, quarantine threshold
  AuthConfig auth;             // bearer tokens; empty: none needed
  GrpcServerOptions grpc;      // listen address (port 0 picks one), TLS
  MetricsOptions metrics;      // the /metrics endpoint; off by default
  // RegisterWorker calls per second per peer host (bursts of 10x); 0: no limit.
  int registrations_per_second = kRegistrationsPerSecondPerPeer;
  Clock* clock = SystemClock::Get();  // not owned; must outlive the Coordinator
};

// OK when /metrics may be served on m.listen as configured: loopback, or a bearer token and TLS
// (or insecure_plaintext). FAILED_PRECONDITION saying what is missing otherwise.
absl::Status CheckMetricsListenPolicy(const MetricsOptions& m);

class Coordinator {
 public:
  // Opens the store, creates the scheduler from it and starts its reaper, then the services and
  // the gRPC server. The store's, the scheduler's or the server's error (e.g. UNAVAILABLE when
  // the address cannot be bound) when a step fails; what was started is stopped again.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options);
  // Shutdown(absl::Seconds(5)) unless Shutdown ran already.
  ~Coordinator();

  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Ends long-polls, stops accepting calls and gives in-flight ones up to `grace` to finish
  // (their commits complete), then drains and closes the store. Idempotent.
  // Not thread-safe: call it from one thread (the one that owns the Coordinator).
  void Shutdown(absl::Duration grace);

  // The bound port.
  int port() const { return port_; }
  // The bound /metrics port; 0 when metrics are off.
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }
  Scheduler* scheduler() { return scheduler_.get(); }

 private:
  Coordinator() = default;

  // Destroyed in reverse order: the server before the services it calls, the scheduler before
  // the store it writes to, the metrics (which the store's observer and the server's
  // interceptors feed) last. The /metrics server stops first (it reads the scheduler).
  std::unique_ptr<metrics::CoordinatorMetrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<SweepServiceImpl> sweeps_;
  std::unique_ptr<WorkerServiceImpl> workers_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<metrics::HttpServer> metrics_http_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_COORDINATOR_H_
