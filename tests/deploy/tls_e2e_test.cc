// TLS and tokens on, end to end: certificates from deploy/tls/make-certs.sh (the documented
// openssl recipe), hypersweepd with --tls-cert/--tls-key and both token files, workers with
// --tls-ca and --token-file, and the CLI with the same flags. Real processes on 127.0.0.1.
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/sweep_client.h"

namespace hypersweep::deploy_test {
namespace {

using ::hypersweep::e2e::Process;
using ::hypersweep::e2e::ReadAll;
using ::hypersweep::e2e::WaitFor;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hypersweep-tls-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    CommandResult certs =
        RunCommand(std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy/tls/make-certs.sh " + dir_ +
                   "/tls localhost 127.0.0.1");
    ASSERT_EQ(certs.status, 0) << certs.output;
    WriteFile(dir_ + "/client.token", "client-secret-1234\n");
    WriteFile(dir_ + "/worker.token", "worker-secret-5678\n");
    coordinator_ = std::make_unique<Process>(
        std::vector<std::string>{HYPERSWEEPD_BIN, "--listen", "127.0.0.1:0", "--db",
                                 dir_ + "/sweeps.db", "--client-token-file", dir_ + "/client.token",
                                 "--worker-token-file", dir_ + "/worker.token", "--tls-cert",
                                 dir_ + "/tls/server.crt", "--tls-key", dir_ + "/tls/server.key",
                                 "--lease-ttl", "5s", "--max-wait", "2s"},
        dir_ + "/hypersweepd.log");
    std::smatch m;
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string log = ReadAll(dir_ + "/hypersweepd.log");
          if (!std::regex_search(log, m, std::regex("listening on 127.0.0.1:([0-9]+) \\(TLS"))) {
            return false;
          }
          port_ = m[1];
          return true;
        },
        20s))
        << ReadAll(dir_ + "/hypersweepd.log");
    ca_ = ReadAll(dir_ + "/tls/ca.crt");
  }

  void TearDown() override {
    workers_.clear();
    coordinator_.reset();
    if (HasFailure()) {
      std::cerr << Logs();
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  Process& StartWorker(const std::string& id, std::vector<std::string> extra) {
    std::vector<std::string> argv = e2e::WorkerArgv("localhost:" + port_, id, dir_);
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_.push_back(std::make_unique<Process>(argv, dir_ + "/worker-" + id + ".log"));
    return *workers_.back();
  }

  std::string Logs() const { return e2e::LogsIn(dir_); }

  std::string dir_, port_, ca_;
  std::unique_ptr<Process> coordinator_;
  std::vector<std::unique_ptr<Process>> workers_;
};

TEST_F(TlsE2eTest, SweepCompletesOverTlsWithTokens) {
  StartWorker("w1", {"--tls-ca", dir_ + "/tls/ca.crt", "--token-file", dir_ + "/worker.token"});
  // Both names in the certificate's subjectAltName work.
  SweepClient client("127.0.0.1:" + port_, "client-secret-1234", ca_);
  const std::string sweep =
      client.Submit(SyntheticSweep("tls", 2, 2000, "grid: {weight_decay: [0, 1e-4]}\n"));
  ASSERT_FALSE(sweep.empty());
  ASSERT_TRUE(WaitFor([&] { return client.Done(sweep); }, 60s)) << Logs();
  SweepClient by_name("localhost:" + port_, "client-secret-1234", ca_);
  by_name.ExpectEveryEpochOnce(sweep, 2);
  for (const auto& t : by_name.Trials(sweep)) EXPECT_EQ(t.worker_id(), "w1");
}

TEST_F(TlsE2eTest, WorkersWithoutTheWorkerTokenAreRefused) {
  Process& no_token = StartWorker("no-token", {"--tls-ca", dir_ + "/tls/ca.crt"});
  Process& client_token = StartWorker(
      "client-token", {"--tls-ca", dir_ + "/tls/ca.crt", "--token-file", dir_ + "/client.token"});
  for (Process* p : {&no_token, &client_token}) {
    const int status = p->Wait(20s);
    ASSERT_NE(status, -1) << "a worker with a wrong token kept running\n" << Logs();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << Logs();
    EXPECT_THAT(p->log(), HasSubstr("registration refused")) << p->log();
  }
  // The one with the right token registers and is listed.
  StartWorker("good", {"--tls-ca", dir_ + "/tls/ca.crt", "--token-file", dir_ + "/worker.token"});
  SweepClient client("localhost:" + port_, "client-secret-1234", ca_);
  std::set<std::string> ids;
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::ListWorkersResponse resp;
        ids.clear();
        if (!client.stub().ListWorkers(client.Context().get(), {}, &resp).ok()) return false;
        for (const auto& w : resp.workers()) ids.insert(w.id());
        return ids.count("good") > 0;
      },
      20s))
      << Logs();
  EXPECT_EQ(ids, std::set<std::string>{"good"});
}

