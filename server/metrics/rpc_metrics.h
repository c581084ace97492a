// RPC metrics for hypersweepd: a gRPC server interceptor that counts every call by method and
// status code and times it. Interceptors see every service (ours, health, reflection) and every
// way a call ends, without touching each handler in server/service; gRPC 1.51 runs them for
// callback services too (ServerBuilder::experimental().SetInterceptorCreators).
//
// Unary calls are timed in hypersweep_rpc_duration_seconds; AcquireTrial (a long-poll that waits
// up to --max-wait for work) and streaming calls (WatchSweep lasts as long as its sweep) are timed
// in hypersweep_rpc_long_poll_duration_seconds instead, so that their waits do not swamp the
// latency of the calls that do work.
#ifndef HYPERSWEEP_SERVER_METRICS_RPC_METRICS_H_
#define HYPERSWEEP_SERVER_METRICS_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/registry.h"

namespace hypersweep::metrics {

class RpcMetrics {
 public:
  // Registers hypersweep_rpc_requests_total, hypersweep_rpc_duration_seconds and
  // hypersweep_rpc_long_poll_duration_seconds in `registry`, which must outlive this.
  explicit RpcMetrics(Registry& registry);

  // For ServerBuilder::experimental().SetInterceptorCreators. This RpcMetrics must outlive the
  // server the factory is given to.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // One method's children, looked up once per method and kept.
  struct Method {
    std::string name;  // "hypersweep.v1.WorkerService/Heartbeat"
    bool long_poll = false;
    Histogram* duration = nullptr;
    std::array<std::atomic<Counter*>, 17> by_code{};  // grpc::StatusCode 0..16
  };
  // The entry for a full method path ("/pkg.Service/Method"); `streaming`: not a unary call.
  // Bounded: past kMaxSeriesPerFamily methods, unknown ones share the entry "other".
  Method* Lookup(const char* path, bool streaming) ABSL_LOCKS_EXCLUDED(mu_);
  // Counts one call that ended with `code` after `seconds`.
  void Record(Method* m, int code, double seconds);

 private:
  CounterFamily& requests_;
  HistogramFamily& duration_;
  HistogramFamily& long_poll_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Method>, std::less<>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hypersweep::metrics

#endif  // HYPERSWEEP_SERVER_METRICS_RPC_METRICS_H_
