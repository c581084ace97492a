// Issue 15, the coordinator's side: what one holder of a client or worker token can do to a real
// hypersweepd over gRPC. Each test drives the real binary on loopback with the right token and
// checks that the attack of the issue no longer works: huge specs neither stall workers' calls nor
// grow memory, padded specs cannot break `hypersweep list`, stalled watchers hold bounded memory,
// huge registrations are refused and ListWorkers pages, and the listen address is parsed.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/support/coordinator_process.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

using test_support::CoordinatorProcess;
using ::testing::HasSubstr;
namespace v1 = ::hypersweep::v1;

constexpr char kClientToken[] = "client-secret";
constexpr char kWorkerToken[] = "worker-secret";
constexpr char kSmallSpec[] =
    "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 3\n";

// The binaries under test; HYPERSWEEPD_BIN / HYPERSWEEP_CLI_BIN in the environment replace them
// (to show that a test fails against an older coordinator).
std::string Bin(const char* env, const char* built) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? v : built;
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token, int seconds = 60) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// A spec of about `bytes` bytes: a valid sweep padded with YAML comments.
std::string PaddedSpec(size_t bytes, const std::string& name) {
  std::string spec = "name: " + name + "\n" + kSmallSpec;
  const std::string line = "# " + std::string(1000, 'x') + "\n";
  while (spec.size() + line.size() <= bytes) spec += line;
  return spec;
}

class CoordinatorBoundaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    std::ofstream(dir_ + "/client.token") << kClientToken;
    std::ofstream(dir_ + "/worker.token") << kWorkerToken;
  }
  void TearDown() override { coordinator_.reset(); }
  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--client-token-file", dir_ + "/client.token",
                                     "--worker-token-file", dir_ + "/worker.token", "--no-sync"};
    args.insert(args.end(), extra.begin(), extra.end());
    coordinator_ = std::make_unique<CoordinatorProcess>(Bin("HYPERSWEEPD_BIN", HYPERSWEEPD_BIN),
                                                        dir_ + "/db", args);
    ASSERT_GT(coordinator_->port(), 0) << coordinator_->first_line();
    grpc::ChannelArguments a;
    a.SetMaxSendMessageSize(-1);  // let oversized requests leave the client
    a.SetMaxReceiveMessageSize(-1);
    channel_ =
        grpc::CreateCustomChannel(coordinator_->address(), grpc::InsecureChannelCredentials(), a);
    sweeps_ = v1::SweepService::NewStub(channel_);
    workers_ = v1::WorkerService::NewStub(channel_);
  }
  grpc::Status Submit(const std::string& spec, v1::SubmitSweepResponse* resp = nullptr) {
    v1::SubmitSweepRequest req;
    req.set_spec(spec);
    v1::SubmitSweepResponse ignored;
    return sweeps_->SubmitSweep(Ctx(kClientToken).get(), req, resp ? resp : &ignored);
  }
  test_support::ProgramResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Bin("HYPERSWEEP_CLI_BIN", HYPERSWEEP_CLI_BIN), "--server",
                                     coordinator_->address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test_support::RunProgram(
        argv, std::map<std::string, std::string>{
                  {"HYPERSWEEP_TOKEN", kClientToken}, {"HOME", dir_}, {"PATH", "/usr/bin:/bin"}});
  }

  test_support::TempDir tmp_{"hs-boundary"};
  std::string dir_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SweepService::Stub> sweeps_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

