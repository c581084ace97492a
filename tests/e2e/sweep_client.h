// A SweepService client for tests: plain or TLS, with or without a bearer token. Cluster
// (harness.h) uses one for the coordinator it starts; deployment tests use one for coordinators
// they did not start themselves (a Slurm job) or that run with TLS and tokens.
#ifndef HYPERSWEEP_TESTS_E2E_SWEEP_CLIENT_H_
#define HYPERSWEEP_TESTS_E2E_SWEEP_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"

namespace hypersweep::e2e {

class SweepClient {
 public:
  // `ca_pem` non-empty: TLS with that root; `token`: the client bearer token (may be empty).
  SweepClient(const std::string& address, const std::string& token, const std::string& ca_pem = "")
      : token_(token) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (ca_pem.empty()) {
      creds = grpc::InsecureChannelCredentials();
    } else {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ca_pem;
      creds = grpc::SslCredentials(ssl);
    }
    stub_ = v1::SweepService::NewStub(grpc::CreateChannel(address, creds));
  }

  v1::SweepService::Stub& stub() { return *stub_; }

  // A context with the bearer token and a deadline.
  std::unique_ptr<grpc::ClientContext> Context(
      std::chrono::seconds timeout = std::chrono::seconds(10)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }

  grpc::Status TrySubmit(const std::string& spec, std::string* sweep_id) {
    v1::SubmitSweepRequest req;
    req.set_spec(spec);
    v1::SubmitSweepResponse resp;
    grpc::Status s = stub_->SubmitSweep(Context().get(), req, &resp);
    if (s.ok() && sweep_id != nullptr) *sweep_id = resp.sweep().id();
    return s;
  }

  std::string Submit(const std::string& spec) {
    std::string id;
    grpc::Status s = TrySubmit(spec, &id);
    EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
    return id;
  }

  // Trials of a sweep; empty on an RPC error (e.g. while the coordinator restarts).
  std::vector<v1::Trial> Trials(const std::string& sweep_id) {
    v1::ListTrialsRequest req;
    req.set_sweep_id(sweep_id);
    req.set_page_size(10000);
    v1::ListTrialsResponse resp;
    if (!stub_->ListTrials(Context(std::chrono::seconds(5)).get(), req, &resp).ok()) return {};
    return {resp.trials().begin(), resp.trials().end()};
  }

  bool Done(const std::string& sweep_id) {
    auto trials = Trials(sweep_id);
    if (trials.empty()) return false;
    for (const auto& t : trials) {
      if (t.status() == v1::QUEUED || t.status() == v1::LEASED) return false;
    }
    return true;
  }

  // A LEASED trial with at least `min_epochs` reported.
  std::optional<v1::Trial> RunningTrial(const std::string& sweep_id, int min_epochs) {
    for (const auto& t : Trials(sweep_id)) {
      if (t.status() == v1::LEASED && t.epochs_reported() >= min_epochs) return t;
    }
    return std::nullopt;
  }

  // trial id -> reported epoch numbers, in the order stored.
  std::map<std::string, std::vector<int64_t>> Epochs(const std::vector<v1::Trial>& trials) {
    v1::GetTrialMetricsRequest req;
    for (const auto& t : trials) req.add_trial_ids(t.id());
    v1::GetTrialMetricsResponse resp;
    grpc::Status s = stub_->GetTrialMetrics(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& tm : resp.trials()) {
      auto& v = out[tm.trial_id()];
      for (const auto& e : tm.epochs()) v.push_back(e.epoch());
    }
    return out;
  }

  // Every trial SUCCEEDED and reported epochs 0..epochs-1 exactly once.
  void ExpectEveryEpochOnce(const std::string& sweep_id, int epochs) {
    auto trials = Trials(sweep_id);
    ASSERT_FALSE(trials.empty());
    auto by_trial = Epochs(trials);
    std::vector<int64_t> want(epochs);
    for (int e = 0; e < epochs; ++e) want[e] = e;
    for (const auto& t : trials) {
      EXPECT_EQ(t.status(), v1::SUCCEEDED) << t.id() << " " << t.reason();
      EXPECT_EQ(by_trial[t.id()], want) << t.id();
      EXPECT_EQ(t.epochs_reported(), epochs) << t.id();
    }
  }

 private:
  std::string token_;
  std::unique_ptr<v1::SweepService::Stub> stub_;
};

}  // namespace hypersweep::e2e

#endif  // HYPERSWEEP_TESTS_E2E_SWEEP_CLIENT_H_
