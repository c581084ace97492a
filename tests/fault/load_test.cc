// The load test (issue 8): 200 simulated workers (register, acquire, heartbeat, report epochs,
// finish; each with its own connection) for 60 s against one hypersweepd on loopback with a
// file database (fsync on). No call may fail; p50/p99 latencies are printed on a LOAD_SUMMARY line
// that docs/RELIABILITY.md quotes. HYPERSWEEP_LOAD_WORKERS and HYPERSWEEP_LOAD_SECONDS override
// the size (bounded: at most 1000 workers, 600 s).
//
// Halfway through, `hypersweepd backup` (the real binary) snapshots the database under that load
// (issue 19). After the run the backup is restored with `hypersweepd restore` to a new file, a
// coordinator is started on it, and every result acknowledged before the backup started (each
// sweep submitted, each epoch reported and each trial finished whose call returned OK) must be
// served by it; a BACKUP_SUMMARY line gives the backup's time and the count checked.
#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <set>

#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace hypersweep::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kEpochsPerTrial = 5;

int EnvInt(const char* name, int def, int lo, int hi) {
  const char* v = std::getenv(name);
  return std::clamp(v ? std::atoi(v) : def, lo, hi);
}

struct Latencies {
  std::mutex mu;
  std::map<std::string, std::vector<double>> ms;  // call -> latencies
  std::map<std::string, std::string> first_error;
  std::map<std::string, int64_t> errors;
  void Add(const std::string& call, Clock::time_point start) {
    const double d = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::lock_guard<std::mutex> l(mu);
    ms[call].push_back(d);
  }
  void Error(const std::string& call, const grpc::Status& s) {
    std::lock_guard<std::mutex> l(mu);
    if (errors[call]++ == 0)
      first_error[call] = std::to_string(s.error_code()) + " " + s.error_message();
  }
  double Pct(const std::string& call, double q) {
    auto& v = ms[call];
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
  }
};

// Results the coordinator acknowledged (the call returned OK), in the order the answers came: an
// epoch of a trial, or the trial's finish (epoch kFinished). Append-only, so the first n entries
// at any moment are exactly what had been acknowledged by then.
struct Acks {
  static constexpr int64_t kFinished = -1;
  std::mutex mu;
  std::vector<std::pair<std::string, int64_t>> results;  // (trial id, epoch or kFinished)
  void Add(const std::string& trial_id, int64_t epoch) {
    std::lock_guard<std::mutex> l(mu);
    results.emplace_back(trial_id, epoch);
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return results.size();
  }
};

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

