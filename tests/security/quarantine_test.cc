// Issue 15, quarantine and stuck sweeps, against real hypersweepd processes (and the real CLI and
// worker where named): a client's bad sweeps do not quarantine a worker; an operator clears a
// quarantine with the CLI and only the operator token may; a sweep whose trials fail with the
// same user error pauses, says why, and runs again after `hypersweep resume`; `status` says when
// no healthy worker can take the queued trials; RegisterWorker is rate-limited per peer.
#include <chrono>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/support/process.h"

namespace hypersweep::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kClient[] = "client-secret";
constexpr char kWorker[] = "worker-secret";
constexpr char kOperator[] = "operator-secret";

test_support::ProgramResult RunCli(const std::string& home, std::vector<std::string> args) {
  std::map<std::string, std::string> env = {{"HOME", home}};
  if (const char* path = std::getenv("PATH")) env.emplace("PATH", path);
  args.insert(args.begin(), HYPERSWEEP_CLI_BIN);
  return test_support::RunProgram(args, env);
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + 10s);
  return ctx;
}

std::string OneTrialBadPath(const std::string& name) {
  return "name: " + name +
         "\ndataset: {csv: {path: /nonexistent/higgs.csv, label: y}}\n"
         "schedule: {constant: {lr: 0.1}}\nepochs: 1\n";
}

