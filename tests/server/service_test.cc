#include "absl/strings/str_cat.h"
// The real server over loopback with generated stubs (acceptance 1, 4, 5).
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/test_server.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::hypersweep::v1;

constexpr char kSpec[] = R"(
name: svc
dataset: {synthetic: {}}
objective: {metric: val_auc, goal: maximize}
schedule: {one_cycle: {max_lr: 0.1}}
epochs: 3
grid: {batch_size: [32, 64, 128]}
)";

class ServiceTest : public ::testing::Test {
 protected:
  void Start(TestServerOptions o = {}) {
    server_ = std::make_unique<TestServer>(o);
    sweeps_ = v1::SweepService::NewStub(server_->Channel());
    workers_ = v1::WorkerService::NewStub(server_->Channel());
  }
  v1::SubmitSweepResponse Submit(const std::string& spec, grpc::Status* status = nullptr,
                                 bool dry_run = false) {
    v1::SubmitSweepRequest req;
    req.set_spec(spec);
    req.set_dry_run(dry_run);
    v1::SubmitSweepResponse resp;
    // Generous: a 16,000-point sweep under TSan on a loaded machine takes over 10 s to commit.
    grpc::Status s = sweeps_->SubmitSweep(Ctx("", 60'000).get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }
  std::string Register() {
    v1::RegisterWorkerRequest req;
    req.mutable_capabilities()->set_host("localhost");
    req.mutable_capabilities()->set_device("cpu");
    req.mutable_capabilities()->set_slots(1);
    v1::RegisterWorkerResponse resp;
    EXPECT_TRUE(workers_->RegisterWorker(Ctx().get(), req, &resp).ok());
    return resp.worker_id();
  }
  v1::AcquireTrialResponse Acquire(const std::string& worker, int64_t max_wait_ms = 0) {
    v1::AcquireTrialRequest req;
    req.set_worker_id(worker);
    req.set_max_wait_ms(max_wait_ms);
    v1::AcquireTrialResponse resp;
    grpc::Status s = workers_->AcquireTrial(Ctx("", 30'000).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  grpc::Status Finish(const v1::LeaseRef& lease, v1::TrialStatus status) {
    v1::FinishTrialRequest req;
    *req.mutable_lease() = lease;
    req.set_status(status);
    v1::FinishTrialResponse resp;
    return workers_->FinishTrial(Ctx().get(), req, &resp);
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::SweepService::Stub> sweeps_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

TEST_F(ServiceTest, SubmitAcquireReportFinishQuery) {
  Start();
  v1::SubmitSweepResponse sub = Submit(kSpec);
  const std::string sweep = sub.sweep().id();
  ASSERT_FALSE(sweep.empty());
  EXPECT_EQ(sub.sweep().counts().queued(), 3);
  EXPECT_EQ(sub.sweep().state(), v1::SWEEP_RUNNING);
  const std::string worker = Register();
  ASSERT_FALSE(worker.empty());

  // Trial i reports val_auc 0.6 + 0.1 i (best is the last one) and an LR curve.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    v1::AcquireTrialResponse a = Acquire(worker);
    ASSERT_TRUE(a.acquired());
    ids.push_back(a.lease().trial_id());
    EXPECT_EQ(a.trial().batch_size(), 32 << i);
    EXPECT_EQ(a.trial().schedule(), "one_cycle");
    EXPECT_EQ(a.trial().params().at("batch_size"), std::to_string(32 << i));
    // The worker's copy of the trial: canonical TrialSpec JSON.
    auto spec = ParseTrialSpec(a.trial().spec_json());
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->batch_size, 32 << i);
    EXPECT_EQ(spec->epochs, 3);

    v1::HeartbeatRequest hb;
    hb.set_worker_id(worker);
    *hb.mutable_lease() = a.lease();
    v1::HeartbeatResponse hbr;
    ASSERT_TRUE(workers_->Heartbeat(Ctx().get(), hb, &hbr).ok());
    EXPECT_FALSE(hbr.cancel());
    EXPECT_GT(hbr.lease_expiry_unix_ms(), 0);

    v1::ReportEpochsRequest rep;
    *rep.mutable_lease() = a.lease();
    for (int e = 0; e < 3; ++e) {
      v1::EpochMetrics* m = rep.add_epochs();
      m->set_epoch(e);
      (*m->mutable_metrics())["val_auc"] = 0.5 + 0.1 * i + 0.01 * e;
      (*m->mutable_metrics())["val_loss"] = 1.0 - 0.1 * e;
    }
    rep.set_checkpoint_uri(a.lease().trial_id() + ".attempt1.pt");
    v1::ReportEpochsResponse repr;
    ASSERT_TRUE(workers_->ReportEpochs(Ctx().get(), rep, &repr).ok());
    EXPECT_EQ(repr.epochs_reported(), 3);

    v1::ReportLrCurveRequest lr;
    *lr.mutable_lease() = a.lease();
    for (int s = 0; s < 4; ++s) {
      v1::LrCurvePoint* p = lr.add_points();
      p->set_step(s);
      p->set_lr(1e-4 * (s + 1));
      p->set_loss(2.0 - 0.1 * s);
    }
    lr.set_suggested_lr(3e-4);
    v1::ReportLrCurveResponse lrr;
    ASSERT_TRUE(workers_->ReportLrCurve(Ctx().get(), lr, &lrr).ok());

    ASSERT_TRUE(Finish(a.lease(), v1::SUCCEEDED).ok());
  }
  EXPECT_FALSE(Acquire(worker).acquired());

  v1::GetSweepRequest gs;
  gs.set_sweep_id(sweep);
  v1::GetSweepResponse gsr;
  ASSERT_TRUE(sweeps_->GetSweep(Ctx().get(), gs, &gsr).ok());
  EXPECT_EQ(gsr.sweep().state(), v1::SWEEP_COMPLETED);
  EXPECT_EQ(gsr.sweep().counts().succeeded(), 3);
  EXPECT_EQ(gsr.sweep().counts().finished(), 3);
  EXPECT_EQ(gsr.sweep().objective().goal(), v1::MAXIMIZE);

  // Sorted by the objective's best value: maximize, so the last trial first.
  v1::ListTrialsRequest lt;
  lt.set_sweep_id(sweep);
  lt.set_sort_metric("val_auc");
  lt.set_page_size(2);
  v1::ListTrialsResponse ltr;
  ASSERT_TRUE(sweeps_->ListTrials(Ctx().get(), lt, &ltr).ok());
  ASSERT_EQ(ltr.trials_size(), 2);
  EXPECT_EQ(ltr.total(), 3);
  EXPECT_EQ(ltr.trials(0).id(), ids[2]);
  EXPECT_NEAR(ltr.trials(0).best_value(), 0.72, 1e-12);
  EXPECT_EQ(ltr.trials(0).status(), v1::SUCCEEDED);
  EXPECT_EQ(ltr.trials(0).checkpoint_uri(), ids[2] + ".attempt1.pt");
  ASSERT_FALSE(ltr.next_page_token().empty());
  lt.set_page_token(ltr.next_page_token());
  ASSERT_TRUE(sweeps_->ListTrials(Ctx().get(), lt, &ltr).ok());
  ASSERT_EQ(ltr.trials_size(), 1);
  EXPECT_EQ(ltr.trials(0).id(), ids[0]);
  EXPECT_TRUE(ltr.next_page_token().empty());
  // Minimizing val_loss by its final value, filtered by status.
  v1::ListTrialsRequest lt2;
  lt2.set_sweep_id(sweep);
  lt2.set_sort_metric("val_loss");
  lt2.set_sort_by(v1::ListTrialsRequest::FINAL);
  lt2.add_status(v1::SUCCEEDED);
  v1::ListTrialsResponse ltr2;
  ASSERT_TRUE(sweeps_->ListTrials(Ctx().get(), lt2, &ltr2).ok());
  ASSERT_EQ(ltr2.trials_size(), 3);
  EXPECT_NEAR(ltr2.trials(0).final_value(), 0.8, 1e-12);
  // Ranking on a test-split metric is selection on the test set: refused, naming the field.
  lt2.set_sort_metric("test_accuracy");
  grpc::Status refused = sweeps_->ListTrials(Ctx().get(), lt2, &ltr2);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("sort_metric: test_accuracy"));

  v1::GetTrialMetricsRequest gm;
  for (const auto& id : ids) gm.add_trial_ids(id);
  gm.add_metrics("val_auc");
  v1::GetTrialMetricsResponse gmr;
  ASSERT_TRUE(sweeps_->GetTrialMetrics(Ctx().get(), gm, &gmr).ok());
  ASSERT_EQ(gmr.trials_size(), 3);
  ASSERT_EQ(gmr.trials(1).epochs_size(), 3);
  EXPECT_EQ(gmr.trials(1).epochs(2).metrics().size(), 1u);
  EXPECT_NEAR(gmr.trials(1).epochs(2).metrics().at("val_auc"), 0.62, 1e-12);

  v1::GetLrCurveRequest gl;
  gl.set_trial_id(ids[0]);
  v1::GetLrCurveResponse glr;
  ASSERT_TRUE(sweeps_->GetLrCurve(Ctx().get(), gl, &glr).ok());
  EXPECT_EQ(glr.points_size(), 4);
  // The worker's suggestion is not kept: the sweep's rule (the default, min) decides, and 4
  // points are too few for it.
  EXPECT_FALSE(glr.has_suggested_lr());
  EXPECT_EQ(glr.rule(), "min");
  EXPECT_THAT(glr.rule_error(), HasSubstr("too short"));

  v1::ListWorkersResponse lwr;
  ASSERT_TRUE(sweeps_->ListWorkers(Ctx().get(), v1::ListWorkersRequest(), &lwr).ok());
  ASSERT_EQ(lwr.workers_size(), 1);
  EXPECT_EQ(lwr.workers(0).id(), worker);
  EXPECT_EQ(lwr.workers(0).capabilities().host(), "localhost");
  EXPECT_GT(lwr.workers(0).last_seen_unix_ms(), 0);

  v1::ListSweepsResponse lsr;
  ASSERT_TRUE(sweeps_->ListSweeps(Ctx().get(), v1::ListSweepsRequest(), &lsr).ok());
  ASSERT_EQ(lsr.sweeps_size(), 1);

  // Unknown ids.
  gs.set_sweep_id("sw-nope");
  EXPECT_EQ(sweeps_->GetSweep(Ctx().get(), gs, &gsr).error_code(), grpc::StatusCode::NOT_FOUND);
  gm.add_trial_ids("nope");
  EXPECT_EQ(sweeps_->GetTrialMetrics(Ctx().get(), gm, &gmr).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, DryRunReturnsTheExpansionAndQueuesNothing) {
  Start();
  v1::SubmitSweepResponse r = Submit(kSpec, nullptr, /*dry_run=*/true);
  EXPECT_EQ(r.trials_size(), 3);
  EXPECT_TRUE(r.sweep().id().empty());
  EXPECT_FALSE(Acquire(Register()).acquired());
}

// Acceptance 5.
TEST_F(ServiceTest, BadSpecsAreInvalidArgumentNamingTheFieldAndQueueNothing) {
  Start();
  const std::string head = "dataset: {synthetic: {}}\n";
  const std::pair<std::string, std::string> cases[] = {
      {head + "schedule: {constant: {lr: 0.1}}\nbogus: 1\n", "bogus (line 3): unknown field"},
      {head + "schedule: {constant: {lr: 0.1}}\ngrid: {momentum: []}\n", "grid.momentum (line 3)"},
      {head + "schedule: {constant: {lr: 0.1}}\ngrid: {batch_size: [0]}\n", "grid.batch_size[0]"},
      {head + "schedule: {cyclic: {base_lr: 0.5, max_lr: 0.1, step_size_up: 2}}\n",
       "schedule.cyclic.max_lr (line 2): must be >= base_lr"},
      {head + "schedule: {one_cycle: {max_lr: 0.1, pct_start: 1.5}}\n",
       "schedule.one_cycle.pct_start (line 2)"},
      {head + "schedule: {sawtooth: {lr: 0.1}}\n", "schedule.sawtooth (line 2): unknown schedule"},
      {head + "schedule: {constant: {lr: 0.1}}\nrandom: {trials: 2, params: {weight_decay: "
              "{log_uniform: [-1, 1]}}}\n",
       "random.params.weight_decay.log_uniform[0] (line 3)"},
  };
  for (const auto& [spec, want] : cases) {
    grpc::Status s;
    Submit(spec, &s);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << spec;
    EXPECT_THAT(s.error_message(), HasSubstr(want)) << spec;
  }
  v1::ListSweepsResponse lsr;
  ASSERT_TRUE(sweeps_->ListSweeps(Ctx().get(), v1::ListSweepsRequest(), &lsr).ok());
  EXPECT_EQ(lsr.sweeps_size(), 0);
  EXPECT_FALSE(Acquire(Register()).acquired());
}

// Acceptance 1: 16 threads x 1,000 trials each, never the same trial twice.
TEST_F(ServiceTest, ConcurrentAcquirersNeverGetTheSameTrial) {
  Start();
  constexpr int kThreads = 16, kPerThread = 1000;
  Submit(
      absl::StrCat("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n"
                   "random: {trials: ",
                   kThreads * kPerThread, ", params: {momentum: {uniform: [0.1, 0.9]}}}\n"));
  std::vector<std::vector<std::string>> got(kThreads);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::WorkerService::NewStub(server_->Channel());
      v1::RegisterWorkerRequest reg;
      v1::RegisterWorkerResponse regr;
      if (!stub->RegisterWorker(Ctx().get(), reg, &regr).ok()) ++errors;
      for (;;) {
        v1::AcquireTrialRequest req;
        req.set_worker_id(regr.worker_id());
        v1::AcquireTrialResponse a;
        if (!stub->AcquireTrial(Ctx().get(), req, &a).ok()) {
          ++errors;
          return;
        }
        if (!a.acquired()) return;
        got[i].push_back(a.lease().trial_id());
        v1::FinishTrialRequest f;
        *f.mutable_lease() = a.lease();
        f.set_status(v1::SUCCEEDED);
        v1::FinishTrialResponse fr;
        if (!stub->FinishTrial(Ctx().get(), f, &fr).ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<std::string> all;
  size_t n = 0;
  int busy_threads = 0;
  for (const auto& v : got) {
    n += v.size();
    all.insert(v.begin(), v.end());
    busy_threads += v.empty() ? 0 : 1;
  }
  EXPECT_EQ(n, static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread)) << "a trial was leased twice";
  EXPECT_GT(busy_threads, 1);
}

TEST_F(ServiceTest, LongPollWaitsForWorkWithoutPollingAndTimesOut) {
  Start();
  const std::string w = Register();
  auto t0 = std::chrono::steady_clock::now();
  v1::AcquireTrialResponse empty = Acquire(w, 300);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(empty.acquired());
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::milliseconds(5000));
  // A waiting worker is woken by a submit.
  v1::AcquireTrialResponse woken;
  std::thread poller([&] { woken = Acquire(w, 20'000); });
  // Submit only once the long-poll is parked, so that the submit is what wakes it.
  ASSERT_TRUE(test_support::WaitFor(
      [&] { return server_->scheduler()->TEST_WaitingAcquires() == 1; }, std::chrono::seconds(10)))
      << "the long-poll was never parked";
  t0 = std::chrono::steady_clock::now();
  Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n");
  poller.join();
  EXPECT_TRUE(woken.acquired());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // The call deadline bounds the wait too: the answer comes before DEADLINE_EXCEEDED.
  v1::AcquireTrialRequest req;
  req.set_worker_id(w);
  req.set_max_wait_ms(60'000);
  v1::AcquireTrialResponse resp;
  grpc::Status s = workers_->AcquireTrial(Ctx("", 1000).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(resp.acquired());
}

TEST_F(ServiceTest, StaleLeaseIsAbortedOverTheWire) {
  TestServerOptions o;
  o.lease_ttl_ms = 300;
  Start(o);
  Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n");
  const std::string w = Register();
  v1::AcquireTrialResponse a = Acquire(w);
  ASSERT_TRUE(a.acquired());
  // The reaper requeues the trial after the TTL; the long-poll gets it again as attempt 2.
  v1::AcquireTrialResponse b = Acquire(w, 5000);
  ASSERT_TRUE(b.acquired());
  EXPECT_EQ(b.lease().trial_id(), a.lease().trial_id());
  EXPECT_EQ(b.lease().attempt(), a.lease().attempt() + 1);
  EXPECT_EQ(Finish(a.lease(), v1::SUCCEEDED).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(Finish(b.lease(), v1::SUCCEEDED).ok());
}

TEST_F(ServiceTest, WatchSweepStreamsUntilTheSweepEnds) {
  Start();
  const std::string sweep =
      Submit("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n").sweep().id();
  auto ctx = Ctx("", 10'000);
  v1::WatchSweepRequest req;
  req.set_sweep_id(sweep);
  auto reader = sweeps_->WatchSweep(ctx.get(), req);
  v1::SweepEvent first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.sweep().state(), v1::SWEEP_RUNNING);
  const std::string w = Register();
  v1::AcquireTrialResponse a = Acquire(w);
  v1::ReportEpochsRequest rep;
  *rep.mutable_lease() = a.lease();
  rep.add_epochs()->set_epoch(0);
  v1::ReportEpochsResponse repr;
  ASSERT_TRUE(workers_->ReportEpochs(Ctx().get(), rep, &repr).ok());
  ASSERT_TRUE(Finish(a.lease(), v1::SUCCEEDED).ok());
  std::vector<v1::SweepEvent> events;
  v1::SweepEvent e;
  while (reader->Read(&e)) events.push_back(e);
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back().sweep().state(), v1::SWEEP_COMPLETED);
  EXPECT_EQ(events.back().trial().status(), v1::SUCCEEDED);
  bool saw_epoch = false;
  for (const auto& ev : events) saw_epoch |= ev.epochs_size() == 1;
  EXPECT_TRUE(saw_epoch);
  for (const auto& ev : events) EXPECT_TRUE(ev.trial().spec_json().empty());
}

TEST_F(ServiceTest, CancelTellsTheWorker) {
  Start();
  const std::string sweep = Submit(kSpec).sweep().id();
  const std::string w = Register();
  v1::AcquireTrialResponse a = Acquire(w);
  v1::CancelSweepRequest c;
  c.set_sweep_id(sweep);
  v1::CancelSweepResponse cr;
  ASSERT_TRUE(sweeps_->CancelSweep(Ctx().get(), c, &cr).ok());
  EXPECT_EQ(cr.sweep().state(), v1::SWEEP_CANCELLED);
  v1::HeartbeatRequest hb;
  hb.set_worker_id(w);
  *hb.mutable_lease() = a.lease();
  v1::HeartbeatResponse hbr;
  ASSERT_TRUE(workers_->Heartbeat(Ctx().get(), hb, &hbr).ok());
  EXPECT_TRUE(hbr.cancel());
  EXPECT_TRUE(Finish(a.lease(), v1::CANCELLED).ok());
  EXPECT_EQ(Finish(a.lease(), v1::SUCCEEDED).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// Acceptance 4: tokens.
TEST_F(ServiceTest, TokensSeparateClientsFromWorkers) {
  TestServerOptions o;
  o.auth.client_token = "client-secret";
  o.auth.worker_token = "worker-secret";
  Start(o);
  v1::ListSweepsResponse ls;
  v1::RegisterWorkerResponse rw;
  auto code_sweeps = [&](const std::string& token) {
    return sweeps_->ListSweeps(Ctx(token).get(), v1::ListSweepsRequest(), &ls).error_code();
  };
  auto code_workers = [&](const std::string& token) {
    return workers_->RegisterWorker(Ctx(token).get(), v1::RegisterWorkerRequest(), &rw)
        .error_code();
  };
  EXPECT_EQ(code_sweeps(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code_sweeps("wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code_sweeps("worker-secret"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code_sweeps("client-secret"), grpc::StatusCode::OK);
  EXPECT_EQ(code_workers(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(code_workers("client-secret"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code_workers("worker-secret"), grpc::StatusCode::OK);
  // The streaming call is guarded too.
  v1::WatchSweepRequest wr;
  auto ctx = Ctx("worker-secret");
  auto reader = sweeps_->WatchSweep(ctx.get(), wr);
  v1::SweepEvent e;
  EXPECT_FALSE(reader->Read(&e));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// grpc.health.v1.Health/Check, called without generated health stubs: an empty request (the
// whole server) and a response whose field 1 (status) is SERVING (1).
TEST_F(ServiceTest, HealthCheckServes) {
  Start();
  grpc::GenericStub stub(server_->Channel());
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  auto ctx = Ctx();
  stub.UnaryCall(ctx.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) { done.set_value(s); });
  grpc::Status s = done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

// Server reflection lists our services (a raw bidi call: list_services = "" is field 7).
TEST_F(ServiceTest, ReflectionListsTheServices) {
  Start();
  grpc::GenericStub stub(server_->Channel());
  grpc::CompletionQueue cq;
  auto ctx = Ctx();
  auto call = stub.PrepareCall(
      ctx.get(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](intptr_t want) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), want);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  grpc::Slice req("\x3a\x00", 2);
  grpc::ByteBuffer request(&req, 1), response;
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_THAT(bytes, HasSubstr("hypersweep.v1.SweepService"));
  EXPECT_THAT(bytes, HasSubstr("hypersweep.v1.WorkerService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

using test_support::ReadFile;

// Acceptance 4: TLS with a certificate made by openssl now.
TEST_F(ServiceTest, TlsWithAnOpensslCertificate) {
  const std::string dir = ::testing::TempDir() + "hs_tls_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl failed: " << cmd;
  TestServerOptions o;
  o.tls_cert_pem = ReadFile(dir + "/cert.pem");
  o.tls_key_pem = ReadFile(dir + "/key.pem");
  ASSERT_FALSE(o.tls_cert_pem.empty());
  Start(o);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = o.tls_cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto channel = grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(ssl), args);
  auto stub = v1::SweepService::NewStub(channel);
  v1::ListSweepsResponse ls;
  grpc::Status s = stub->ListSweeps(Ctx().get(), v1::ListSweepsRequest(), &ls);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // Plaintext to a TLS port does not get through.
  auto plain = v1::SweepService::NewStub(server_->Channel());
  EXPECT_FALSE(plain->ListSweeps(Ctx("", 2000).get(), v1::ListSweepsRequest(), &ls).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hypersweep