TEST(LoadTest, TwoHundredSimulatedWorkersForSixtySeconds) {
  const int workers = EnvInt("HYPERSWEEP_LOAD_WORKERS", 200, 1, 1000);
  const int seconds = EnvInt("HYPERSWEEP_LOAD_SECONDS", 60, 1, 600);
  Cluster c;
  // 200 simulated workers register at once from this one host: no registration rate limit.
  c.StartCoordinator("30s", {"--registration-rate", "0"});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  // The feeder keeps about 1000 trials queued (256-trial sweeps of 5 epochs), so an acquire
  // measures the coordinator, not an empty queue.
  std::vector<std::string> sweeps;
  std::mutex sweeps_mu;
  auto queued = [&]() -> int64_t {
    v1::ListTrialsRequest req;
    req.add_status(v1::QUEUED);
    req.set_page_size(1);
    int64_t total = 0;
    std::lock_guard<std::mutex> l(sweeps_mu);
    // Trials are leased in sweep order: only the newest sweeps can still have queued ones.
    for (size_t i = sweeps.size() > 8 ? sweeps.size() - 8 : 0; i < sweeps.size(); ++i) {
      const std::string& s = sweeps[i];
      req.set_sweep_id(s);
      v1::ListTrialsResponse resp;
      if (c.sweeps().ListTrials(Ctx().get(), req, &resp).ok()) total += resp.total();
    }
    return total;
  };
  auto submit_sweep = [&]() -> grpc::Status {
    v1::SubmitSweepRequest req;
    req.set_spec(
        "name: load\ndataset: {synthetic: {samples: 1000, features: 8, classes: 2}}\n"
        "schedule: {constant: {lr: 0.01}}\nepochs: 5\n"
        "seeds: [0, 1, 2, 3]\n"
        "grid: {weight_decay: [0, 1e-6, 1e-5, 1e-4], momentum: [0.8, 0.85, 0.9, 0.95],\n"
        "       batch_size: [16, 32, 64, 128]}\n");
    v1::SubmitSweepResponse resp;
    grpc::Status s = c.sweeps().SubmitSweep(Ctx(30).get(), req, &resp);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(sweeps_mu);
      sweeps.push_back(resp.sweep().id());
    }
    return s;
  };
  {
    grpc::Status s = submit_sweep();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  Latencies lat;
  Acks acks;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> trials_done{0}, epochs_reported{0}, calls{0};
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::thread feeder([&] {
    while (!stop) {
      if (queued() < 1000) {
        grpc::Status s = submit_sweep();
        if (!s.ok()) lat.Error("SubmitSweep", s);
      } else {
        std::this_thread::sleep_for(100ms);
      }
    }
  });

  auto worker = [&](int i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per worker
    auto channel = grpc::CreateCustomChannel(c.address(), grpc::InsecureChannelCredentials(), args);
    // 200 connections opened at once: a first connect attempt can fail transiently (seen once in
    // CI as ENOENT from connect). A real worker retries until the coordinator answers; so does
    // this one, before the measured calls start. Not connected within 30 s is an error.
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
      lat.Error("connect", grpc::Status(grpc::StatusCode::UNAVAILABLE, "not connected in 30 s"));
      return;
    }
    auto stub = v1::WorkerService::NewStub(channel);
    v1::RegisterWorkerRequest reg;
    reg.set_worker_id("sim-" + std::to_string(i));
    reg.mutable_capabilities()->set_host("load-test");
    reg.mutable_capabilities()->set_device("cpu");
    reg.mutable_capabilities()->set_slots(1);
    // Runs one call, counts it, and records its latency or its error; true if it succeeded.
    auto timed = [&](const char* call, const std::function<grpc::Status()>& rpc) {
      const auto t0 = Clock::now();
      const grpc::Status s = rpc();
      ++calls;
      s.ok() ? lat.Add(call, t0) : lat.Error(call, s);
      return s.ok();
    };
    v1::RegisterWorkerResponse reg_resp;
    if (!timed("RegisterWorker",
               [&] { return stub->RegisterWorker(Ctx().get(), reg, &reg_resp); })) {
      return;
    }
    while (Clock::now() < end) {
      v1::AcquireTrialRequest acq;
      acq.set_worker_id(reg_resp.worker_id());
      acq.set_max_wait_ms(1000);
      v1::AcquireTrialResponse lease;
      // Not timed(): an empty long-poll is counted but its latency (the wait) is not recorded.
      const auto t0 = Clock::now();
      const grpc::Status s = stub->AcquireTrial(Ctx().get(), acq, &lease);
      ++calls;
      if (!s.ok()) {
        lat.Error("AcquireTrial", s);
        continue;
      }
      if (!lease.acquired()) continue;  // an empty long-poll: its latency is the wait
      lat.Add("AcquireTrial", t0);
      for (int e = 0; e < kEpochsPerTrial; ++e) {
        v1::HeartbeatRequest hb;
        hb.set_worker_id(reg_resp.worker_id());
        *hb.mutable_lease() = lease.lease();
        v1::HeartbeatResponse hb_resp;
        timed("Heartbeat", [&] { return stub->Heartbeat(Ctx().get(), hb, &hb_resp); });
        v1::ReportEpochsRequest rep;
        *rep.mutable_lease() = lease.lease();
        auto* m = rep.add_epochs();
        m->set_epoch(e);
        (*m->mutable_metrics())["train_loss"] = 1.0 / (e + 1);
        (*m->mutable_metrics())["val_loss"] = 1.1 / (e + 1);
        (*m->mutable_metrics())["val_accuracy"] = 0.5 + 0.05 * e;
        rep.set_checkpoint_uri(lease.lease().trial_id() + ".attempt" +
                               std::to_string(lease.lease().attempt()) + ".pt");
        v1::ReportEpochsResponse rep_resp;
        if (timed("ReportEpochs",
                  [&] { return stub->ReportEpochs(Ctx().get(), rep, &rep_resp); })) {
          ++epochs_reported;
          acks.Add(lease.lease().trial_id(), e);
        }
      }
      v1::FinishTrialRequest fin;
      *fin.mutable_lease() = lease.lease();
      fin.set_status(v1::SUCCEEDED);
      v1::FinishTrialResponse fin_resp;
      if (timed("FinishTrial", [&] { return stub->FinishTrial(Ctx().get(), fin, &fin_resp); })) {
        ++trials_done;
        acks.Add(lease.lease().trial_id(), Acks::kFinished);
      }
    }
  };
  // Halfway through: note what has been acknowledged so far, then back the database up with the
  // real binary while the workers keep going.
  const std::string backup_path = c.dir() + "/backup.db";
  size_t acked_before_backup = 0, sweeps_before_backup = 0;
  test_support::ProgramResult backup;
  std::thread backupper([&] {
    std::this_thread::sleep_until(start + std::chrono::seconds(seconds) / 2);
    while (acks.size() == 0 && Clock::now() < end) std::this_thread::sleep_for(10ms);  // short runs
    acked_before_backup = acks.size();
    {
      std::lock_guard<std::mutex> l(sweeps_mu);
      sweeps_before_backup = sweeps.size();
    }
    backup =
        test_support::RunProgram({HYPERSWEEPD_BIN, "backup", "--db", c.db(), "--out", backup_path});
  });

  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  stop = true;
  feeder.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  backupper.join();

  for (const auto& [call, n] : lat.errors) {
    ADD_FAILURE() << n << " " << call << " errors, first: " << lat.first_error[call];
  }
  // What the workers were told is what the coordinator stores.
  int64_t succeeded = 0, stored_epochs = 0;
  for (const auto& s : sweeps) {
    for (const auto& t : c.Trials(s)) {
      if (t.status() != v1::SUCCEEDED) continue;
      ++succeeded;
      stored_epochs += t.epochs_reported();
    }
  }
  EXPECT_EQ(succeeded, trials_done.load());
  EXPECT_EQ(stored_epochs, epochs_reported.load());
  EXPECT_GT(trials_done.load(), 0);
  ASSERT_TRUE(c.coordinator().running()) << c.coordinator().log();
  EXPECT_EQ(c.StopCoordinator(), 0);
  EXPECT_EQ(c.IntegrityCheck(), "ok");
  std::printf(
      "LOAD_SUMMARY workers=%d seconds=%.1f calls=%lld calls_per_s=%.0f trials=%lld epochs=%lld "
      "errors=%zu acquire_ms_p50=%.2f acquire_ms_p99=%.2f report_ms_p50=%.2f report_ms_p99=%.2f "
      "heartbeat_ms_p50=%.2f heartbeat_ms_p99=%.2f finish_ms_p50=%.2f finish_ms_p99=%.2f\n",
      workers, elapsed, static_cast<long long>(calls.load()), calls.load() / elapsed,
      static_cast<long long>(trials_done.load()), static_cast<long long>(epochs_reported.load()),
      lat.errors.size(), lat.Pct("AcquireTrial", 0.5), lat.Pct("AcquireTrial", 0.99),
      lat.Pct("ReportEpochs", 0.5), lat.Pct("ReportEpochs", 0.99), lat.Pct("Heartbeat", 0.5),
      lat.Pct("Heartbeat", 0.99), lat.Pct("FinishTrial", 0.5), lat.Pct("FinishTrial", 0.99));
  std::fflush(stdout);

  // The backup, restored to a new file and served by a new coordinator, has every result
  // acknowledged before it started.
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  std::printf("hypersweepd backup: %s", backup.out.c_str());
  ASSERT_GT(acked_before_backup, 0u);
  Cluster r;
  const auto restore =
      test_support::RunProgram({HYPERSWEEPD_BIN, "restore", "--from", backup_path, "--db", r.db()});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  r.StartCoordinator("30s");
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  std::map<std::string, v1::Trial> restored;  // every trial the restored coordinator serves
  int64_t missing = 0, checked = 0;
  for (size_t i = 0; i < sweeps.size(); ++i) {
    auto trials = r.Trials(sweeps[i]);  // empty for a sweep submitted after the backup
    if (i < sweeps_before_backup) {
      ++checked;
      if (trials.size() != 256u) {
        ++missing;
        ADD_FAILURE() << "sweep " << sweeps[i] << " was acknowledged before the backup; restored "
                      << "it has " << trials.size() << " of 256 trials";
      }
    }
    for (auto& t : trials) restored[t.id()] = std::move(t);
  }
  std::map<std::string, std::set<int64_t>> acked_epochs;  // before the backup
  for (size_t i = 0; i < acked_before_backup; ++i) {
    const auto& [trial, epoch] = acks.results[i];
    ++checked;
    if (epoch == Acks::kFinished) {
      auto it = restored.find(trial);
      if (it == restored.end() || it->second.status() != v1::SUCCEEDED) {
        if (++missing <= 10) ADD_FAILURE() << "finish of " << trial << " not in the restored db";
      }
    } else {
      acked_epochs[trial].insert(epoch);
    }
  }
  // Each acknowledged epoch is served with the values reported (GetTrialMetrics answers NOT_FOUND
  // for a whole request with an unknown trial: those are counted first).
  std::vector<std::string> ids;
  for (const auto& [id, epochs] : acked_epochs) {
    if (restored.count(id)) {
      ids.push_back(id);
    } else if ((missing += epochs.size()) <= 10) {
      ADD_FAILURE() << "trial " << id << " (" << epochs.size() << " acknowledged epochs) is not "
                    << "in the restored db";
    }
  }
  for (size_t next = 0; next < ids.size();) {
    v1::GetTrialMetricsRequest req;
    for (size_t i = next; i < ids.size() && i < next + 1000; ++i) req.add_trial_ids(ids[i]);
    v1::GetTrialMetricsResponse resp;
    const grpc::Status s = r.sweeps().GetTrialMetrics(Ctx(30).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(resp.trials_size(), 0);  // the answer covers the first trial_ids; ask for the rest
    for (const auto& tm : resp.trials()) {
      std::set<int64_t> served;
      for (const auto& e : tm.epochs()) {
        auto v = e.metrics().find("val_loss");
        if (v != e.metrics().end() && v->second == 1.1 / (e.epoch() + 1)) served.insert(e.epoch());
      }
      for (int64_t e : acked_epochs[tm.trial_id()]) {
        if (!served.count(e) && ++missing <= 10) {
          ADD_FAILURE() << "epoch " << e << " of " << tm.trial_id() << " not in the restored db";
        }
      }
    }
    next += resp.trials_size();
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(r.StopCoordinator(), 0);
  EXPECT_EQ(r.IntegrityCheck(), "ok");
  std::printf(
      "BACKUP_SUMMARY: backup took %.2f s under load, %lld acknowledged results checked "
      "(%zu sweeps, %zu epochs and finishes), %lld missing; restore took %.2f s\n",
      backup.seconds, static_cast<long long>(checked), sweeps_before_backup, acked_before_backup,
      static_cast<long long>(missing), restore.seconds);
  std::fflush(stdout);
}

}  // namespace
}  // namespace hypersweep::e2e
