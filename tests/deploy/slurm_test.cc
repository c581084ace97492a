// deploy/slurm against a real Slurm on this machine: munged, slurmctld and slurmd started by
// tests/deploy/slurm_cluster.sh in a scratch directory, hypersweepd.sbatch as a Slurm job,
// workers.sbatch as a job array, and a worker job cancelled with scancel in the middle of a trial.
// Needs root and `make slurm-deps`; label slurm (and slow: `make test` skips it, `make test-slurm`
// runs it).
#include <stdlib.h>

#include <filesystem>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/sweep_client.h"

namespace hypersweep::deploy_test {
namespace {

using ::hypersweep::e2e::ReadAll;
using ::hypersweep::e2e::WaitFor;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kSource = HYPERSWEEP_SOURCE_DIR;
const std::string kClusterScript = kSource + "/tests/deploy/slurm_cluster.sh";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "hypersweep-slurm-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    home_ = dir_ + "/home";  // stands in for the shared filesystem
    std::filesystem::create_directories(dir_ + "/jobs");
    CommandResult r = RunCommand(kClusterScript + " start " + dir_ + "/slurm");
    started_ = true;
    ASSERT_EQ(r.status, 0) << r.output;
    // The environment sbatch hands to the jobs (sbatch exports the caller's environment).
    setenv("SLURM_CONF", (dir_ + "/slurm/slurm.conf").c_str(), 1);
    setenv("HYPERSWEEP_HOME", home_.c_str(), 1);
    setenv("HYPERSWEEP_BIN_DIR", (std::string(HYPERSWEEP_BINARY_DIR) + "/bin").c_str(), 1);
    setenv("HYPERSWEEP_LISTEN", "127.0.0.1:0", 1);  // loopback only in tests
    setenv("HYPERSWEEP_WAIT", "120", 1);
  }

