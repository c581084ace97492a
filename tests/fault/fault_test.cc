// The fault suite (issue 8, "Prove it survives"): real hypersweepd and hypersweep-worker processes
// on loopback, a seeded random schedule of kill -9 (workers and the coordinator) and SIGSTOP past
// the lease, a full disk under the database, and a truncated checkpoint. After each run: every
// trial in exactly one terminal state, every acknowledged epoch present exactly once and unchanged,
// every acknowledged sweep still there, `PRAGMA integrity_check` ok. docs/RELIABILITY.md quotes
// the FAULT_SUMMARY line this prints.
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace hypersweep::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int64_t Ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The suite's sweeps: SyntheticSweep on 16 features.
std::string Spec(const std::string& name, int epochs, int samples, const std::string& grid) {
  return SyntheticSweep(name, epochs, samples, grid, /*features=*/16);
}

// Submits with retries across coordinator restarts; max_attempts is high because every injected
// fault that takes a lease burns an attempt, and the suite checks results, not the retry budget.
std::string SubmitWithAttempts(Cluster& c, const std::string& spec, int max_attempts) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::SubmitSweepRequest req;
  req.set_spec(spec);
  req.set_max_attempts(max_attempts);
  v1::SubmitSweepResponse resp;
  grpc::Status s = c.sweeps().SubmitSweep(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.sweep().id();
}

bool Terminal(v1::TrialStatus s) {
  return s == v1::SUCCEEDED || s == v1::DIVERGED || s == v1::FAILED || s == v1::CANCELLED ||
         s == v1::PRUNED;
}

// trial id -> epoch -> metrics, as the coordinator serves them. nullopt on an RPC error.
using Stored = std::map<std::string, std::map<int64_t, std::map<std::string, double>>>;
std::optional<Stored> Metrics(Cluster& c, const std::vector<v1::Trial>& trials,
                              int* duplicates = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::GetTrialMetricsRequest req;
  for (const auto& t : trials) req.add_trial_ids(t.id());
  v1::GetTrialMetricsResponse resp;
  if (!c.sweeps().GetTrialMetrics(&ctx, req, &resp).ok()) return std::nullopt;
  Stored out;
  for (const auto& tm : resp.trials()) {
    auto& by_epoch = out[tm.trial_id()];
    for (const auto& e : tm.epochs()) {
      if (by_epoch.count(e.epoch()) && duplicates) ++*duplicates;
      by_epoch[e.epoch()] = {e.metrics().begin(), e.metrics().end()};
    }
  }
  return out;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// Worker log lines saying a finish of `trial` was accepted ("trial T attempt N: finished ...").
int FinishedLines(const std::string& logs, const std::string& trial) {
  int n = 0;
  std::istringstream in(logs);
  for (std::string line; std::getline(in, line);) {
    if (line.find("trial " + trial + " attempt ") != std::string::npos &&
        line.find(": finished ") != std::string::npos) {
      ++n;
    }
  }
  return n;
}

double Percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]);
}

constexpr size_t kProbeTrials = 1000;

// kProbeTrials one-epoch trials (10 weight decays x 10 momenta x 10 seeds).
std::string ProbeSpec(int n) {
  return "name: probe-" + std::to_string(n) +
         "\ndataset: {synthetic: {samples: 400, features: 16, classes: 3}}\n"
         "schedule: {constant: {lr: 0.01}}\nepochs: 1\nseeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
         "grid: {weight_decay: [0, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4],\n"
         "       momentum: [0.8, 0.82, 0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98]}\n";
}