TEST_F(TlsE2eTest, ClientsNeedTlsTheCaAndTheClientToken) {
  const std::string spec = SyntheticSweep("denied", 1, 1000, "");
  // Plaintext against the TLS port: no connection.
  EXPECT_EQ(
      SweepClient("127.0.0.1:" + port_, "client-secret-1234").TrySubmit(spec, nullptr).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // TLS trusting another CA: the handshake fails.
  CommandResult other = RunCommand(std::string(HYPERSWEEP_SOURCE_DIR) +
                                   "/deploy/tls/make-certs.sh " + dir_ + "/other localhost");
  ASSERT_EQ(other.status, 0) << other.output;
  EXPECT_EQ(SweepClient("localhost:" + port_, "client-secret-1234", ReadAll(dir_ + "/other/ca.crt"))
                .TrySubmit(spec, nullptr)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // Right CA, wrong or no token.
  EXPECT_EQ(SweepClient("localhost:" + port_, "", ca_).TrySubmit(spec, nullptr).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(SweepClient("localhost:" + port_, "nope", ca_).TrySubmit(spec, nullptr).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(SweepClient("localhost:" + port_, "worker-secret-5678", ca_)
                .TrySubmit(spec, nullptr)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(
      SweepClient("localhost:" + port_, "client-secret-1234", ca_).TrySubmit(spec, nullptr).ok());
}

// The CLI's --tls-ca and --token-file: it submits and lists over TLS with the client token, and
// fails with exit code 4 (unreachable or authentication failure) without TLS or with the worker's.
TEST_F(TlsE2eTest, CliTalksTlsWithTheCaAndTheClientToken) {
  WriteFile(dir_ + "/cli.yaml", SyntheticSweep("cli-over-tls", 1, 1000, ""));
  const std::string cli = std::string(HYPERSWEEP_CLI_BIN) + " --server localhost:" + port_ + " ";
  const std::string tls = "--tls-ca " + dir_ + "/tls/ca.crt ";
  CommandResult submit =
      RunCommand(cli + tls + "--token-file " + dir_ + "/client.token submit " + dir_ + "/cli.yaml");
  ASSERT_EQ(submit.status, 0) << submit.output;
  CommandResult list = RunCommand(cli + tls + "--token-file " + dir_ + "/client.token list");
  EXPECT_EQ(list.status, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("cli-over-tls"));

  CommandResult plaintext =
      RunCommand(cli + "--timeout 2 --token-file " + dir_ + "/client.token list");
  EXPECT_EQ(plaintext.status, 4) << plaintext.output;
  CommandResult worker_token =
      RunCommand(cli + tls + "--token-file " + dir_ + "/worker.token list");
  EXPECT_EQ(worker_token.status, 4) << worker_token.output;
  EXPECT_THAT(worker_token.output, HasSubstr("a worker token cannot call SweepService"));
  CommandResult no_file = RunCommand(cli + "--tls-ca " + dir_ + "/missing.pem list");
  EXPECT_NE(no_file.status, 0);
  EXPECT_THAT(no_file.output, HasSubstr("missing.pem"));
}

}  // namespace
}  // namespace hypersweep::deploy_test