  void TearDown() override {
    if (!started_) return;
    CommandResult r = RunCommand(kClusterScript + " stop " + dir_ + "/slurm");
    EXPECT_EQ(r.status, 0) << r.output;
    if (HasFailure()) {
      std::cerr << "job logs and Slurm logs are in " << dir_ << "\n" << JobLogs();
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  // sbatch --parsable; returns the job id.
  std::string Sbatch(const std::string& args) {
    CommandResult r = RunCommand("cd " + dir_ + "/jobs && sbatch --parsable " + args);
    EXPECT_EQ(r.status, 0) << r.output;
    return Trim(r.output.substr(0, r.output.find(';')));
  }

  // Job ids in squeue's %i form (ARRAYID_TASK for array tasks) in state R.
  std::set<std::string> RunningJobs() { return Jobs("--states=R"); }
  // Job ids squeue lists: pending, running, completing...
  std::set<std::string> Jobs(const std::string& options = "") {
    CommandResult r = RunCommand("squeue --noheader --format=%i " + options);
    std::set<std::string> ids;
    std::stringstream ss(r.output);
    for (std::string line; std::getline(ss, line);) {
      if (!Trim(line).empty()) ids.insert(Trim(line));
    }
    return ids;
  }

  std::string JobLogs() {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/jobs")) {
      all += "==== " + e.path().filename().string() + "\n" + ReadAll(e.path().string());
    }
    return all;
  }

  std::string dir_, home_;
  bool started_ = false;
};

TEST_F(SlurmTest, WorkerArrayRunsASweepAndAScancelledTrialResumesOnAnotherWorker) {
  const std::string coordinator =
      Sbatch("--cpus-per-task=1 --output=" + dir_ + "/jobs/hypersweepd-%j.out " + kSource +
             "/deploy/slurm/hypersweepd.sbatch");
  ASSERT_FALSE(coordinator.empty());
  // Submitted right after the coordinator, as the README says; they wait for its address file.
  const std::string array = Sbatch(
      "--array=0-1 --cpus-per-task=1 --dependency=after:" + coordinator + " --output=" + dir_ +
      "/jobs/worker-%A_%a.out " + kSource + "/deploy/slurm/workers.sbatch");
  ASSERT_FALSE(array.empty());
  const std::string address_file = home_ + "/coordinator.address";
  ASSERT_TRUE(WaitFor([&] { return !Trim(ReadAll(address_file)).empty(); }, 60s)) << JobLogs();
  const std::string address = Trim(ReadAll(address_file));
  EXPECT_THAT(address, ::testing::StartsWith("127.0.0.1:"));
  SweepClient client(address, Trim(ReadAll(home_ + "/client.token")));

  // Both array tasks run at once (one CPU each) and take trials.
  const std::string w0 = "slurm-" + array + "_0", w1 = "slurm-" + array + "_1";
  ASSERT_TRUE(WaitFor(
      [&] {
        auto jobs = RunningJobs();
        return jobs.count(array + "_0") && jobs.count(array + "_1");
      },
      60s))
      << RunCommand("squeue").output << JobLogs();
  // ...and have registered, so the first sweep's trials are shared between them.
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::ListWorkersResponse resp;
        if (!client.stub().ListWorkers(client.Context().get(), {}, &resp).ok()) return false;
        std::set<std::string> ids;
        for (const auto& w : resp.workers()) ids.insert(w.id());
        return ids == std::set<std::string>{w0, w1};
      },
      60s))
      << JobLogs();
  // The README's example sweep, as a user would submit it.
  const std::string sweep = client.Submit(ReadAll(kSource + "/deploy/slurm/example-sweep.yaml"));
  ASSERT_EQ(client.Trials(sweep).size(), 6u);
  ASSERT_TRUE(WaitFor([&] { return client.Done(sweep); }, 180s)) << JobLogs();
  client.ExpectEveryEpochOnce(sweep, 2);
  std::set<std::string> trained_by;
  for (const auto& t : client.Trials(sweep)) trained_by.insert(t.worker_id());
  EXPECT_EQ(trained_by, (std::set<std::string>{w0, w1})) << JobLogs();

  // A long trial; once it has checkpointed two epochs, scancel its worker's job.
  const std::string long_sweep = client.Submit(SyntheticSweep("slurm-scancel", 16, 40000, ""));
  std::optional<v1::Trial> running;
  ASSERT_TRUE(
      WaitFor([&] { return (running = client.RunningTrial(long_sweep, 2)).has_value(); }, 120s))
      << JobLogs();
  const std::string victim = running->worker_id();
  ASSERT_TRUE(victim == w0 || victim == w1) << victim;
  const std::string victim_job = victim.substr(std::string("slurm-").size());
  const std::string survivor = victim == w0 ? w1 : w0;
  CommandResult cancel = RunCommand("scancel " + victim_job);
  ASSERT_EQ(cancel.status, 0) << cancel.output;

  // The cancelled worker drains (Slurm's SIGTERM reaches the exec'd worker: checkpoint, hand the
  // trial back, exit 0) and its job ends well before KillWait (30 s) would SIGKILL it.
  const std::string victim_log = dir_ + "/jobs/worker-" + victim_job + ".out";
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadAll(victim_log).find("drained; exiting") != std::string::npos &&
               Jobs().count(victim_job) == 0;
      },
      25s))
      << RunCommand("squeue").output << ReadAll(victim_log);
  EXPECT_THAT(ReadAll(victim_log), HasSubstr("PREEMPTED")) << "handed back as preempted";

  ASSERT_TRUE(WaitFor([&] { return client.Done(long_sweep); }, 240s)) << JobLogs();
  client.ExpectEveryEpochOnce(long_sweep, 16);
  const v1::Trial done = client.Trials(long_sweep).at(0);
  EXPECT_EQ(done.worker_id(), survivor);
  EXPECT_GE(done.attempt(), running->attempt() + 1) << "the trial was not requeued";
  const std::string survivor_job = survivor.substr(std::string("slurm-").size());
  const std::string survivor_log = ReadAll(dir_ + "/jobs/worker-" + survivor_job + ".out");
  // It resumed from the cancelled attempt's checkpoint on the shared filesystem, not from scratch.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      survivor_log, m,
      std::regex("resumed from checkpoint " + home_ + "/checkpoints/\\S*\\.attempt" +
                 std::to_string(running->attempt()) + "\\.pt at epoch ([0-9]+)")))
      << survivor_log;
  EXPECT_GE(std::stoi(m[1]), 2) << m[0];

  // The coordinator job stops cleanly on scancel and removes its address file.
  ASSERT_EQ(RunCommand("scancel " + coordinator + " " + array).status, 0);
  const std::string coordinator_log = dir_ + "/jobs/hypersweepd-" + coordinator + ".out";
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadAll(coordinator_log).find("event=stopped") != std::string::npos &&
               !std::filesystem::exists(address_file);
      },
      40s))
      << ReadAll(coordinator_log) << "\naddress file: " << ReadAll(address_file);
}

}  // namespace
}  // namespace hypersweep::deploy_test