// Finding: two concurrent 25 MB specs made a worker's RegisterWorker take 12.9-27.8 s (workers
// time out at 10 s) and a 50 MB spec kept 2.9 GB. Now gRPC refuses them unread, and a spec above
// --max-spec-bytes is refused before parsing, off the callback threads.
TEST_F(CoordinatorBoundaryTest, HugeSpecsNeitherStallWorkersNorGrowMemory) {
  Start();
  const double rss_before = coordinator_->RssMiB();
  const std::string huge = PaddedSpec(25 << 20, "huge");
  std::vector<grpc::Status> huge_status(2);
  std::vector<std::thread> attackers;
  for (int i = 0; i < 2; ++i) {
    attackers.emplace_back([&, i] {
      // Each attacker its own connection, as two clients would.
      grpc::ChannelArguments a;
      a.SetMaxSendMessageSize(-1);
      a.SetInt("attacker", i);
      auto ch =
          grpc::CreateCustomChannel(coordinator_->address(), grpc::InsecureChannelCredentials(), a);
      v1::SubmitSweepRequest req;
      req.set_spec(huge);
      v1::SubmitSweepResponse resp;
      huge_status[i] =
          v1::SweepService::NewStub(ch)->SubmitSweep(Ctx(kClientToken).get(), req, &resp);
    });
  }
  double worst = 0;
  for (int i = 0; i < 10; ++i) {
    v1::RegisterWorkerRequest req;
    req.mutable_capabilities()->set_slots(1);
    v1::RegisterWorkerResponse resp;
    const auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = workers_->RegisterWorker(Ctx(kWorkerToken, 10).get(), req, &resp);
    worst = std::max(worst,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  for (auto& t : attackers) t.join();
  EXPECT_LT(worst, 2.0) << "a worker's RegisterWorker waited behind the huge specs";
  for (const auto& s : huge_status) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  // Between gRPC's bound (8 MiB) and --max-spec-bytes (1 MiB): refused with the limit named.
  grpc::Status mid = Submit(PaddedSpec(3 << 20, "mid"));
  EXPECT_EQ(mid.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(mid.error_message(), HasSubstr("--max-spec-bytes"));
  // A spec of more than --max-sweep-trials (10^7) trials is refused before any is made.
  grpc::Status wide = Submit(
      std::string(kSmallSpec) + "seeds: [" +
      [] {
        std::string s;
        for (int i = 0; i < 1001; ++i) s += (i ? "," : "") + std::to_string(i);
        return s;
      }() +
      "]\ngrid: {weight_decay: [" +
      [] {
        std::string s;
        for (int i = 0; i < 101; ++i) s += (i ? "," : "") + std::to_string(i * 1e-6);
        return s;
      }() +
      "], batch_size: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,"
      "16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,"
      "36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,"
      "56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,"
      "76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,"
      "96,97,98,99,100]}\n");
  EXPECT_EQ(wide.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << wide.error_message();
  EXPECT_THAT(wide.error_message(), HasSubstr("--max-sweep-trials"));
  EXPECT_TRUE(Submit(kSmallSpec).ok());
  const double grown = coordinator_->RssMiB() - rss_before;
  std::printf("RSS grew by %.0f MiB over the attack\n", grown);
  EXPECT_LT(grown, 200) << "memory kept after refusing huge specs";
}

// Finding: three specs padded with 30 MB of comments made `hypersweep list` fail for everyone.
// Now such specs are refused, specs at the limit are accepted, and lists carry no spec text.
TEST_F(CoordinatorBoundaryTest, PaddedSpecsCannotBreakList) {
  Start();
  EXPECT_EQ(Submit(PaddedSpec(30 << 20, "padded")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  for (int i = 0; i < 3; ++i) {
    grpc::Status s = Submit(PaddedSpec((1 << 20) - 100, "at-limit-" + std::to_string(i)));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  v1::ListSweepsRequest req;
  v1::ListSweepsResponse resp;
  ASSERT_TRUE(sweeps_->ListSweeps(Ctx(kClientToken).get(), req, &resp).ok());
  EXPECT_EQ(resp.sweeps_size(), 3);
  EXPECT_LT(resp.ByteSizeLong(), 10'000u) << "ListSweeps shipped spec text";
  auto list = Cli({"list", "--format", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 3u);
  // GetSweep still has the spec as submitted.
  v1::GetSweepRequest g;
  g.set_sweep_id(resp.sweeps(0).id());
  v1::GetSweepResponse gr;
  ASSERT_TRUE(sweeps_->GetSweep(Ctx(kClientToken).get(), g, &gr).ok());
  EXPECT_GT(gr.sweep().spec_text().size(), 1'000'000u);
}

// Finding: five stalled watchers on a sweep with a 30 MB spec grew the coordinator by 150 MB per
// report (every event carried the spec; queues had no bound). Now events carry no spec text and a
// watcher that does not read coalesces to the latest state.
TEST_F(CoordinatorBoundaryTest, StalledWatchersHoldBoundedMemory) {
  Start();
  std::string spec = PaddedSpec(1'000'000, "watched");
  spec.replace(spec.find("epochs: 3"), 9, "epochs: 2000");
  v1::SubmitSweepResponse sub;
  ASSERT_TRUE(Submit(spec, &sub).ok());
  const std::string sweep_id = sub.sweep().id();
  // Five watchers that never read: their streams stall once gRPC's flow-control windows fill.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::SweepEvent>>> watchers;
  for (int i = 0; i < 5; ++i) {
    contexts.push_back(Ctx(kClientToken, 600));
    v1::WatchSweepRequest w;
    w.set_sweep_id(sweep_id);
    watchers.push_back(sweeps_->WatchSweep(contexts.back().get(), w));
  }
  v1::RegisterWorkerRequest rreq;
  rreq.mutable_capabilities()->set_slots(1);
  v1::RegisterWorkerResponse rresp;
  ASSERT_TRUE(workers_->RegisterWorker(Ctx(kWorkerToken).get(), rreq, &rresp).ok());
  v1::AcquireTrialRequest areq;
  areq.set_worker_id(rresp.worker_id());
  v1::AcquireTrialResponse aresp;
  ASSERT_TRUE(workers_->AcquireTrial(Ctx(kWorkerToken).get(), areq, &aresp).ok());
  ASSERT_TRUE(aresp.acquired());
  const double rss_before = coordinator_->RssMiB();
  for (int e = 0; e < 300; ++e) {
    v1::ReportEpochsRequest r;
    *r.mutable_lease() = aresp.lease();
    auto* ep = r.add_epochs();
    ep->set_epoch(e);
    (*ep->mutable_metrics())["val_loss"] = 1.0 / (e + 1);
    v1::ReportEpochsResponse rr;
    grpc::Status s = workers_->ReportEpochs(Ctx(kWorkerToken).get(), r, &rr);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const double grown = coordinator_->RssMiB() - rss_before;
  EXPECT_LT(grown, 100) << "5 stalled watchers x 300 reports grew the coordinator by " << grown
                        << " MiB";
  for (auto& c : contexts) c->TryCancel();
  watchers.clear();
}

// Finding: 70 registrations with a 1 MB host string broke ListWorkers for everyone. Now the host
// is capped (the registration is refused, naming the field) and ListWorkers pages.
TEST_F(CoordinatorBoundaryTest, HugeRegistrationsAreRefusedAndWorkersPage) {
  Start({"--registration-rate", "0"});  // 150 registrations from one peer, at once
  v1::RegisterWorkerRequest big;
  big.mutable_capabilities()->set_host(std::string(1 << 20, 'h'));
  v1::RegisterWorkerResponse resp;
  grpc::Status s = workers_->RegisterWorker(Ctx(kWorkerToken).get(), big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("capabilities.host"));
  for (int i = 0; i < 150; ++i) {
    v1::RegisterWorkerRequest req;
    req.mutable_capabilities()->set_host("node-" + std::to_string(i));
    req.mutable_capabilities()->set_slots(1);
    ASSERT_TRUE(workers_->RegisterWorker(Ctx(kWorkerToken).get(), req, &resp).ok());
  }
  v1::ListWorkersRequest page;
  v1::ListWorkersResponse first;
  ASSERT_TRUE(sweeps_->ListWorkers(Ctx(kClientToken).get(), page, &first).ok());
  EXPECT_EQ(first.workers_size(), 100);
  EXPECT_FALSE(first.next_page_token().empty());
  auto workers = Cli({"workers", "--format", "json"});
  ASSERT_EQ(workers.exit_code, 0) << workers.err;
  EXPECT_EQ(nlohmann::json::parse(workers.out).size(), 150u);
}

// Finding: any host starting with "127." passed the loopback check, and with tokens a plaintext
// 0.0.0.0 listener was accepted, sending bearer tokens in the clear.
TEST_F(CoordinatorBoundaryTest, ListenAddressIsParsedAndPlaintextNeedsConsent) {
  const std::vector<std::string> tokens = {"--client-token-file", dir_ + "/client.token",
                                           "--worker-token-file", dir_ + "/worker.token"};
  auto run = [&](const std::string& listen, std::vector<std::string> extra) {
    std::vector<std::string> argv = {Bin("HYPERSWEEPD_BIN", HYPERSWEEPD_BIN), "--listen", listen,
                                     "--db", ":memory:"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test_support::RunProgram(argv);
  };
  auto evil = run("127.evil.example:0", {});
  EXPECT_EQ(evil.exit_code, 2);
  EXPECT_THAT(evil.err, HasSubstr("refusing to listen on non-loopback address 127.evil.example"));
  auto plaintext = run("0.0.0.0:0", tokens);
  EXPECT_EQ(plaintext.exit_code, 2);
  EXPECT_THAT(plaintext.err, HasSubstr("--tls-cert"));
  // With explicit consent it starts (and is stopped here).
  std::vector<std::string> argv = {Bin("HYPERSWEEPD_BIN", HYPERSWEEPD_BIN),
                                   "--listen",
                                   "0.0.0.0:0",
                                   "--db",
                                   ":memory:",
                                   "--insecure-plaintext"};
  argv.insert(argv.end(), tokens.begin(), tokens.end());
  test_support::Process consent(argv, dir_ + "/consent.log");
  EXPECT_TRUE(
      test_support::WaitFor([&] { return consent.log().find("listening on") != std::string::npos; },
                            std::chrono::seconds(30)))
      << consent.log();
}

}  // namespace
}  // namespace hypersweep
