#include "client/sweep_client.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "rpc/connection.h"

namespace hypersweep {

using Stub = v1::SweepService::StubInterface;

void PrepareContext(const CallSettings& settings, bool with_deadline, grpc::ClientContext* ctx) {
  AddAuth(ctx, settings.token);
  if (with_deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + settings.timeout));
}

absl::Status ServerStatus(const CallSettings& settings, const grpc::Status& status) {
  absl::Status st = FromGrpc(status);
  switch (st.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return absl::Status(
          st.code(), absl::StrCat("authentication failed at ", settings.address, ": ", st.message(),
                                  " (check --token-file / HYPERSWEEP_TOKEN)"));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::Status(st.code(),
                          absl::StrCat("hypersweepd at ", settings.address, ": ", st.message()));
    default:
      return st;
  }
}

absl::StatusOr<std::unique_ptr<SweepClient>> SweepClient::Connect(const ClientConfig& config) {
  ASSIGN_OR_RETURN(auto channel, MakeChannel(config.connection));
  const auto deadline =
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(config.timeout_seconds * 1000));
  if (!channel->WaitForConnected(deadline)) {
    return absl::UnavailableError(absl::StrFormat("cannot reach hypersweepd at %s within %gs",
                                                  config.connection.server,
                                                  config.timeout_seconds));
  }
  // Calls get a generous deadline: a query over a large sweep may take a while, a dead server
  // must not hang the CLI forever.
  CallSettings settings;
  settings.address = config.connection.server;
  settings.token = config.connection.token;
  settings.timeout = std::max(absl::Seconds(60), absl::Seconds(config.timeout_seconds));
  return std::make_unique<SweepClient>(v1::SweepService::NewStub(channel), std::move(settings));
}

SweepClient::SweepClient(std::unique_ptr<Stub> stub, CallSettings settings)
    : stub_(std::move(stub)), settings_(std::move(settings)) {}

absl::StatusOr<v1::SubmitSweepResponse> SweepClient::Submit(const std::string& spec, bool dry_run) {
  v1::SubmitSweepRequest req;
  req.set_spec(spec);
  req.set_dry_run(dry_run);
  v1::SubmitSweepResponse resp;
  RETURN_IF_ERROR(Call(&Stub::SubmitSweep, req, &resp));
  return resp;
}

absl::StatusOr<v1::Sweep> SweepClient::GetSweep(const std::string& sweep_id) {
  v1::GetSweepRequest req;
  req.set_sweep_id(sweep_id);
  v1::GetSweepResponse resp;
  RETURN_IF_ERROR(Call(&Stub::GetSweep, req, &resp));
  return resp.sweep();
}