TEST(FaultTest, SeededRandomFaultScheduleLosesNothing) {
  const char* seed_env = std::getenv("HYPERSWEEP_FAULT_SEED");
  const uint32_t seed = seed_env ? static_cast<uint32_t>(std::stoul(seed_env)) : 20261201u;
  const char* faults_env = std::getenv("HYPERSWEEP_FAULTS");
  const int kFaults = faults_env ? std::stoi(faults_env) : 24;
  std::mt19937 rng(seed);
  std::printf("fault suite: seed %u (HYPERSWEEP_FAULT_SEED), %d faults\n", seed, kFaults);

  constexpr int kEpochs = 6;
  constexpr int kLeaseMs = 1000;
  Cluster c;
  c.StartCoordinator("1s");
  const std::vector<std::string> ids = {"w1", "w2", "w3"};
  for (const auto& id : ids) c.StartWorker(id);

  std::vector<std::string> sweeps;  // the work the workers train
  std::vector<std::string> probes;  // sweeps acknowledged right before a coordinator kill
  std::map<std::string, std::map<int64_t, std::map<std::string, double>>> acked;  // seen stored
  int next_sweep = 0;
  auto all_trials = [&] {
    std::vector<v1::Trial> all;
    for (const auto& s : sweeps) {
      auto ts = c.Trials(s);
      all.insert(all.end(), ts.begin(), ts.end());
    }
    return all;
  };
  // Everything the coordinator serves now is acknowledged: remember it.
  auto snapshot = [&] {
    auto trials = all_trials();
    auto m = Metrics(c, trials);
    if (!m) return;
    for (auto& [id, by_epoch] : *m) {
      for (auto& [e, metrics] : by_epoch) acked[id].emplace(e, metrics);
    }
  };
  // At least three trials queued: submits another sweep when fewer are.
  auto keep_busy = [&] {
    int open = 0;
    for (const auto& t : all_trials()) open += t.status() == v1::QUEUED;
    if (open < 3) {
      sweeps.push_back(SubmitWithAttempts(
          c,
          Spec("fault-" + std::to_string(next_sweep++), kEpochs, 6000,
               "grid: {weight_decay: [0, 1e-5, 1e-4, 1e-3], momentum: [0.85, 0.9]}\n"),
          1000));
    }
  };
  // A worker in the middle of a trial (picked at random among the busy ones) and its trial.
  auto pick_busy = [&](std::string* worker, std::optional<v1::Trial>* held) {
    return WaitFor(
        [&] {
          std::vector<v1::Trial> busy;
          for (const auto& t : all_trials()) {
            if (t.status() == v1::LEASED && t.epochs_reported() >= 1 &&
                std::count(ids.begin(), ids.end(), t.worker_id()) == 1 &&
                c.worker(t.worker_id()).running()) {
              busy.push_back(t);
            }
          }
          if (busy.empty()) {
            keep_busy();  // the queue may have drained while we looked (short, resumed trials)
            return false;
          }
          *held = busy[std::uniform_int_distribution<size_t>(0, busy.size() - 1)(rng)];
          *worker = (*held)->worker_id();
          return true;
        },
        30s);
  };

  int worker_kills = 0, coordinator_kills = 0, stops = 0, fenced = 0;
  std::vector<int64_t> detect_ms, recover_serve_ms, recover_progress_ms;
  std::vector<std::string> violations;
  int results_lost = 0;
  keep_busy();
  for (int fault = 0; fault < kFaults; ++fault) {
    keep_busy();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<>(300, 1200)(rng)));
    const int kind = std::uniform_int_distribution<>(0, 2)(rng);
    std::string w;
    snapshot();
    if (kind == 0) {
      // kill -9 a worker in the middle of a trial; time until the coordinator requeues it.
      std::optional<v1::Trial> held;
      ASSERT_TRUE(pick_busy(&w, &held)) << "no worker is training\n" << c.Logs();
      c.worker(w).Signal(SIGKILL);
      c.worker(w).Wait();
      const auto killed = Clock::now();
      ASSERT_TRUE(WaitFor(
          [&] {
            for (const auto& t : all_trials()) {
              if (t.id() == held->id())
                return t.attempt() > held->attempt() || Terminal(t.status());
            }
            return false;
          },
          20s))
          << "the dead worker's lease was never requeued\n"
          << c.Logs();
      detect_ms.push_back(Ms(Clock::now() - killed));
      c.StartWorker(w);
      ++worker_kills;
      std::printf("fault %d: kill -9 worker %s holding %s: requeued after %lld ms\n", fault,
                  w.c_str(), held->id().c_str(), static_cast<long long>(detect_ms.back()));
    } else if (kind == 1) {
      // kill -9 the coordinator the moment it acknowledges a sweep of kProbeTrials trials (a
      // large commit, so an acknowledgement sent before its commit is caught); restart on the same
      // file; the sweep must be there in full. It is then cancelled (its trials end CANCELLED).
      int64_t reported = 0;
      for (const auto& t : all_trials()) reported += t.epochs_reported();
      const std::string probe = SubmitWithAttempts(c, ProbeSpec(fault), 1000);
      c.coordinator().Signal(SIGKILL);
      ASSERT_FALSE(probe.empty());
      probes.push_back(probe);
      c.coordinator().Wait();
      const auto killed = Clock::now();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<>(0, 500)(rng)));
      const auto restart = Clock::now();
      c.StartCoordinator("1s");
      if (::testing::Test::HasFatalFailure()) return;
      recover_serve_ms.push_back(Ms(Clock::now() - restart));
      const size_t probe_trials = c.Trials(probe).size();
      if (probe_trials != kProbeTrials) {
        ++results_lost;
        violations.push_back("sweep " + probe + " was acknowledged before a kill -9; after the " +
                             "restart it has " + std::to_string(probe_trials) + " of " +
                             std::to_string(kProbeTrials) + " trials");
      }
      ASSERT_TRUE(WaitFor(
          [&] {
            grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + 5s);
            v1::CancelSweepRequest req;
            req.set_sweep_id(probe);
            v1::CancelSweepResponse resp;
            grpc::Status st = c.sweeps().CancelSweep(&ctx, req, &resp);
            return st.ok() || st.error_code() == grpc::StatusCode::NOT_FOUND;
          },
          10s));
      // Recovered = the sweep makes progress again (a worker's report is committed).
      const bool progressed = WaitFor(
          [&] {
            keep_busy();  // something to progress on, if the queue drained meanwhile
            int64_t now_reported = 0;
            for (const auto& t : all_trials()) now_reported += t.epochs_reported();
            return now_reported > reported;
          },
          30s);
      EXPECT_TRUE(progressed) << "no progress after the coordinator restart\n" << c.Logs();
      if (progressed) recover_progress_ms.push_back(Ms(Clock::now() - restart));
      ++coordinator_kills;
      std::printf(
          "fault %d: kill -9 coordinator: serving %lld ms, progress %lld ms after restart "
          "(down %lld ms)\n",
          fault, static_cast<long long>(recover_serve_ms.back()),
          static_cast<long long>(progressed ? recover_progress_ms.back() : -1),
          static_cast<long long>(Ms(restart - killed)));
    } else {
      // SIGSTOP a worker past its lease (a partition); on SIGCONT it must be fenced off.
      std::optional<v1::Trial> held;
      ASSERT_TRUE(pick_busy(&w, &held)) << "no worker is training\n" << c.Logs();
      const size_t stale_before = Count(c.worker(w).log(), "stale lease for trial " + held->id());
      c.worker(w).Signal(SIGSTOP);
      const int pause_ms = std::uniform_int_distribution<>(kLeaseMs * 3 / 2, kLeaseMs * 5 / 2)(rng);
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      bool moved_on = false;  // the trial went to a later attempt while the worker slept
      ASSERT_TRUE(WaitFor(
          [&] {
            for (const auto& t : all_trials()) {
              if (t.id() == held->id()) {
                moved_on = t.attempt() > held->attempt();
                return true;
              }
            }
            return false;
          },
          10s));
      c.worker(w).Signal(SIGCONT);
      bool fenced_off = false;
      if (moved_on) {
        // The first call of the old attempt gets ABORTED (stale lease) and the worker drops it.
        fenced_off = WaitFor(
            [&] {
              return Count(c.worker(w).log(), "stale lease for trial " + held->id()) > stale_before;
            },
            10s);
        if (!fenced_off) {
          violations.push_back("worker " + w + " paused past its lease on " + held->id() +
                               " attempt " + std::to_string(held->attempt()) +
                               " was not fenced off after SIGCONT");
        } else {
          ++fenced;
        }
      }
      ++stops;
      std::printf("fault %d: SIGSTOP worker %s holding %s for %d ms (lease %d ms): %s\n", fault,
                  w.c_str(), held->id().c_str(), pause_ms, kLeaseMs,
                  !moved_on    ? "not requeued (no fence to check)"
                  : fenced_off ? "requeued meanwhile, fenced off on SIGCONT"
                               : "requeued meanwhile, NOT FENCED OFF");
    }
  }

  // Drain: every sweep ends.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& s : sweeps) {
          if (!c.Done(s)) return false;
        }
        return true;
      },
      180s))
      << c.Logs();

  // Invariants.
  const auto trials = all_trials();
  int duplicates = 0;
  auto final_metrics = Metrics(c, trials, &duplicates);
  ASSERT_TRUE(final_metrics.has_value());
  int acked_epochs = 0;
  for (const auto& [id, by_epoch] : acked) {
    for (const auto& [e, metrics] : by_epoch) {
      ++acked_epochs;
      auto it = (*final_metrics)[id].find(e);
      if (it == (*final_metrics)[id].end()) {
        ++results_lost;
        violations.push_back("acknowledged epoch " + std::to_string(e) + " of " + id + " is gone");
      } else if (it->second != metrics) {
        ++results_lost;
        violations.push_back("acknowledged epoch " + std::to_string(e) + " of " + id +
                             " changed its values");
      }
    }
  }
  if (duplicates) violations.push_back(std::to_string(duplicates) + " epochs stored twice");
  for (const auto& p : probes) {
    for (const auto& t : c.Trials(p)) {
      if (!Terminal(t.status())) violations.push_back("probe trial " + t.id() + " not terminal");
    }
  }
  const std::string logs = c.Logs();
  int succeeded = 0;
  for (const auto& t : trials) {
    if (t.status() != v1::SUCCEEDED) {
      violations.push_back(t.id() + " ended " + v1::TrialStatus_Name(t.status()) + ": " +
                           t.reason());
      continue;
    }
    ++succeeded;
    const int want = kEpochs;
    std::vector<int64_t> have;
    for (const auto& [e, m] : (*final_metrics)[t.id()]) have.push_back(e);
    std::vector<int64_t> all(want);
    std::iota(all.begin(), all.end(), 0);
    if (have != all || t.epochs_reported() != want) {
      ++results_lost;
      violations.push_back(t.id() + " SUCCEEDED with " + std::to_string(have.size()) + " of " +
                           std::to_string(want) + " epochs stored, epochs_reported " +
                           std::to_string(t.epochs_reported()));
    }
    // One terminal transition: at most one worker was told its finish was accepted.
    if (FinishedLines(logs, t.id()) > 1) violations.push_back(t.id() + " was finished twice");
  }
  ASSERT_EQ(c.StopCoordinator(), 0) << c.coordinator().log();
  const std::string integrity = c.IntegrityCheck();
  if (integrity != "ok") violations.push_back("integrity_check: " + integrity);
  for (const auto& v : violations) ADD_FAILURE() << v;
  if (!violations.empty()) std::printf("%s\n", logs.c_str());

  std::printf(
      "FAULT_SUMMARY seed=%u faults=%d worker_kills=%d coordinator_kills=%d stops=%d "
      "fenced=%d ack_probes=%zu trials=%zu succeeded=%d acked_epochs=%d results_lost=%d "
      "violations=%zu "
      "detect_dead_worker_ms_p50=%.0f detect_dead_worker_ms_max=%.0f "
      "coordinator_serving_ms_p50=%.0f coordinator_serving_ms_max=%.0f "
      "coordinator_progress_ms_p50=%.0f coordinator_progress_ms_max=%.0f lease_ttl_ms=%d "
      "integrity=%s\n",
      seed, worker_kills + coordinator_kills + stops, worker_kills, coordinator_kills, stops,
      fenced, probes.size(), trials.size(), succeeded, acked_epochs, results_lost,
      violations.size(), Percentile(detect_ms, 0.5), Percentile(detect_ms, 1.0),
      Percentile(recover_serve_ms, 0.5), Percentile(recover_serve_ms, 1.0),
      Percentile(recover_progress_ms, 0.5), Percentile(recover_progress_ms, 1.0), kLeaseMs,
      integrity.c_str());
  std::fflush(stdout);
  EXPECT_GE(worker_kills + coordinator_kills + stops, 20);
  EXPECT_EQ(results_lost, 0);
}

