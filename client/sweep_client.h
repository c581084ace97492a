// The CLI's side of SweepService: one typed helper (CallUnary) for every unary RPC, so each call
// gets the same context (bearer token, deadline) and the same errors (naming the server), and
// SweepClient, which adds pagination and batching on top.
#ifndef HYPERSWEEP_CLIENT_SWEEP_CLIENT_H_
#define HYPERSWEEP_CLIENT_SWEEP_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "rpc/config.h"

namespace hypersweep {

// How every call to one server is made.
struct CallSettings {
  std::string address;                         // host:port, named in errors
  std::string token;                           // bearer token; empty: none
  absl::Duration timeout = absl::Seconds(60);  // deadline of each unary call
};

// Sets up `ctx` for a call: the token's "authorization" metadata, and the deadline
// now + settings.timeout when `with_deadline` (streams that last as long as a sweep have none).
void PrepareContext(const CallSettings& settings, bool with_deadline, grpc::ClientContext* ctx);

// grpc::Status -> absl::Status with the same code. Authentication failures and unreachable or
// timed-out servers get a message naming settings.address ("hypersweepd at ADDR: ...",
// "authentication failed at ADDR: ... (check --token-file / HYPERSWEEP_TOKEN)"); other errors
// keep the server's message.
absl::Status ServerStatus(const CallSettings& settings, const grpc::Status& status);

// One unary call: `(stub.*method)(ctx, request, response)` with a context from PrepareContext,
// its status converted by ServerStatus. `response` is filled only when OK is returned.
template <typename Stub, typename Request, typename Response>
absl::Status CallUnary(const CallSettings& settings, Stub& stub,
                       grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                    Response*),
                       const Request& request, Response* response) {
  grpc::ClientContext ctx;
  PrepareContext(settings, /*with_deadline=*/true, &ctx);
  return ServerStatus(settings, (stub.*method)(&ctx, request, response));
}

// SweepService calls with pagination and batching. Thread-compatible.
class SweepClient {
 public:
  // Opens the channel and waits until it is connected, at most config.timeout_seconds:
  // UNAVAILABLE "cannot reach hypersweepd at ADDR within Ns" otherwise. Unary calls then get a
  // deadline of max(60 s, config.timeout_seconds).
  static absl::StatusOr<std::unique_ptr<SweepClient>> Connect(const ClientConfig& config);

  SweepClient(std::unique_ptr<v1::SweepService::StubInterface> stub, CallSettings settings);

  absl::StatusOr<v1::SubmitSweepResponse> Submit(const std::string& spec, bool dry_run);
  absl::StatusOr<v1::Sweep> GetSweep(const std::string& sweep_id);
  // Every sweep, over all pages.
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps();
  absl::StatusOr<v1::Sweep> Cancel(const std::string& sweep_id);
  // Every matching trial over all pages, or the first `limit` (> 0).
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(v1::ListTrialsRequest request,
                                                    int64_t limit = 0);
  // One page of ListTrials, as asked (page_size, page_token), with its next_page_token and total.
  absl::StatusOr<v1::ListTrialsResponse> ListTrialsPage(const v1::ListTrialsRequest& request);
  absl::StatusOr<int64_t> CountTrials(const std::string& sweep_id);
  // Metrics of the given trials (in batches), in the order asked; empty `metrics`: all.
  absl::StatusOr<std::vector<v1::TrialMetrics>> GetMetrics(const std::vector<std::string>& ids,
                                                           const std::vector<std::string>& metrics);
  absl::StatusOr<v1::GetLrCurveResponse> GetLrCurve(const std::string& trial_id);
  absl::StatusOr<std::vector<v1::Worker>> ListWorkers();
  // Needs the operator token (hypersweepd --operator-token-file) as this client's token.
  absl::StatusOr<v1::Worker> ClearQuarantine(const std::string& worker_id);
  absl::StatusOr<v1::Sweep> Resume(const std::string& sweep_id);
  // Streams the sweep's events to `on_event` until the sweep ends (OK) or the stream breaks.
  // `ctx`, when given, is the stream's context (not yet used), so that another thread can end the
  // watch with ctx->TryCancel() (the dashboard does when its browser goes away).
  absl::Status Watch(const std::string& sweep_id,
                     const std::function<void(const v1::SweepEvent&)>& on_event,
                     grpc::ClientContext* ctx = nullptr);

  const std::string& address() const { return settings_.address; }

 private:
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::SweepService::StubInterface::*method)(grpc::ClientContext*,
                                                                            const Request&,
                                                                            Response*),
                    const Request& request, Response* response) {
    return CallUnary(settings_, *stub_, method, request, response);
  }

  std::unique_ptr<v1::SweepService::StubInterface> stub_;
  CallSettings settings_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_SWEEP_CLIENT_H_
