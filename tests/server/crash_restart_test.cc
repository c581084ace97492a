// Acceptance 3: kill -9 hypersweepd during a stream of reports, restart it on the same file:
// every acknowledged report is there, no trial is lost or duplicated, and the queue continues.
// Runs the real binary.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "tests/support/coordinator_process.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

namespace v1 = ::hypersweep::v1;

constexpr int kTrials = 200;
constexpr int kEpochs = 10;

// A hypersweepd child process.
class Daemon : public test_support::CoordinatorProcess {
 public:
  Daemon(const std::string& db, const std::vector<std::string>& extra)
      : CoordinatorProcess(HYPERSWEEPD_BIN, db, extra) {
    EXPECT_GT(port(), 0) << "hypersweepd did not start: " << first_line();
  }
};

std::unique_ptr<grpc::ClientContext> Ctx(int ms = 10'000) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return c;
}

struct Acked {
  std::mutex mu;
  std::set<std::pair<std::string, int64_t>> epochs;
  std::set<std::string> finished;
  size_t count() {
    std::lock_guard<std::mutex> l(mu);
    return epochs.size();
  }
};

// A simulated worker: acquire, report the epochs not reported yet one call at a time, finish.
// Records what the coordinator acknowledged; stops at the first failed call (the daemon died) or
// when there is no work within `wait_ms`.
void RunWorker(std::shared_ptr<grpc::Channel> channel, Acked* acked, int64_t wait_ms) {
  auto stub = v1::WorkerService::NewStub(channel);
  v1::RegisterWorkerRequest reg;
  reg.mutable_capabilities()->set_host("sim");
  v1::RegisterWorkerResponse regr;
  if (!stub->RegisterWorker(Ctx().get(), reg, &regr).ok()) return;
  for (;;) {
    v1::AcquireTrialRequest req;
    req.set_worker_id(regr.worker_id());
    req.set_max_wait_ms(wait_ms);
    v1::AcquireTrialResponse a;
    if (!stub->AcquireTrial(Ctx(wait_ms + 5000).get(), req, &a).ok() || !a.acquired()) return;
    for (int64_t e = a.trial().epochs_reported(); e < kEpochs; ++e) {
      v1::ReportEpochsRequest rep;
      *rep.mutable_lease() = a.lease();
      v1::EpochMetrics* m = rep.add_epochs();
      m->set_epoch(e);
      (*m->mutable_metrics())["val_loss"] = 1.0 / (e + 1);
      rep.set_checkpoint_uri(
          absl::StrCat(a.lease().trial_id(), ".attempt", a.lease().attempt(), ".pt"));
      v1::ReportEpochsResponse repr;
      grpc::Status s = stub->ReportEpochs(Ctx().get(), rep, &repr);
      if (s.error_code() == grpc::StatusCode::ABORTED) break;  // lease lost: drop the trial
      if (!s.ok()) return;
      std::lock_guard<std::mutex> l(acked->mu);
      acked->epochs.emplace(a.lease().trial_id(), e);
    }
    v1::FinishTrialRequest f;
    *f.mutable_lease() = a.lease();
    f.set_status(v1::SUCCEEDED);
    v1::FinishTrialResponse fr;
    grpc::Status s = stub->FinishTrial(Ctx().get(), f, &fr);
    if (s.error_code() == grpc::StatusCode::ABORTED) continue;
    if (!s.ok()) return;
    std::lock_guard<std::mutex> l(acked->mu);
    acked->finished.insert(a.lease().trial_id());
  }
}

