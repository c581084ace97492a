// hypersweepd started with the exact arguments of deploy/k8s/coordinator-statefulset.yaml and of
// deploy/systemd/hypersweepd.service (only paths moved into a scratch directory and the listen
// address moved to 127.0.0.1:0): it must start, load the tokens from where the Secret / the unit
// puts them, and answer the Kubernetes gRPC health probe (grpc.health.v1.Health/Check, plaintext,
// no token) with SERVING.
#include <grpcpp/generic/generic_stub.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/sweep_client.h"

namespace hypersweep::deploy_test {
namespace {

namespace fs = std::filesystem;
using ::hypersweep::e2e::Process;
using ::hypersweep::e2e::ReadAll;
using ::hypersweep::e2e::WaitFor;
using namespace std::chrono_literals;

const std::string kDeploy = std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy";

// Replaces every occurrence of `from` in `s` with `to`.
std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

class DeployRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hypersweep-run-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override {
    coordinator_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Starts hypersweepd with `args` ("--flag=value" or "--flag value" words); `--listen` is
  // replaced by 127.0.0.1:0. Returns the address it listens on.
  std::string Start(std::vector<std::string> args) {
    std::vector<std::string> argv = {HYPERSWEEPD_BIN};
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i].rfind("--listen=", 0) == 0) args[i] = "--listen=127.0.0.1:0";
      if (args[i] == "--listen" && i + 1 < args.size()) args[i + 1] = "127.0.0.1:0";
      argv.push_back(args[i]);
    }
    coordinator_ = std::make_unique<Process>(argv, dir_ + "/hypersweepd.log");
    std::smatch m;
    std::string address;
    EXPECT_TRUE(WaitFor(
        [&] {
          const std::string log = ReadAll(dir_ + "/hypersweepd.log");
          if (!coordinator_->running()) return true;  // exited: fail now, with its log
          if (!std::regex_search(log, m, std::regex("listening on (127.0.0.1:[0-9]+)")))
            return false;
          address = m[1];
          return true;
        },
        20s))
        << ReadAll(dir_ + "/hypersweepd.log");
    return address;
  }

  // grpc.health.v1.Health/Check with an empty service name, as the kubelet sends it: plaintext,
  // no metadata. Returns the response's status enum (1: SERVING), or -1 on an RPC error.
  static int HealthCheck(const std::string& address) {
    grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) { done.set_value(s); });
    grpc::Status s = done.get_future().get();
    if (!s.ok()) return -1;
    std::vector<grpc::Slice> slices;
    if (!response.Dump(&slices).ok()) return -1;
    std::string bytes;
    for (const auto& slice : slices)
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    // HealthCheckResponse{status = 1}: field 1, varint.
    if (bytes.size() == 2 && bytes[0] == 0x08) return bytes[1];
    return bytes.empty() ? 0 : -1;
  }

  std::string dir_;
  std::unique_ptr<Process> coordinator_;
};

TEST_F(DeployRunTest, KubernetesCoordinatorArgsStartAndAnswerTheHealthProbe) {
  const YAML::Node ss = YAML::LoadFile(kDeploy + "/k8s/coordinator-statefulset.yaml");
  const YAML::Node c = ss["spec"]["template"]["spec"]["containers"][0];
  // Each volumeMount becomes a scratch directory; the tokens Secret's keys become files in its.
  std::vector<std::string> args;
  for (const auto& a : c["args"]) args.push_back(a.as<std::string>());
  const YAML::Node kustomization = YAML::LoadFile(kDeploy + "/k8s/kustomization.yaml");
  std::vector<bool> moved(args.size(), false);
  for (const auto& v : c["volumeMounts"]) {
    const std::string mount = v["mountPath"].as<std::string>();
    const std::string local = dir_ + "/" + v["name"].as<std::string>();
    fs::create_directories(local);
    for (size_t i = 0; i < args.size(); ++i) {
      const auto eq = args[i].find('=');
      if (moved[i] || eq == std::string::npos ||
          args[i].compare(eq + 1, mount.size() + 1, mount + "/") != 0)
        continue;
      args[i] = args[i].substr(0, eq + 1) + local + args[i].substr(eq + 1 + mount.size());
      moved[i] = true;
    }
  }
  int tokens = 0;
  for (const auto& g : kustomization["secretGenerator"]) {
    for (const auto& f : g["files"]) {
      std::ofstream(dir_ + "/tokens/" + f.as<std::string>())
          << "token-for-" << f.as<std::string>() << "\n";
      ++tokens;
    }
  }
  ASSERT_EQ(tokens, 2);
  const std::string address = Start(args);
  ASSERT_FALSE(address.empty()) << ReadAll(dir_ + "/hypersweepd.log");
  EXPECT_EQ(HealthCheck(address), 1) << "the readiness/liveness probe would fail";
  // The token files were read: no token is refused, the client token from the Secret works.
  std::string id;
  EXPECT_EQ(SweepClient(address, "").TrySubmit(SyntheticSweep("k8s", 1, 100, ""), &id).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status s = SweepClient(address, "token-for-client.token")
                       .TrySubmit(SyntheticSweep("k8s", 1, 100, ""), &id);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // The database is on the claim's volume.
  EXPECT_TRUE(fs::exists(dir_ + "/data/sweeps.db")) << ReadAll(dir_ + "/hypersweepd.log");
}

TEST_F(DeployRunTest, SystemdExecStartStartsAndStopsCleanlyOnSigterm) {
  std::ifstream in(kDeploy + "/systemd/hypersweepd.service");
  std::string line, exec;
  while (std::getline(in, line)) {
    if (line.rfind("ExecStart=", 0) == 0) exec = line.substr(std::string("ExecStart=").size());
  }
  ASSERT_FALSE(exec.empty());
  fs::create_directories(dir_ + "/var/lib/hypersweep");
  fs::create_directories(dir_ + "/etc/hypersweep");
  std::ofstream(dir_ + "/etc/hypersweep/client.token") << "c-token\n";
  std::ofstream(dir_ + "/etc/hypersweep/worker.token") << "w-token\n";
  std::istringstream words(exec);
  std::vector<std::string> args;
  std::string w;
  words >> w;  // the binary
  EXPECT_EQ(fs::path(w).filename(), "hypersweepd");
  while (words >> w) {
    if (w[0] == '$') continue;  // $HYPERSWEEPD_OPTS from the environment file: unset here
    w = ReplaceAll(w, "/var/lib/hypersweep/", dir_ + "/var/lib/hypersweep/");
    w = ReplaceAll(w, "/etc/hypersweep/", dir_ + "/etc/hypersweep/");
    args.push_back(w);
  }
  const std::string address = Start(args);
  ASSERT_FALSE(address.empty()) << ReadAll(dir_ + "/hypersweepd.log");
  EXPECT_EQ(HealthCheck(address), 1);
  EXPECT_EQ(SweepClient(address, "w-token")
                .TrySubmit(SyntheticSweep("sd", 1, 100, ""), nullptr)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // KillSignal=SIGTERM: a clean exit 0, well within TimeoutStopSec.
  coordinator_->Signal(SIGTERM);
  const int status = coordinator_->Wait(10s);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << coordinator_->log();
}

}  // namespace
}  // namespace hypersweep::deploy_test
