// Protocol-level bad input from a raw gRPC client (issue 8): whatever a client or a worker sends,
// the coordinator answers with the status code of DESIGN.md's contract, changes nothing it should
// not, and stays up.
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "core/lr_finder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/test_server.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::hypersweep::v1;

constexpr char kClientToken[] = "client-secret";
constexpr char kWorkerToken[] = "worker-secret";

class ProtocolBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hs-badproto-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    TestServerOptions o;
    o.db = dir_ + "/sweeps.db";  // SQLite: what is stored is what comes back
    o.auth.client_token = kClientToken;
    o.auth.worker_token = kWorkerToken;
    // No lease may expire mid-test: these tests check that bad input leaves a lease as it was,
    // and two 64 MiB messages (today 8 MiB) under TSan on a loaded machine took longer than the
    // default 30 s.
    o.lease_ttl_ms = 600'000;
    server_ = std::make_unique<TestServer>(o);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);  // let the oversized message leave the client
    auto channel =
        grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args);
    sweeps_ = v1::SweepService::NewStub(channel);
    workers_ = v1::WorkerService::NewStub(channel);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A sweep of one 3-epoch trial, acquired by a fresh worker.
  v1::LeaseRef SubmitAndAcquire() {
    v1::SubmitSweepRequest sreq;
    sreq.set_spec("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 3\n");
    v1::SubmitSweepResponse sresp;
    grpc::Status s = sweeps_->SubmitSweep(Ctx(kClientToken).get(), sreq, &sresp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::RegisterWorkerRequest rreq;
    rreq.mutable_capabilities()->set_slots(1);
    v1::RegisterWorkerResponse rresp;
    EXPECT_TRUE(workers_->RegisterWorker(Ctx(kWorkerToken).get(), rreq, &rresp).ok());
    worker_id_ = rresp.worker_id();
    v1::AcquireTrialRequest areq;
    areq.set_worker_id(worker_id_);
    v1::AcquireTrialResponse aresp;
    s = workers_->AcquireTrial(Ctx(kWorkerToken).get(), areq, &aresp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(aresp.acquired());
    return aresp.lease();
  }

  grpc::Status Report(const v1::LeaseRef& lease, const std::vector<int64_t>& epochs,
                      std::map<std::string, double> metrics = {{"train_loss", 0.5}},
                      v1::ReportEpochsResponse* out = nullptr) {
    v1::ReportEpochsRequest req;
    *req.mutable_lease() = lease;
    for (int64_t e : epochs) {
      auto* m = req.add_epochs();
      m->set_epoch(e);
      for (const auto& [k, v] : metrics) (*m->mutable_metrics())[k] = v;
    }
    v1::ReportEpochsResponse resp;
    grpc::Status s = workers_->ReportEpochs(Ctx(kWorkerToken).get(), req, &resp);
    if (out) *out = resp;
    return s;
  }

  grpc::Status Finish(const v1::LeaseRef& lease, v1::TrialStatus status,
                      const std::string& reason = "", v1::FinishTrialResponse* out = nullptr) {
    v1::FinishTrialRequest req;
    *req.mutable_lease() = lease;
    req.set_status(status);
    req.set_reason(reason);
    v1::FinishTrialResponse resp;
    grpc::Status s = workers_->FinishTrial(Ctx(kWorkerToken).get(), req, &resp);
    if (out) *out = resp;
    return s;
  }

  grpc::Status Heartbeat(const v1::LeaseRef& lease) {
    v1::HeartbeatRequest req;
    req.set_worker_id(worker_id_);
    *req.mutable_lease() = lease;
    v1::HeartbeatResponse resp;
    return workers_->Heartbeat(Ctx(kWorkerToken).get(), req, &resp);
  }

  // epoch -> metrics as stored.
  std::map<int64_t, std::map<std::string, double>> Stored(const std::string& trial_id) {
    v1::GetTrialMetricsRequest req;
    req.add_trial_ids(trial_id);
    v1::GetTrialMetricsResponse resp;
    grpc::Status s = sweeps_->GetTrialMetrics(Ctx(kClientToken).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<int64_t, std::map<std::string, double>> out;
    for (const auto& tm : resp.trials()) {
      for (const auto& e : tm.epochs()) {
        auto& m = out[e.epoch()];
        EXPECT_TRUE(m.empty()) << "epoch " << e.epoch() << " stored twice";
        m.insert(e.metrics().begin(), e.metrics().end());
      }
    }
    return out;
  }

  // The server still answers.
  void ExpectAlive() {
    v1::ListSweepsResponse resp;
    grpc::Status s = sweeps_->ListSweeps(Ctx(kClientToken).get(), v1::ListSweepsRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  std::string dir_;
  std::string worker_id_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::SweepService::Stub> sweeps_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

TEST_F(ProtocolBadInputTest, OversizedMessagesAreRefusedAndTheServerStaysUp) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  // hypersweepd reads at most kDefaultMaxReceiveBytes (8 MiB) per message (services.h).
  v1::SubmitSweepRequest big;
  big.set_spec(std::string(kDefaultMaxReceiveBytes + 1024, '#'));
  v1::SubmitSweepResponse resp;
  grpc::Status s = sweeps_->SubmitSweep(Ctx(kClientToken, 30'000).get(), big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  v1::ReportEpochsRequest report;
  *report.mutable_lease() = lease;
  auto* e = report.add_epochs();
  e->set_epoch(0);
  (*e->mutable_metrics())[std::string(kDefaultMaxReceiveBytes + 1024, 'm')] = 1.0;
  v1::ReportEpochsResponse rresp;
  s = workers_->ReportEpochs(Ctx(kWorkerToken, 30'000).get(), report, &rresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  ExpectAlive();
  EXPECT_TRUE(Stored(lease.trial_id()).empty()) << "a refused report changed the trial";
  // The lease is still good: the refusal changed nothing.
  const grpc::Status after = Report(lease, {0});
  EXPECT_TRUE(after.ok()) << after.error_code() << ": " << after.error_message();
}

TEST_F(ProtocolBadInputTest, NonFiniteMetricsAreStoredAsMissingNeverAsNumbers) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  v1::ReportEpochsResponse resp;
  grpc::Status s =
      Report(lease, {0}, {{"train_loss", nan}, {"val_loss", inf}, {"val_accuracy", 0.75}}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.epochs_reported(), 1);
  s = Report(lease, {1}, {{"train_loss", -inf}, {"lr", 0.1}});
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto stored = Stored(lease.trial_id());
  ASSERT_EQ(stored.size(), 2u);
  // Before the fix SQLite turned NaN into NULL and read it back as 0: a diverged epoch became the
  // best loss of the sweep.
  EXPECT_EQ(stored[0], (std::map<std::string, double>{{"val_accuracy", 0.75}}));
  EXPECT_EQ(stored[1], (std::map<std::string, double>{{"lr", 0.1}}));
  // A sort by val_loss must not rank the trial first on a value it never had.
  v1::ListTrialsRequest lreq;
  lreq.set_sweep_id([&] {
    v1::ListSweepsResponse l;
    sweeps_->ListSweeps(Ctx(kClientToken).get(), v1::ListSweepsRequest(), &l);
    return l.sweeps(0).id();
  }());
  v1::ListTrialsResponse lresp;
  ASSERT_TRUE(sweeps_->ListTrials(Ctx(kClientToken).get(), lreq, &lresp).ok());
  ASSERT_EQ(lresp.trials_size(), 1);
  EXPECT_EQ(lresp.trials(0).epochs_reported(), 2);
  // The trial can still finish as DIVERGED: a result, not an error.
  v1::FinishTrialResponse fresp;
  s = Finish(lease, v1::DIVERGED, "loss is NaN", &fresp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(fresp.status(), v1::DIVERGED);
}

TEST_F(ProtocolBadInputTest, UnknownEnumValuesAreRefusedAndChangeNothing) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  EXPECT_EQ(Finish(lease, static_cast<v1::TrialStatus>(99)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::FinishTrialRequest req;
  *req.mutable_lease() = lease;
  req.set_status(v1::FAILED);
  req.set_failure_class(static_cast<v1::FailureClass>(99));
  v1::FinishTrialResponse resp;
  grpc::Status s = workers_->FinishTrial(Ctx(kWorkerToken).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("failure_class"), std::string::npos) << s.error_message();
  // The lease is intact: the trial can still finish properly.
  EXPECT_TRUE(Heartbeat(lease).ok());
  v1::FinishTrialResponse done;
  s = Finish(lease, v1::SUCCEEDED, "", &done);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.status(), v1::SUCCEEDED);
  ExpectAlive();
}

TEST_F(ProtocolBadInputTest, UnknownTrialIdsAreNotFound) {
  SubmitAndAcquire();
  v1::LeaseRef ghost;
  ghost.set_trial_id("t-does-not-exist");
  ghost.set_attempt(1);
  ghost.set_lease_token("whatever");
  EXPECT_EQ(Report(ghost, {0}).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Heartbeat(ghost).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Finish(ghost, v1::SUCCEEDED).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetLrCurveRequest creq;
  creq.set_trial_id("t-does-not-exist");
  v1::GetLrCurveResponse cresp;
  EXPECT_EQ(sweeps_->GetLrCurve(Ctx(kClientToken).get(), creq, &cresp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetSweepRequest greq;
  greq.set_sweep_id("s-does-not-exist");
  v1::GetSweepResponse gresp;
  EXPECT_EQ(sweeps_->GetSweep(Ctx(kClientToken).get(), greq, &gresp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ExpectAlive();
}

TEST_F(ProtocolBadInputTest, StaleOrForgedTokensAreAbortedAndChangeNothing) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  ASSERT_TRUE(Report(lease, {0}).ok());
  for (auto forge : {+[](v1::LeaseRef& l) { l.set_lease_token(l.lease_token() + "x"); },
                     +[](v1::LeaseRef& l) { l.set_lease_token(""); },
                     +[](v1::LeaseRef& l) { l.set_attempt(l.attempt() + 1); },
                     +[](v1::LeaseRef& l) { l.set_attempt(l.attempt() - 1); }}) {
    v1::LeaseRef bad = lease;
    forge(bad);
    EXPECT_EQ(Report(bad, {1}).error_code(), grpc::StatusCode::ABORTED);
    EXPECT_EQ(Finish(bad, v1::SUCCEEDED).error_code(), grpc::StatusCode::ABORTED);
    EXPECT_EQ(Heartbeat(bad).error_code(), grpc::StatusCode::ABORTED);
  }
  auto stored = Stored(lease.trial_id());
  EXPECT_EQ(stored.size(), 1u) << "a fenced-off report was stored";
  // The real holder is unaffected.
  EXPECT_TRUE(Report(lease, {1}).ok());
  EXPECT_EQ(Stored(lease.trial_id()).size(), 2u);
}

TEST_F(ProtocolBadInputTest, WrongCredentialTypeIsPermissionDenied) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  // A worker token on SweepService.
  v1::ListSweepsResponse lresp;
  EXPECT_EQ(
      sweeps_->ListSweeps(Ctx(kWorkerToken).get(), v1::ListSweepsRequest(), &lresp).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  v1::SubmitSweepRequest sreq;
  sreq.set_spec("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n");
  v1::SubmitSweepResponse sresp;
  EXPECT_EQ(sweeps_->SubmitSweep(Ctx(kWorkerToken).get(), sreq, &sresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A client token on WorkerService: it cannot fake a result.
  v1::ReportEpochsRequest rreq;
  *rreq.mutable_lease() = lease;
  rreq.add_epochs()->set_epoch(0);
  v1::ReportEpochsResponse rresp;
  EXPECT_EQ(workers_->ReportEpochs(Ctx(kClientToken).get(), rreq, &rresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::AcquireTrialRequest areq;
  v1::AcquireTrialResponse aresp;
  EXPECT_EQ(workers_->AcquireTrial(Ctx(kClientToken).get(), areq, &aresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // No token, a malformed header, an unknown token: UNAUTHENTICATED.
  EXPECT_EQ(workers_->ReportEpochs(Ctx().get(), rreq, &rresp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto basic = Ctx();
  basic->AddMetadata("authorization", std::string("Basic ") + kWorkerToken);
  EXPECT_EQ(workers_->ReportEpochs(basic.get(), rreq, &rresp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(workers_->ReportEpochs(Ctx("nope").get(), rreq, &rresp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Stored(lease.trial_id()).empty());
}

TEST_F(ProtocolBadInputTest, OverlongLrCurvesAreRefusedAndNothingIsStored) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  v1::ReportLrCurveRequest req;
  *req.mutable_lease() = lease;
  for (int64_t i = 0; i <= kMaxLrCurvePoints; ++i) {  // one point too many
    auto* p = req.add_points();
    p->set_step(i);
    p->set_lr(1e-7 * std::pow(10.0, static_cast<double>(i) / 1e4));
    p->set_loss(1.0);
    p->set_smoothed_loss(1.0);
  }
  v1::ReportLrCurveResponse resp;
  grpc::Status s = workers_->ReportLrCurve(Ctx(kWorkerToken).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("points: 100001 points"));
  v1::GetLrCurveRequest get;
  get.set_trial_id(lease.trial_id());
  v1::GetLrCurveResponse got;
  EXPECT_EQ(sweeps_->GetLrCurve(Ctx(kClientToken).get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ExpectAlive();
}

TEST_F(ProtocolBadInputTest, AbsurdEpochNumbersAreInvalidOutOfOrderIsIdempotent) {
  const v1::LeaseRef lease = SubmitAndAcquire();
  for (int64_t bad : {int64_t{-1}, int64_t{1'000'001}, std::numeric_limits<int64_t>::max(),
                      std::numeric_limits<int64_t>::min()}) {
    grpc::Status s = Report(lease, {bad});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("epoch")) << bad;
  }
  // One bad epoch in a batch rejects the whole batch: nothing of it is stored.
  EXPECT_EQ(Report(lease, {0, -5}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Stored(lease.trial_id()).empty());

  // Out of order, repeated, and repeated with different values: first report wins.
  v1::ReportEpochsResponse resp;
  ASSERT_TRUE(Report(lease, {2}, {{"train_loss", 2.0}}, &resp).ok());
  EXPECT_EQ(resp.epochs_reported(), 1);
  ASSERT_TRUE(Report(lease, {0, 2, 0}, {{"train_loss", 9.0}}, &resp).ok());
  EXPECT_EQ(resp.epochs_reported(), 2);
  ASSERT_TRUE(Report(lease, {1}, {{"train_loss", 1.0}}, &resp).ok());
  ASSERT_TRUE(Report(lease, {1, 2, 0}, {{"train_loss", 7.0}}, &resp).ok());
  EXPECT_EQ(resp.epochs_reported(), 3);
  auto stored = Stored(lease.trial_id());
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].at("train_loss"), 9.0);
  EXPECT_EQ(stored[1].at("train_loss"), 1.0);
  EXPECT_EQ(stored[2].at("train_loss"), 2.0);
  ExpectAlive();
}

}  // namespace
}  // namespace hypersweep