TEST(CrashRestartTest, AcknowledgedReportsSurviveKill9AndTheQueueContinues) {
  const std::string dir = ::testing::TempDir() + "hs_crash_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/hs.db";
  Acked acked;
  std::string sweep_id;
  {
    Daemon d(db, {"--lease-ttl", "1s"});
    auto sweeps = v1::SweepService::NewStub(d.Channel());
    v1::SubmitSweepRequest sub;
    sub.set_spec(absl::StrCat(
        "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: ", kEpochs,
        "\nrandom: {trials: ", kTrials, ", params: {momentum: {uniform: [0.5, 0.9]}}}\n"));
    v1::SubmitSweepResponse subr;
    ASSERT_TRUE(sweeps->SubmitSweep(Ctx().get(), sub, &subr).ok());
    sweep_id = subr.sweep().id();
    std::vector<std::thread> workers;
    for (int i = 0; i < 8; ++i) workers.emplace_back(RunWorker, d.Channel(), &acked, 0);
    // Kill in the middle of the stream of reports.
    for (int i = 0; i < 3000 && acked.count() < 400; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const int status = d.Kill(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (auto& t : workers) t.join();
  }
  ASSERT_GE(acked.count(), 400u) << "the stream was too slow to test anything";
  ASSERT_LT(acked.finished.size(), static_cast<size_t>(kTrials)) << "killed too late";

  Daemon d(db, {"--lease-ttl", "1s"});
  auto sweeps = v1::SweepService::NewStub(d.Channel());
  // Every acknowledged report is there.
  std::map<std::string, std::set<int64_t>> stored;
  {
    v1::GetTrialMetricsRequest req;
    for (const auto& [trial, e] : acked.epochs) req.add_trial_ids(trial);
    v1::GetTrialMetricsResponse resp;
    ASSERT_TRUE(sweeps->GetTrialMetrics(Ctx().get(), req, &resp).ok());
    for (const auto& t : resp.trials()) {
      for (const auto& e : t.epochs()) stored[t.trial_id()].insert(e.epoch());
    }
  }
  for (const auto& [trial, e] : acked.epochs) {
    EXPECT_TRUE(stored[trial].count(e))
        << trial << " epoch " << e << " was acknowledged, then lost";
  }
  // No trial lost or duplicated; acknowledged finishes stayed finished.
  v1::ListTrialsRequest lt;
  lt.set_sweep_id(sweep_id);
  lt.set_page_size(10'000);
  v1::ListTrialsResponse ltr;
  ASSERT_TRUE(sweeps->ListTrials(Ctx().get(), lt, &ltr).ok());
  ASSERT_EQ(ltr.total(), kTrials);
  std::set<std::string> ids;
  for (const auto& t : ltr.trials()) {
    ids.insert(t.id());
    if (acked.finished.count(t.id())) {
      EXPECT_EQ(t.status(), v1::SUCCEEDED) << t.id();
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kTrials));

  // The queue continues: trials leased at the crash come back when their leases expire, resume
  // from their reported epochs, and the sweep completes.
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) workers.emplace_back(RunWorker, d.Channel(), &acked, 3000);
  for (auto& t : workers) t.join();
  v1::GetSweepRequest gs;
  gs.set_sweep_id(sweep_id);
  v1::GetSweepResponse gsr;
  ASSERT_TRUE(sweeps->GetSweep(Ctx().get(), gs, &gsr).ok());
  EXPECT_EQ(gsr.sweep().state(), v1::SWEEP_COMPLETED);
  EXPECT_EQ(gsr.sweep().counts().succeeded(), kTrials);
  EXPECT_EQ(gsr.sweep().counts().total(), kTrials);
  v1::GetTrialMetricsRequest all;
  for (const auto& id : ids) all.add_trial_ids(id);
  v1::GetTrialMetricsResponse allr;
  ASSERT_TRUE(sweeps->GetTrialMetrics(Ctx().get(), all, &allr).ok());
  for (const auto& t : allr.trials()) {
    ASSERT_EQ(t.epochs_size(), kEpochs) << t.trial_id();
    for (int e = 0; e < kEpochs; ++e) EXPECT_EQ(t.epochs(e).epoch(), e);
  }
  // SIGTERM: a clean exit.
  const int status = d.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

std::string RunCapture(const std::string& cmd, int* exit_code) {
  test_support::CommandResult r = test_support::RunCommand(cmd);
  *exit_code = r.status;
  return r.output;
}

TEST(DaemonFlagsTest, RefusesNonLoopbackWithoutTokensAndBadFlags) {
  const std::string bin = HYPERSWEEPD_BIN;
  const std::string db = ::testing::TempDir() + "hs_flags_" + std::to_string(::getpid()) + ".db";
  int code = 0;
  std::string out = RunCapture(bin + " --listen 0.0.0.0:0 --db " + db, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("refusing to listen on non-loopback address 0.0.0.0:0"), std::string::npos)
      << out;
  out = RunCapture(bin + " --listen 127.0.0.1:0 --db " + db + " --lease-ttl soon", &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--lease-ttl"), std::string::npos) << out;
  out =
      RunCapture(bin + " --listen 127.0.0.1:0 --db " + db + " --tls-cert /nonexistent.pem", &code);
  EXPECT_EQ(code, 2);
  out = RunCapture(bin + " --help", &code);
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("--worker-token-file"), std::string::npos) << out;
  std::filesystem::remove(db);
}

// Token files through the real binary: each service takes only its own token.
TEST(DaemonFlagsTest, TokenFilesSeparateTheServices) {
  const std::string dir = ::testing::TempDir() + "hs_tokens_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir + "/client") << "client-token\n";
    std::ofstream(dir + "/worker") << "worker-token\n";
  }
  Daemon d(dir + "/hs.db",
           {"--client-token-file", dir + "/client", "--worker-token-file", dir + "/worker"});
  auto sweeps = v1::SweepService::NewStub(d.Channel());
  auto workers = v1::WorkerService::NewStub(d.Channel());
  auto ctx = [](const std::string& token) {
    auto c = Ctx();
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    return c;
  };
  v1::ListSweepsResponse ls;
  v1::RegisterWorkerResponse rw;
  EXPECT_EQ(sweeps->ListSweeps(ctx("").get(), {}, &ls).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(sweeps->ListSweeps(ctx("worker-token").get(), {}, &ls).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(sweeps->ListSweeps(ctx("client-token").get(), {}, &ls).ok());
  EXPECT_EQ(workers->RegisterWorker(ctx("client-token").get(), {}, &rw).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(workers->RegisterWorker(ctx("worker-token").get(), {}, &rw).ok());
  d.Kill(SIGTERM);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hypersweep
