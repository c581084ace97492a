// End-to-end test harness: real hypersweepd and hypersweep-worker processes on loopback.
#ifndef HYPERSWEEP_TESTS_E2E_HARNESS_H_
#define HYPERSWEEP_TESTS_E2E_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "tests/e2e/sweep_client.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep::e2e {

using test_support::CountOccurrences;
using test_support::Process;
using test_support::WaitFor;
inline std::string ReadAll(const std::string& path) { return test_support::ReadFile(path); }

// A synthetic sweep: `epochs` epochs of 0.8 * `samples` training samples at batch 32 on a 2x128
// MLP (40000 samples of 32 features: about half a second per epoch on one thread), plus `extra`
// YAML (a grid, seeds, ...).
inline std::string SyntheticSweep(const std::string& name, int epochs, int samples,
                                  const std::string& extra, int features = 32) {
  return "name: " + name + "\ndataset: {synthetic: {samples: " + std::to_string(samples) +
         ", features: " + std::to_string(features) +
         ", classes: 3}}\nmodel: {mlp: {hidden: [128, 128]}}\n"
         "schedule: {one_cycle: {max_lr: 0.05}}\nepochs: " +
         std::to_string(epochs) + "\nbatch_size: 32\nvalidation: {holdout: 0.2}\n" + extra;
}

// hypersweep-worker's command line for tests: one thread, checkpoints under `dir`, short polls.
inline std::vector<std::string> WorkerArgv(const std::string& server, const std::string& id,
                                           const std::string& dir) {
  return {HYPERSWEEP_WORKER_BIN,
          "--server",
          server,
          "--worker-id",
          id,
          "--threads",
          "1",
          "--checkpoint-dir",
          dir + "/checkpoints",
          "--acquire-wait-ms",
          "1000"};
}

// Every *.log file in `dir`, each under a "==== name" line.
inline std::string LogsIn(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") {
      all += "==== " + entry.path().filename().string() + "\n" + ReadAll(entry.path().string());
    }
  }
  return all;
}

// A scratch directory with a coordinator and workers.
class Cluster {
 public:
  Cluster() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hypersweep-e2e-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~Cluster() {
    workers_.clear();
    coordinator_.reset();
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_);
  }
  const std::string& dir() const { return dir_; }
  std::string db() const { return db_.empty() ? dir_ + "/sweeps.db" : db_; }
  // Puts the database elsewhere (e.g. on a small tmpfs); before the first StartCoordinator.
  void set_db(const std::string& path) { db_ = path; }

  // Starts hypersweepd; the first start picks a free port, restarts reuse it.
  void StartCoordinator(const std::string& lease_ttl = "2s", std::vector<std::string> extra = {}) {
    const std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> argv = {HYPERSWEEPD_BIN, "--listen", listen,       "--db", db(),
                                     "--lease-ttl",   lease_ttl,  "--max-wait", "2s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string log = dir_ + "/hypersweepd." + std::to_string(++coordinator_starts_) + ".log";
    coordinator_ = std::make_unique<Process>(argv, log);
    std::smatch m;
    const std::regex re("listening on [0-9.]+:([0-9]+)");
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string text = ReadAll(log);
          if (!std::regex_search(text, m, re)) return false;
          port_ = std::stoi(m[1]);
          return true;
        },
        std::chrono::seconds(20)))
        << ReadAll(log);
    client_ = std::make_unique<SweepClient>(address(), "");
  }
  Process& coordinator() { return *coordinator_; }

  // SIGTERM and wait: the coordinator drains its commit queue and closes the database.
  int StopCoordinator(std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000)) {
    if (!coordinator_ || !coordinator_->running()) return 0;
    coordinator_->Signal(SIGTERM);
    return coordinator_->Wait(timeout);
  }

  // `PRAGMA integrity_check` by the sqlite3 CLI ("ok" when the file is sound).
  std::string IntegrityCheck() const {
    std::string out =
        test_support::RunCommand("sqlite3 '" + db() + "' 'PRAGMA integrity_check;'").output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  Process& StartWorker(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = WorkerArgv(address(), id, dir_);
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_[id] = std::make_unique<Process>(argv, dir_ + "/worker-" + id + ".log");
    return *workers_[id];
  }
  Process& worker(const std::string& id) { return *workers_.at(id); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  SweepClient& client() { return *client_; }
  v1::SweepService::Stub& sweeps() { return client_->stub(); }
  std::string Submit(const std::string& spec) { return client_->Submit(spec); }
  std::vector<v1::Trial> Trials(const std::string& sweep_id) { return client_->Trials(sweep_id); }
  bool Done(const std::string& sweep_id) { return client_->Done(sweep_id); }
  std::map<std::string, std::vector<int64_t>> Epochs(const std::vector<v1::Trial>& trials) {
    return client_->Epochs(trials);
  }

  std::string Logs() const { return LogsIn(dir_); }

 private:
  std::string dir_;
  std::string db_;
  int port_ = 0;
  int coordinator_starts_ = 0;
  std::unique_ptr<Process> coordinator_;
  std::map<std::string, std::unique_ptr<Process>> workers_;
  std::unique_ptr<SweepClient> client_;
};

}  // namespace hypersweep::e2e

#endif  // HYPERSWEEP_TESTS_E2E_HARNESS_H_
