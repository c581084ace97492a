#include "server/coordinator.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/service/listen_address.h"
#include "server/store/group_commit.h"

namespace hypersweep {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options) {
  const MetricsOptions& m = options.metrics;
  if (!m.listen.empty()) RETURN_IF_ERROR(CheckMetricsListenPolicy(m));
  auto c = std::unique_ptr<Coordinator>(new Coordinator());
  GrpcServerOptions grpc_options = options.grpc;
  if (!m.listen.empty()) {
    c->metrics_ = std::make_unique<metrics::CoordinatorMetrics>(options.store.path);
    metrics::RpcMetrics* rpc = &c->metrics_->rpc();
    grpc_options.interceptors = [rpc] {
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> v;
      v.push_back(rpc->InterceptorFactory());
      return v;
    };
  }
  ASSIGN_OR_RETURN(c->store_, Store::Open(options.store));
  if (c->metrics_) {
    // Both stores are group-commit stores; the observer sees every transaction from now on.
    if (auto* gc = dynamic_cast<GroupCommitStore*>(c->store_.get())) {
      gc->SetCommitObserver(c->metrics_->Observer());
    }
  }
  ASSIGN_OR_RETURN(c->scheduler_,
                   Scheduler::Create(c->store_.get(), options.clock, options.scheduler));
  c->scheduler_->StartReaper();
  c->sweeps_ = std::make_unique<SweepServiceImpl>(c->scheduler_.get(), options.auth);
  c->workers_ = std::make_unique<WorkerServiceImpl>(
      c->scheduler_.get(), options.auth, options.scheduler.lease_ttl_ms,
      options.scheduler.max_acquire_wait_ms, options.registrations_per_second);
  ASSIGN_OR_RETURN(c->server_,
                   StartGrpcServer(grpc_options, {c->sweeps_.get(), c->workers_.get()}, &c->port_));
  if (c->metrics_) {
    c->metrics_->WatchScheduler(c->scheduler_.get());
    metrics::HttpServerOptions http;
    http.listen = m.listen;
    http.bearer_token = m.bearer_token;
    http.tls_cert_path = m.tls_cert_path;
    http.tls_key_path = m.tls_key_path;
    metrics::Registry* registry = &c->metrics_->registry();
    ASSIGN_OR_RETURN(c->metrics_http_,
                     metrics::HttpServer::Start(http, [registry] { return registry->Render(); }));
  }
  return c;
}

absl::Status CheckMetricsListenPolicy(const MetricsOptions& m) {
  if (IsLoopbackAddress(m.listen)) return absl::OkStatus();
  if (m.bearer_token.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve metrics on non-loopback address ", m.listen,
        " without --metrics-token-file (anyone who can reach it could read the coordinator's "
        "state)"));
  }
  if ((m.tls_cert_path.empty() || m.tls_key_path.empty()) && !m.insecure_plaintext) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve metrics on non-loopback address ", m.listen,
        " in plaintext: the bearer token would cross the network in clear; give --tls-cert and "
        "--tls-key, or --insecure-plaintext on a network you trust"));
  }
  return absl::OkStatus();
}

Coordinator::~Coordinator() { Shutdown(absl::Seconds(5)); }

void Coordinator::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (metrics_http_) metrics_http_->Stop();  // it reads the scheduler
  if (scheduler_) scheduler_->Shutdown();
  if (server_)
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  if (store_) store_->Close();
}

}  // namespace hypersweep
