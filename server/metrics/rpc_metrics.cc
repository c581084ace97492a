#include "server/metrics/rpc_metrics.h"

#include <chrono>
#include <cstring>

namespace hypersweep::metrics {
namespace {

const char* CodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

constexpr const char* kLongPollMethods[] = {"/hypersweep.v1.WorkerService/AcquireTrial"};

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  Interceptor(RpcMetrics* metrics, RpcMetrics::Method* method)
      : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {}
  // A call that ends without a status sent (the client went away) counts as CANCELLED.
  ~Interceptor() override {
    if (!recorded_) Record(static_cast<int>(grpc::StatusCode::CANCELLED));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!recorded_ && methods->QueryInterceptionHookPoint(
                          grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  void Record(int code) {
    recorded_ = true;
    const std::chrono::duration<double> d = std::chrono::steady_clock::now() - start_;
    metrics_->Record(method_, code, d.count());
  }

  RpcMetrics* const metrics_;
  RpcMetrics::Method* const method_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const bool streaming = info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY;
    return new Interceptor(metrics_, metrics_->Lookup(info->method(), streaming));
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

RpcMetrics::RpcMetrics(Registry& registry)
    : requests_(registry.AddCounter("hypersweep_rpc_requests_total",
                                    "gRPC calls handled, by method and status code.",
                                    {"method", "code"})),
      duration_(registry.AddHistogram(
          "hypersweep_rpc_duration_seconds",
          "Time from the start of a unary call to its status, by method (AcquireTrial and "
          "streams are in hypersweep_rpc_long_poll_duration_seconds).",
          {"method"},
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
           5, 10})),
      long_poll_(registry.AddHistogram(
          "hypersweep_rpc_long_poll_duration_seconds",
          "Time from the start to the end of an AcquireTrial long-poll or a stream (WatchSweep), "
          "by method.",
          {"method"}, {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600})) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<Factory>(this);
}

RpcMetrics::Method* RpcMetrics::Lookup(const char* path, bool streaming) {
  const std::string_view key(path == nullptr ? "" : path);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(key);
    if (it != methods_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  std::string name(key);
  if (methods_.size() >= kMaxSeriesPerFamily && methods_.find(key) == methods_.end()) {
    name = "other";  // bounded: a client naming endless unknown methods adds nothing
  }
  auto& slot = methods_[name];
  if (!slot) {
    slot = std::make_unique<Method>();
    slot->name = !name.empty() && name[0] == '/' ? name.substr(1) : name;
    slot->long_poll = streaming;
    for (const char* m : kLongPollMethods) slot->long_poll |= name == m;
    slot->duration = (slot->long_poll ? long_poll_ : duration_).With({slot->name});
  }
  return slot.get();
}

void RpcMetrics::Record(Method* m, int code, double seconds) {
  if (code < 0 || code > 16) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
  Counter* c = m->by_code[code].load(std::memory_order_acquire);
  if (c == nullptr) {
    c = requests_.With({m->name, CodeName(code)});  // the same child for every caller
    m->by_code[code].store(c, std::memory_order_release);
  }
  c->Inc();
  m->duration->Observe(seconds);
}

}  // namespace hypersweep::metrics