absl::StatusOr<std::vector<v1::Sweep>> SweepClient::ListSweeps() {
  std::vector<v1::Sweep> out;
  v1::ListSweepsRequest req;
  req.set_page_size(1000);
  do {
    v1::ListSweepsResponse resp;
    RETURN_IF_ERROR(Call(&Stub::ListSweeps, req, &resp));
    for (auto& s : *resp.mutable_sweeps()) out.push_back(std::move(s));
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  return out;
}

absl::StatusOr<v1::Sweep> SweepClient::Cancel(const std::string& sweep_id) {
  v1::CancelSweepRequest req;
  req.set_sweep_id(sweep_id);
  v1::CancelSweepResponse resp;
  RETURN_IF_ERROR(Call(&Stub::CancelSweep, req, &resp));
  return resp.sweep();
}

absl::StatusOr<std::vector<v1::Trial>> SweepClient::ListTrials(v1::ListTrialsRequest request,
                                                               int64_t limit) {
  constexpr int64_t kPage = 10'000;  // the server's maximum
  std::vector<v1::Trial> out;
  request.clear_page_token();
  while (true) {
    const int64_t want = limit > 0 ? std::min<int64_t>(kPage, limit - out.size()) : kPage;
    request.set_page_size(static_cast<int32_t>(want));
    v1::ListTrialsResponse resp;
    RETURN_IF_ERROR(Call(&Stub::ListTrials, request, &resp));
    if (out.empty()) out.reserve(limit > 0 ? limit : resp.total());
    for (auto& t : *resp.mutable_trials()) out.push_back(std::move(t));
    if (resp.next_page_token().empty() || (limit > 0 && static_cast<int64_t>(out.size()) >= limit))
      break;
    request.set_page_token(resp.next_page_token());
  }
  return out;
}

absl::StatusOr<v1::ListTrialsResponse> SweepClient::ListTrialsPage(
    const v1::ListTrialsRequest& request) {
  v1::ListTrialsResponse resp;
  RETURN_IF_ERROR(Call(&Stub::ListTrials, request, &resp));
  return resp;
}

absl::StatusOr<int64_t> SweepClient::CountTrials(const std::string& sweep_id) {
  v1::ListTrialsRequest req;
  req.set_sweep_id(sweep_id);
  req.set_page_size(1);
  v1::ListTrialsResponse resp;
  RETURN_IF_ERROR(Call(&Stub::ListTrials, req, &resp));
  return resp.total();
}

absl::StatusOr<std::vector<v1::TrialMetrics>> SweepClient::GetMetrics(
    const std::vector<std::string>& ids, const std::vector<std::string>& metrics) {
  constexpr size_t kBatch = 1000;
  std::vector<v1::TrialMetrics> out;
  out.reserve(ids.size());
  // The server may answer for a prefix of the ids (its response size bound): ask from there on.
  for (size_t i = 0; i < ids.size();) {
    v1::GetTrialMetricsRequest req;
    for (size_t k = i; k < ids.size() && k < i + kBatch; ++k) req.add_trial_ids(ids[k]);
    for (const auto& m : metrics) req.add_metrics(m);
    v1::GetTrialMetricsResponse resp;
    RETURN_IF_ERROR(Call(&Stub::GetTrialMetrics, req, &resp));
    if (resp.trials_size() == 0) {
      return absl::InternalError("GetTrialMetrics: the coordinator answered for no trial");
    }
    i += static_cast<size_t>(resp.trials_size());
    for (auto& t : *resp.mutable_trials()) out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<v1::GetLrCurveResponse> SweepClient::GetLrCurve(const std::string& trial_id) {
  v1::GetLrCurveRequest req;
  req.set_trial_id(trial_id);
  v1::GetLrCurveResponse resp;
  RETURN_IF_ERROR(Call(&Stub::GetLrCurve, req, &resp));
  return resp;
}

absl::StatusOr<std::vector<v1::Worker>> SweepClient::ListWorkers() {
  std::vector<v1::Worker> out;
  v1::ListWorkersRequest req;
  req.set_page_size(1000);
  while (true) {
    v1::ListWorkersResponse resp;
    RETURN_IF_ERROR(Call(&Stub::ListWorkers, req, &resp));
    for (auto& w : *resp.mutable_workers()) out.push_back(std::move(w));
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

absl::StatusOr<v1::Worker> SweepClient::ClearQuarantine(const std::string& worker_id) {
  v1::ClearQuarantineRequest req;
  req.set_worker_id(worker_id);
  v1::ClearQuarantineResponse resp;
  RETURN_IF_ERROR(Call(&Stub::ClearQuarantine, req, &resp));
  return resp.worker();
}

absl::StatusOr<v1::Sweep> SweepClient::Resume(const std::string& sweep_id) {
  v1::ResumeSweepRequest req;
  req.set_sweep_id(sweep_id);
  v1::ResumeSweepResponse resp;
  RETURN_IF_ERROR(Call(&Stub::ResumeSweep, req, &resp));
  return resp.sweep();
}

absl::Status SweepClient::Watch(const std::string& sweep_id,
                                const std::function<void(const v1::SweepEvent&)>& on_event,
                                grpc::ClientContext* ctx) {
  grpc::ClientContext own;
  if (ctx == nullptr) ctx = &own;
  PrepareContext(settings_, /*with_deadline=*/false, ctx);  // a watch lasts as long as the sweep
  v1::WatchSweepRequest req;
  req.set_sweep_id(sweep_id);
  auto reader = stub_->WatchSweep(ctx, req);
  v1::SweepEvent event;
  while (reader->Read(&event)) on_event(event);
  return ServerStatus(settings_, reader->Finish());
}

}  // namespace hypersweep