// A tmpfs mounted for the life of the object; whatever uses it is stopped first.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& size, std::function<void()> before_unmount)
      : dir_(dir), before_unmount_(std::move(before_unmount)) {
    std::filesystem::create_directories(dir);
    const std::string opts = "size=" + size + ",mode=0755";
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (!mounted_) return;
    before_unmount_();
    if (umount(dir_.c_str()) != 0) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::function<void()> before_unmount_;
  bool mounted_ = false;
  std::string error_;
};

// Fills the file system under `path` with `path`/filler until ENOSPC.
void FillDisk(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::vector<char> block(4096, 'x');
  while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
  }
  std::fclose(f);
  // Leave not even a partial page.
  FILE* g = std::fopen((path + ".2").c_str(), "w");
  if (g) {
    while (std::fwrite(block.data(), 1, 1, g) == 1) {
    }
    std::fclose(g);
  }
}

TEST(FaultTest, FullDiskRefusesNewWorkWithUnavailableAndRecoversByItselfOnceSpaceReturns) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  Cluster c;
  const std::string fs = c.dir() + "/dbfs";
  TmpfsMount mount_guard(fs, "4m", [&] {
    if (c.StopCoordinator(5s) == -1) c.coordinator().Signal(SIGKILL);
  });
  ASSERT_TRUE(mount_guard.mounted()) << "mount tmpfs on " << fs << ": " << mount_guard.error();
  c.set_db(fs + "/sweeps.db");
  c.StartCoordinator("2s");
  c.StartWorker("w1");
  const std::string before = SubmitWithAttempts(c, Spec("before-full", 4, 3000, ""), 10);
  ASSERT_TRUE(WaitFor([&] { return c.Done(before); }, 90s)) << c.Logs();
  const std::string during = SubmitWithAttempts(c, Spec("during-full", 8, 6000, ""), 10);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ts = c.Trials(during);
        return !ts.empty() && ts[0].epochs_reported() >= 1;
      },
      60s))
      << c.Logs();

  FillDisk(fs + "/filler");
  // New work is refused with UNAVAILABLE (retry), not accepted and lost.
  grpc::Status refused;
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 10s);
        v1::SubmitSweepRequest req;
        req.set_spec(Spec("refused-" + std::to_string(std::rand()), 2, 500,
                          "grid: {weight_decay: [0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]}\n"));
        v1::SubmitSweepResponse resp;
        refused = c.sweeps().SubmitSweep(&ctx, req, &resp);
        return !refused.ok();
      },
      30s))
      << "the coordinator kept accepting work on a full disk";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  std::printf("disk full: SubmitSweep -> %d %s\n", refused.error_code(),
              refused.error_message().c_str());
  // The worker's calls are refused too; it keeps its reports and waits.
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(c.worker("w1").running());
  EXPECT_TRUE(c.coordinator().running()) << "the coordinator died on a full disk";
  const auto ack_snapshot = Metrics(c, c.Trials(before));

  // Space returns; the same coordinator process recovers by itself (no restart, no operator):
  // it probes the file every 2 s and rebuilds its state from it.
  const pid_t pid = c.coordinator().pid();
  std::filesystem::remove(fs + "/filler");
  std::filesystem::remove(fs + "/filler.2");
  const auto freed = std::chrono::steady_clock::now();
  std::string after;
  grpc::Status last;
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 10s);
        v1::SubmitSweepRequest req;
        req.set_spec(Spec("after-full", 2, 1000, ""));
        req.set_max_attempts(10);
        v1::SubmitSweepResponse resp;
        last = c.sweeps().SubmitSweep(&ctx, req, &resp);
        after = resp.sweep().id();
        return last.ok();
      },
      30s))
      << "no new work accepted within 30 s of space returning: " << last.error_message() << "\n"
      << c.Logs();
  std::printf("disk full: serving again %.1f s after space returned\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count());
  EXPECT_TRUE(c.coordinator().running());
  EXPECT_EQ(c.coordinator().pid(), pid) << "the coordinator was restarted";
  // The operator's view: an error when the commit failed, a line when it recovered.
  const std::string log = c.coordinator().log();
  EXPECT_GE(CountOccurrences(log, "event=commit_failed"), 1) << log;
  EXPECT_NE(log.find("event=recovered"), std::string::npos) << log;
  ASSERT_TRUE(WaitFor([&] { return c.Done(during) && c.Done(after); }, 120s)) << c.Logs();
  for (const auto& s : {before, during, after}) {
    auto trials = c.Trials(s);
    ASSERT_EQ(trials.size(), 1u);
    EXPECT_EQ(trials[0].status(), v1::SUCCEEDED) << trials[0].reason();
    auto m = Metrics(c, trials);
    ASSERT_TRUE(m.has_value());
    const int want = s == before ? 4 : s == during ? 8 : 2;
    EXPECT_EQ((*m)[trials[0].id()].size(), static_cast<size_t>(want)) << s;
  }
  if (ack_snapshot) {
    EXPECT_EQ(*ack_snapshot, *Metrics(c, c.Trials(before)));
  }
  EXPECT_EQ(c.StopCoordinator(), 0);
  EXPECT_EQ(c.IntegrityCheck(), "ok");
}