// A coordinator with client, worker and operator tokens, and a raw worker that registers and
// finishes trials as it is told.
class SecuredCluster {
 public:
  explicit SecuredCluster(bool with_operator = true, std::vector<std::string> extra = {})
      : extra_(std::move(extra)) {
    std::ofstream(c.dir() + "/client.token") << kClient << "\n";
    std::ofstream(c.dir() + "/worker.token") << kWorker << "\n";
    std::ofstream(c.dir() + "/operator.token") << kOperator << "\n";
    std::ofstream(c.dir() + "/wrong.token") << "guess\n";
    Start(with_operator);
  }
  void Start(bool with_operator) {
    std::vector<std::string> flags = {"--client-token-file", c.dir() + "/client.token",
                                      "--worker-token-file", c.dir() + "/worker.token"};
    if (with_operator) {
      flags.insert(flags.end(), {"--operator-token-file", c.dir() + "/operator.token"});
    }
    flags.insert(flags.end(), extra_.begin(), extra_.end());
    c.StartCoordinator("30s", flags);
    auto channel = grpc::CreateChannel(c.address(), grpc::InsecureChannelCredentials());
    sweeps = v1::SweepService::NewStub(channel);
    workers = v1::WorkerService::NewStub(channel);
    client = std::make_unique<SweepClient>(c.address(), kClient);
  }
  std::string Register(int max_failures) {
    v1::RegisterWorkerRequest req;
    req.mutable_capabilities()->set_host("raw");
    req.mutable_capabilities()->set_device("cpu");
    req.mutable_capabilities()->set_max_consecutive_failures(max_failures);
    v1::RegisterWorkerResponse resp;
    grpc::Status s = workers->RegisterWorker(Ctx(kWorker).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.worker_id();
  }
  v1::AcquireTrialResponse Acquire(const std::string& worker_id) {
    v1::AcquireTrialRequest req;
    req.set_worker_id(worker_id);
    v1::AcquireTrialResponse resp;
    grpc::Status s = workers->AcquireTrial(Ctx(kWorker).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  // Acquires a trial and finishes it FAILED as `fc`.
  void AcquireAndFail(const std::string& worker_id, v1::FailureClass fc,
                      const std::string& reason) {
    v1::AcquireTrialResponse a = Acquire(worker_id);
    ASSERT_TRUE(a.acquired());
    v1::FinishTrialRequest req;
    *req.mutable_lease() = a.lease();
    req.set_status(v1::FAILED);
    req.set_failure_class(fc);
    req.set_reason(reason);
    v1::FinishTrialResponse resp;
    grpc::Status s = workers->FinishTrial(Ctx(kWorker).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  v1::Worker WorkerOf(const std::string& id) {
    v1::ListWorkersResponse resp;
    grpc::Status s = sweeps->ListWorkers(Ctx(kClient).get(), v1::ListWorkersRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& w : resp.workers()) {
      if (w.id() == id) return w;
    }
    ADD_FAILURE() << "no worker " << id;
    return {};
  }
  test_support::ProgramResult Cli(const std::string& token_file, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--server", c.address(), "--token-file", c.dir() + "/" + token_file});
    return RunCli(c.dir(), args);
  }

  std::vector<std::string> extra_;  // more hypersweepd flags
  Cluster c;
  std::unique_ptr<v1::SweepService::Stub> sweeps;
  std::unique_ptr<v1::WorkerService::Stub> workers;
  std::unique_ptr<SweepClient> client;
};

TEST(QuarantineTest, AClientsBadSweepsDoNotQuarantineTheWorker) {
  SecuredCluster s;
  const std::string w = s.Register(/*max_failures=*/3);
  for (int i = 0; i < 3; ++i) {
    s.client->Submit(OneTrialBadPath("bad-" + std::to_string(i)));
    s.AcquireAndFail(w, v1::USER_ERROR, "data file not found: /nonexistent/higgs.csv");
  }
  const v1::Worker seen = s.WorkerOf(w);
  EXPECT_FALSE(seen.quarantined());
  EXPECT_EQ(seen.consecutive_failures(), 0);
  s.client->Submit(OneTrialBadPath("next"));
  v1::AcquireTrialResponse next = s.Acquire(w);
  EXPECT_TRUE(next.acquired());
  EXPECT_FALSE(next.quarantined());
}

TEST(QuarantineTest, TheOperatorClearsAQuarantineWithTheCliAndOtherTokensAreRefused) {
  SecuredCluster s;
  const std::string w = s.Register(/*max_failures=*/2);
  for (int i = 0; i < 2; ++i) {
    s.client->Submit(OneTrialBadPath("oom-" + std::to_string(i)));
    s.AcquireAndFail(w, v1::OUT_OF_MEMORY, "12 GiB");
  }
  ASSERT_TRUE(s.WorkerOf(w).quarantined());
  for (const char* file : {"wrong.token", "client.token", "worker.token"}) {
    auto refused = s.Cli(file, {"workers", "--clear-quarantine", w});
    EXPECT_NE(refused.exit_code, 0) << file;
    EXPECT_TRUE(s.WorkerOf(w).quarantined()) << file;
  }
  auto cleared = s.Cli("operator.token", {"workers", "--clear-quarantine", w, "--format", "csv"});
  ASSERT_EQ(cleared.exit_code, 0) << cleared.err;
  EXPECT_THAT(cleared.out, HasSubstr(w + ",false,0"));
  EXPECT_FALSE(s.WorkerOf(w).quarantined());
  // Stored: a coordinator restart keeps it cleared, and the worker gets work again.
  ASSERT_EQ(s.c.StopCoordinator(), 0);
  s.Start(/*with_operator=*/false);
  EXPECT_FALSE(s.WorkerOf(w).quarantined());
  s.client->Submit(OneTrialBadPath("after"));
  EXPECT_TRUE(s.Acquire(w).acquired());
  // With tokens but no operator token the call says how to enable it.
  auto disabled = s.Cli("operator.token", {"workers", "--clear-quarantine", w});
  EXPECT_NE(disabled.exit_code, 0);
  EXPECT_THAT(disabled.err, HasSubstr("--operator-token-file"));
}

// A loopback development coordinator with no tokens at all: the operator call needs none.
TEST(QuarantineTest, WithoutAnyTokensTheOperatorCallIsAllowed) {
  Cluster c;
  c.StartCoordinator("30s");
  auto channel = grpc::CreateChannel(c.address(), grpc::InsecureChannelCredentials());
  auto workers = v1::WorkerService::NewStub(channel);
  v1::RegisterWorkerRequest req;
  req.mutable_capabilities()->set_max_consecutive_failures(1);
  v1::RegisterWorkerResponse reg;
  grpc::ClientContext rctx;
  ASSERT_TRUE(workers->RegisterWorker(&rctx, req, &reg).ok());
  auto cleared = RunCli(c.dir(), {"--server", c.address(), "workers", "--clear-quarantine",
                                  reg.worker_id(), "--format", "csv"});
  EXPECT_EQ(cleared.exit_code, 0) << cleared.err;
  EXPECT_THAT(cleared.out, HasSubstr(reg.worker_id() + ",false,0"));
  auto unknown =
      RunCli(c.dir(), {"--server", c.address(), "workers", "--clear-quarantine", "w-nobody"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("unknown worker w-nobody"));
}

TEST(QuarantineTest, StatusSaysNoHealthyWorkerInsteadOfAnEta) {
  SecuredCluster s;
  const std::string w = s.Register(/*max_failures=*/1);
  const std::string sweep = s.client->Submit(
      "name: two\ndataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n"
      "grid: {batch_size: [16, 32, 64]}\n");
  s.AcquireAndFail(w, v1::OUT_OF_MEMORY, "12 GiB");  // the only worker is quarantined
  auto status = s.Cli("client.token", {"status", sweep, "--format", "table"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out,
              HasSubstr("no healthy worker: 1 registered, 1 quarantined; queued trials wait"));
  EXPECT_THAT(status.out, Not(HasSubstr("ETA")));
}

TEST(QuarantineTest, RegistrationIsRateLimitedPerPeer) {
  SecuredCluster s(/*with_operator=*/true, {"--registration-rate", "2"});  // bursts of 20
  int refused = 0;
  std::string message;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {
    v1::RegisterWorkerRequest req;
    req.mutable_capabilities()->set_host("flood");
    v1::RegisterWorkerResponse resp;
    grpc::Status st = s.workers->RegisterWorker(Ctx(kWorker).get(), req, &resp);
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      message = st.error_message();
    } else {
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(refused, 40 - 20 - static_cast<int>(2 * seconds) - 1);
  EXPECT_GT(refused, 0);
  EXPECT_THAT(
      message,
      HasSubstr("more than 2 RegisterWorker calls per second (bursts of 20) from 127.0.0.1"));
}

// The new user's experience (a spec naming a data file the worker does not have) with the real
// worker and CLI: the sweep pauses after two identical user errors rather than burning its
// points, status says why, and after the file is put in place `hypersweep resume` runs it all.
TEST(QuarantineE2eTest, ASweepPausesOnTheSameUserErrorAndResumes) {
  SecuredCluster s;
  const std::string data = s.c.dir() + "/data.csv";
  const std::string spec = s.c.dir() + "/sweep.yaml";
  std::ofstream(spec)
      << "name: missing-file\ndataset: {csv: {path: data.csv, label: y}}\nmodel: {mlp: {hidden: "
         "[8]}}\n"
         "schedule: {constant: {lr: 0.1}}\nepochs: 1\nbatch_size: 8\n"
         "validation: {holdout: 0.25}\ngrid: {weight_decay: [0, 1e-5, 1e-4, 1e-3]}\n";
  std::string sweep = s.client->Submit(test_support::ReadFile(spec));
  s.c.StartWorker("w1", {"--token-file", s.c.dir() + "/worker.token", "--max-consecutive-failures",
                         "10", "--data-root", s.c.dir()});
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetSweepRequest req;
        req.set_sweep_id(sweep);
        v1::GetSweepResponse resp;
        return s.sweeps->GetSweep(Ctx(kClient).get(), req, &resp).ok() &&
               resp.sweep().state() == v1::SWEEP_PAUSED;
      },
      60s))
      << s.c.Logs();
  std::this_thread::sleep_for(3s);  // the worker keeps polling: nothing more is handed out
  int failed = 0, queued = 0;
  for (const auto& t : s.client->Trials(sweep)) {
    failed += t.status() == v1::FAILED;
    queued += t.status() == v1::QUEUED;
  }
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(queued, 2);
  auto status = s.Cli("client.token", {"status", sweep, "--format", "table"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("PAUSED"));
  EXPECT_THAT(status.out, HasSubstr("paused: 2 trials failed with the same user error: "
                                    "dataset.csv.path: 'data.csv' is not a readable file"));
  EXPECT_FALSE(s.WorkerOf("w1").quarantined());

  {  // the fix: the data file appears
    std::ofstream out(data);
    out << "a,b,y\n";
    for (int i = 0; i < 64; ++i)
      out << (i % 7) * 0.1 << "," << (i % 5) * 0.2 << "," << i % 2 << "\n";
  }
  auto resumed = s.Cli("client.token", {"resume", sweep});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  ASSERT_TRUE(WaitFor([&] { return s.client->Done(sweep); }, 120s)) << s.c.Logs();
  int succeeded = 0;
  for (const auto& t : s.client->Trials(sweep)) succeeded += t.status() == v1::SUCCEEDED;
  EXPECT_EQ(succeeded, 4) << s.c.Logs();
}

}  // namespace
}  // namespace hypersweep::e2e
