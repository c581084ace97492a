// gRPC adapters (callback API): convert proto <-> domain, check tokens, call the Scheduler, and
// answer from its callbacks, which run after the store commits. No state of their own.
#ifndef HYPERSWEEP_SERVER_SERVICE_SERVICES_H_
#define HYPERSWEEP_SERVER_SERVICE_SERVICES_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hypersweep/v1/service.grpc.pb.h"
#include "server/scheduler/scheduler.h"
#include "server/service/auth.h"
#include "server/service/bounded_executor.h"
#include "server/service/rate_limit.h"

namespace hypersweep {

class SweepServiceImpl final : public v1::SweepService::CallbackService {
 public:
  // Submissions are parsed and expanded on `submit_threads` threads of their own, never on gRPC's;
  // beyond `max_pending_submits` waiting there, SubmitSweep answers RESOURCE_EXHAUSTED at once.
  SweepServiceImpl(Scheduler* scheduler, AuthConfig auth, int submit_threads = 1,
                   size_t max_pending_submits = 8)
      : sched_(scheduler), auth_(std::move(auth)), submits_(submit_threads, max_pending_submits) {}

  grpc::ServerUnaryReactor* SubmitSweep(grpc::CallbackServerContext* ctx,
                                        const v1::SubmitSweepRequest* req,
                                        v1::SubmitSweepResponse* resp) override;
  grpc::ServerUnaryReactor* GetSweep(grpc::CallbackServerContext* ctx,
                                     const v1::GetSweepRequest* req,
                                     v1::GetSweepResponse* resp) override;
  grpc::ServerUnaryReactor* ListSweeps(grpc::CallbackServerContext* ctx,
                                       const v1::ListSweepsRequest* req,
                                       v1::ListSweepsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelSweep(grpc::CallbackServerContext* ctx,
                                        const v1::CancelSweepRequest* req,
                                        v1::CancelSweepResponse* resp) override;
  grpc::ServerUnaryReactor* ListTrials(grpc::CallbackServerContext* ctx,
                                       const v1::ListTrialsRequest* req,
                                       v1::ListTrialsResponse* resp) override;
  grpc::ServerUnaryReactor* GetTrialMetrics(grpc::CallbackServerContext* ctx,
                                            const v1::GetTrialMetricsRequest* req,
                                            v1::GetTrialMetricsResponse* resp) override;
  grpc::ServerUnaryReactor* GetLrCurve(grpc::CallbackServerContext* ctx,
                                       const v1::GetLrCurveRequest* req,
                                       v1::GetLrCurveResponse* resp) override;
  grpc::ServerWriteReactor<v1::SweepEvent>* WatchSweep(grpc::CallbackServerContext* ctx,
                                                       const v1::WatchSweepRequest* req) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* ctx,
                                        const v1::ListWorkersRequest* req,
                                        v1::ListWorkersResponse* resp) override;
  grpc::ServerUnaryReactor* ClearQuarantine(grpc::CallbackServerContext* ctx,
                                            const v1::ClearQuarantineRequest* req,
                                            v1::ClearQuarantineResponse* resp) override;
  grpc::ServerUnaryReactor* ResumeSweep(grpc::CallbackServerContext* ctx,
                                        const v1::ResumeSweepRequest* req,
                                        v1::ResumeSweepResponse* resp) override;

 private:
  Scheduler* const sched_;
  const AuthConfig auth_;
  BoundedExecutor submits_;  // last: joined first, while sched_ is still there
};

// RegisterWorker calls allowed per peer host: this many a second, and bursts of ten times that
// (a node starting all its workers at once); beyond, RESOURCE_EXHAUSTED.
inline constexpr int kRegistrationsPerSecondPerPeer = 10;

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  // registrations_per_second: per peer host (bursts of 10x); 0: no limit.
  WorkerServiceImpl(Scheduler* scheduler, AuthConfig auth, int64_t lease_ttl_ms,
                    int64_t max_wait_ms,
                    int registrations_per_second = kRegistrationsPerSecondPerPeer)
      : sched_(scheduler),
        auth_(std::move(auth)),
        lease_ttl_ms_(lease_ttl_ms),
        max_wait_ms_(max_wait_ms),
        registrations_(registrations_per_second, 10.0 * registrations_per_second) {}

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* ctx,
                                           const v1::RegisterWorkerRequest* req,
                                           v1::RegisterWorkerResponse* resp) override;
  grpc::ServerUnaryReactor* AcquireTrial(grpc::CallbackServerContext* ctx,
                                         const v1::AcquireTrialRequest* req,
                                         v1::AcquireTrialResponse* resp) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const v1::HeartbeatRequest* req,
                                      v1::HeartbeatResponse* resp) override;
  grpc::ServerUnaryReactor* ReportEpochs(grpc::CallbackServerContext* ctx,
                                         const v1::ReportEpochsRequest* req,
                                         v1::ReportEpochsResponse* resp) override;
  grpc::ServerUnaryReactor* ReportLrCurve(grpc::CallbackServerContext* ctx,
                                          const v1::ReportLrCurveRequest* req,
                                          v1::ReportLrCurveResponse* resp) override;
  grpc::ServerUnaryReactor* FinishTrial(grpc::CallbackServerContext* ctx,
                                        const v1::FinishTrialRequest* req,
                                        v1::FinishTrialResponse* resp) override;

 private:
  Scheduler* const sched_;
  const AuthConfig auth_;
  const int64_t lease_ttl_ms_;
  const int64_t max_wait_ms_;
  RateLimiter registrations_;  // per peer host
};

// 8 MiB: a spec at the default --max-spec-bytes (1 MiB) and the longest LR curve (100,000 points,
// about 3.5 MB) fit.
inline constexpr int kDefaultMaxReceiveBytes = 8 << 20;
// List responses stop adding items at this size (a page ends early, its token says where).
inline constexpr size_t kMaxResponseBytes = 16 << 20;

struct GrpcServerOptions {
  std::string listen = "127.0.0.1:7070";
  std::string tls_cert_pem;  // both set: TLS; else plaintext
  std::string tls_key_pem;
  // The largest request the server reads; larger ones are refused by gRPC before they are parsed.
  // Responses are paged to stay below kMaxResponseBytes.
  int max_receive_bytes = kDefaultMaxReceiveBytes;
  // Makes the server's interceptors (metrics: server/metrics/rpc_metrics.h); empty: none.
  std::function<
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>()>
      interceptors;
};

// Builds and starts a server with the given services, grpc.health.v1 and server reflection.
// *port receives the bound port (useful with port 0). UNAVAILABLE when it cannot bind.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const GrpcServerOptions& options, const std::vector<grpc::Service*>& services, int* port);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_SERVICES_H_