TEST(FaultTest, TruncatedCheckpointRestartsTheTrialFromScratchAndSaysSo) {
  Cluster c;
  c.StartCoordinator("2s");
  c.StartWorker("w1");
  const std::string sweep = SubmitWithAttempts(c, Spec("truncated", 8, 12000, ""), 10);
  std::optional<v1::Trial> t;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ts = c.Trials(sweep);
        // The coordinator holds the file's name in the workers' --checkpoint-dir.
        if (ts.empty() || ts[0].epochs_reported() < 2 || ts[0].checkpoint_uri().empty() ||
            !std::filesystem::exists(c.dir() + "/checkpoints/" + ts[0].checkpoint_uri())) {
          return false;
        }
        t = ts[0];
        return true;
      },
      90s))
      << c.Logs();
  c.worker("w1").Signal(SIGKILL);
  c.worker("w1").Wait();
  // The file the coordinator points the next attempt at, cut in half.
  const std::string ckpt = c.dir() + "/checkpoints/" + c.Trials(sweep).at(0).checkpoint_uri();
  const auto size = std::filesystem::file_size(ckpt);
  ASSERT_GT(size, 16u);
  std::filesystem::resize_file(ckpt, size / 2);
  c.StartWorker("w2");
  ASSERT_TRUE(WaitFor([&] { return c.Done(sweep); }, 120s)) << c.Logs();
  const auto done = c.Trials(sweep).at(0);
  EXPECT_EQ(done.status(), v1::SUCCEEDED) << done.reason();
  EXPECT_EQ(done.epochs_reported(), 8);
  auto m = Metrics(c, {done});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)[done.id()].size(), 8u);
  const std::string log = c.worker("w2").log();
  EXPECT_THAT(log, HasSubstr("is unreadable"));
  EXPECT_THAT(log, HasSubstr("restarting the trial from epoch 0"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("resumed from checkpoint")));
  EXPECT_EQ(c.StopCoordinator(), 0);
  EXPECT_EQ(c.IntegrityCheck(), "ok");
}

}  // namespace
}  // namespace hypersweep::e2e
