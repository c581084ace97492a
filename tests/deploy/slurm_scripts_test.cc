// deploy/slurm's scripts run outside Slurm with the environment Slurm would give them and stub
// binaries that record their arguments: what each Slurm setting turns into (GPU -> --device cuda,
// SLURM_CPUS_PER_TASK -> --threads, the array task -> --worker-id, files in HYPERSWEEP_HOME ->
// --server, --token-file, --tls-ca, --tls-cert), and the coordinator script's address file and
// signal forwarding. The real thing, under a real Slurm, is slurm_test.cc (make test-slurm).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep::deploy_test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSlurm = std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy/slurm";

using test_support::CommandResult;
using test_support::ReadFile;
using test_support::RunCommand;

void WriteFile(const std::string& path, const std::string& text, int mode = 0644) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

class SlurmScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hypersweep-sbatch-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    home_ = dir_ + "/home";
    fs::create_directories(dir_ + "/bin");
    fs::create_directories(home_);
    // Stubs: print one argument per line to a file, like the real binaries would receive them.
    WriteFile(dir_ + "/bin/hypersweep-worker",
              "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"" + dir_ + "/worker.args\"\n", 0755);
    WriteFile(dir_ + "/bin/hypersweepd",
              "#!/bin/bash\nprintf '%s\\n' \"$@\" > \"" + dir_ +
                  "/hypersweepd.args\"\ntrap 'echo stub got TERM >&2; exit 0' TERM\n"
                  "echo 'hypersweepd listening on 0.0.0.0:4242 (plaintext, db x)'\n"
                  "while :; do sleep 0.05; done\n",
              0755);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Runs workers.sbatch with `env` (VAR=value words) and returns the worker's arguments.
  std::string RunWorkers(const std::string& env) {
    CommandResult r =
        RunCommand("env -i PATH=/usr/bin:/bin HOME=" + dir_ + " HYPERSWEEP_HOME=" + home_ +
                   " HYPERSWEEP_BIN_DIR=" + dir_ + "/bin HYPERSWEEP_WAIT=2 " + env + " bash " +
                   kSlurm + "/workers.sbatch");
    EXPECT_EQ(r.status, 0) << r.output;
    return ReadFile(dir_ + "/worker.args");
  }

  std::string dir_, home_;
};

TEST_F(SlurmScriptsTest, WorkerArrayTaskOnACpu) {
  WriteFile(home_ + "/coordinator.address", "coord.example.org:4242\n");
  WriteFile(home_ + "/worker.token", "w\n", 0600);
  const std::string args =
      RunWorkers("SLURM_JOB_ID=8 SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=3 SLURM_CPUS_PER_TASK=6");
  EXPECT_THAT(args, HasSubstr("--server\ncoord.example.org:4242\n"));
  EXPECT_THAT(args, HasSubstr("--worker-id\nslurm-7_3\n"));
  EXPECT_THAT(args, HasSubstr("--device\ncpu\n"));
  EXPECT_THAT(args, HasSubstr("--threads\n6\n"));
  EXPECT_THAT(args, HasSubstr("--token-file\n" + home_ + "/worker.token\n"));
  EXPECT_THAT(args, HasSubstr("--checkpoint-dir\n" + home_ + "/checkpoints\n"));
  EXPECT_THAT(args, Not(HasSubstr("--tls-ca")));
}

TEST_F(SlurmScriptsTest, WorkerGivenAGpuUsesCudaAndTlsWhenTheCaIsThere) {
  WriteFile(home_ + "/coordinator.address", "coord:1\n");
  fs::create_directories(home_ + "/tls");
  WriteFile(home_ + "/tls/ca.crt", "pem\n");
  const std::string args = RunWorkers(
      "SLURM_JOB_ID=9 SLURM_CPUS_PER_TASK=8 SLURM_GPUS_ON_NODE=1 SLURM_JOB_GPUS=0 "
      "HYPERSWEEP_DATA_ROOT=/data");
  EXPECT_THAT(args, HasSubstr("--device\ncuda\n"));
  EXPECT_THAT(args, HasSubstr("--worker-id\nslurm-9\n"));
  EXPECT_THAT(args, HasSubstr("--tls-ca\n" + home_ + "/tls/ca.crt\n"));
  EXPECT_THAT(args, HasSubstr("--data-root\n/data\n"));
}

TEST_F(SlurmScriptsTest, WorkerWithoutACoordinatorGivesUp) {
  CommandResult r = RunCommand("env -i PATH=/usr/bin:/bin HYPERSWEEP_HOME=" + home_ +
                               " HYPERSWEEP_BIN_DIR=" + dir_ + "/bin HYPERSWEEP_WAIT=1 bash " +
                               kSlurm + "/workers.sbatch");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("coordinator.address"));
  EXPECT_FALSE(fs::exists(dir_ + "/worker.args"));
}

TEST_F(SlurmScriptsTest, CoordinatorPublishesItsAddressAndForwardsSigterm) {
  fs::create_directories(home_ + "/tls");
  WriteFile(home_ + "/tls/server.crt", "pem\n");
  WriteFile(home_ + "/tls/server.key", "key\n", 0600);
  // In the background; stop it with SIGTERM as scancel would, then collect what happened.
  CommandResult r = RunCommand(
      "cd " + dir_ + "; env -i PATH=/usr/bin:/bin HYPERSWEEP_HOME=" + home_ +
      " HYPERSWEEP_BIN_DIR=" + dir_ + "/bin HYPERSWEEP_ADVERTISE=coord.example.org bash " + kSlurm +
      "/hypersweepd.sbatch > out.log 2>&1 & pid=$!; "
      "for i in $(seq 100); do [ -s " +
      home_ +
      "/coordinator.address ] && break; sleep 0.05; done; "
      "cat " +
      home_ + "/coordinator.address; stat -c '%a' " + home_ + "/client.token " + home_ +
      "/worker.token; kill -TERM $pid; wait $pid; echo exit=$?; cat out.log");
  EXPECT_THAT(r.output, HasSubstr("coord.example.org:4242\n")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("600\n600\n")) << "tokens readable by others";
  EXPECT_THAT(r.output, HasSubstr("stub got TERM")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("exit=0")) << r.output;
  EXPECT_FALSE(fs::exists(home_ + "/coordinator.address")) << "stale address left behind";
  const std::string args = ReadFile(dir_ + "/hypersweepd.args");
  EXPECT_THAT(args, HasSubstr("--listen\n0.0.0.0:0\n"));
  EXPECT_THAT(args, HasSubstr("--db\n" + home_ + "/sweeps.db\n"));
  EXPECT_THAT(args, HasSubstr("--client-token-file\n" + home_ + "/client.token\n"));
  EXPECT_THAT(args, HasSubstr("--worker-token-file\n" + home_ + "/worker.token\n"));
  EXPECT_THAT(args, HasSubstr("--tls-cert\n" + home_ + "/tls/server.crt\n--tls-key\n" + home_ +
                              "/tls/server.key\n"));
  // Tokens are kept across runs: a second start must not replace them.
  const std::string token = ReadFile(home_ + "/client.token");
  EXPECT_EQ(token.size(), 64u);
  RunCommand("cd " + dir_ + "; env -i PATH=/usr/bin:/bin HYPERSWEEP_HOME=" + home_ +
             " HYPERSWEEP_BIN_DIR=" + dir_ + "/bin bash " + kSlurm +
             "/hypersweepd.sbatch > out2.log 2>&1 & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid");
  EXPECT_EQ(ReadFile(home_ + "/client.token"), token);
}

}  // namespace
}  // namespace hypersweep::deploy_test
