#include "server/metrics/coordinator_metrics.h"

#include <sys/stat.h>

#include <chrono>

#include "server/store/records.h"

#ifndef HYPERSWEEP_VERSION
#define HYPERSWEEP_VERSION "unknown"
#endif

namespace hypersweep::metrics {
namespace {

constexpr TrialStatus kAllStatuses[] = {
    TrialStatus::kQueued, TrialStatus::kLeased,    TrialStatus::kSucceeded, TrialStatus::kDiverged,
    TrialStatus::kFailed, TrialStatus::kCancelled, TrialStatus::kPruned};

const char* SweepStateName(SweepState s) {
  switch (s) {
    case SweepState::kRunning:
      return "RUNNING";
    case SweepState::kCompleted:
      return "COMPLETED";
    case SweepState::kCancelled:
      return "CANCELLED";
    case SweepState::kPaused:
      return "PAUSED";
  }
  return "UNKNOWN";
}

// The file's size in bytes, 0 when it does not exist.
double FileBytes(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0;
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(const std::string& db_path) : rpc_(registry_) {
  registry_.AddGauge("hypersweep_build_info", "Always 1; the version is a label.", {"version"})
      .With({HYPERSWEEP_VERSION})
      ->Set(1);
  registry_
      .AddGauge("hypersweep_process_start_time_seconds",
                "When hypersweepd started, in seconds since the Unix epoch.")
      .With({})
      ->Set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count());

  auto& finished = registry_.AddCounter(
      "hypersweep_trials_finished_total",
      "Trials made final (by final status) in a committed transaction since hypersweepd started.",
      {"status"});
  for (TrialStatus s : kFinalStatuses) {
    finished_[static_cast<int>(s)] = finished.With({TrialStatusName(s)});
  }
  commits_ = registry_
                 .AddCounter("hypersweep_commits_total",
                             "Group-commit transactions attempted (successful or not).")
                 .With({});
  commit_errors_ =
      registry_
          .AddCounter("hypersweep_commit_errors_total",
                      "Group-commit transactions that failed (disk full, I/O error); writes are "
                      "refused until the database takes writes again.")
          .With({});
  group_batches_ = registry_
                       .AddHistogram("hypersweep_commit_group_batches",
                                     "Write batches (one per state change) per group commit.", {},
                                     {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})
                       .With({});
  commit_seconds_ =
      registry_
          .AddHistogram("hypersweep_commit_duration_seconds",
                        "Wall time of one group-commit transaction, fsync included.", {},
                        {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                         0.25, 0.5, 1, 2.5, 5, 10})
          .With({});

  if (db_path != ":memory:" && !db_path.empty()) {
    auto& size = registry_.AddGauge(
        "hypersweep_database_size_bytes",
        "Size of the SQLite database file (file=\"db\") and of its write-ahead log "
        "(file=\"wal\"), at scrape time.",
        {"file"});
    Gauge* db = size.With({"db"});
    Gauge* wal = size.With({"wal"});
    registry_.AddScrapeHook([db, wal, db_path] {
      db->Set(FileBytes(db_path));
      wal->Set(FileBytes(db_path + "-wal"));
    });
  }
}

CommitObserver CoordinatorMetrics::Observer() {
  return [this](const CommitObservation& c) { OnCommit(c); };
}

void CoordinatorMetrics::OnCommit(const CommitObservation& c) {
  commits_->Inc();
  if (!c.transaction.ok()) commit_errors_->Inc();
  group_batches_->Observe(static_cast<double>(c.batches.size()));
  commit_seconds_->Observe(static_cast<double>(c.duration_ns) * 1e-9);
  for (size_t i = 0; i < c.batches.size(); ++i) {
    if (!c.results[i].ok()) continue;
    // A trial is written with a final status once: by the transition that makes it final (a
    // final trial changes no more, except a resumed FAILED one, which is written QUEUED).
    for (const auto* list : {&c.batches[i]->insert_trials, &c.batches[i]->update_trials}) {
      for (const TrialRecord& t : *list) {
        const auto s = static_cast<size_t>(t.status);
        if (IsFinal(t.status) && s < finished_.size() && finished_[s] != nullptr) {
          finished_[s]->Inc();
        }
      }
    }
  }
}

void CoordinatorMetrics::WatchScheduler(Scheduler* scheduler) {
  auto& trials = registry_.AddGauge(
      "hypersweep_trials", "Trials by status, over all sweeps (at scrape time).", {"status"});
  auto& sweeps =
      registry_.AddGauge("hypersweep_sweeps", "Sweeps by state (at scrape time).", {"state"});
  Gauge* queued = registry_
                      .AddGauge("hypersweep_queue_trials",
                                "QUEUED trials, including those held for an auto-LR range test "
                                "and those of paused sweeps.")
                      .With({});
  Gauge* leasable = registry_
                        .AddGauge("hypersweep_queue_leasable_trials",
                                  "QUEUED trials a worker could be given now (in the lease queue).")
                        .With({});
  Gauge* leased =
      registry_.AddGauge("hypersweep_leased_trials", "Trials under a lease (running).").With({});
  Gauge* waiting = registry_
                       .AddGauge("hypersweep_waiting_acquires",
                                 "AcquireTrial long-polls parked, waiting for work.")
                       .With({});
  Gauge* registered =
      registry_.AddGauge("hypersweep_workers_registered", "Workers registered (not expired).")
          .With({});
  Gauge* healthy = registry_
                       .AddGauge("hypersweep_workers_healthy",
                                 "Workers not quarantined and seen within the lease TTL + 2 "
                                 "long-polls, or holding a lease (live).")
                       .With({});
  Gauge* quarantined =
      registry_.AddGauge("hypersweep_workers_quarantined", "Workers quarantined.").With({});
  std::array<Gauge*, 8> by_status{};
  for (TrialStatus s : kAllStatuses) {
    by_status[static_cast<int>(s)] = trials.With({TrialStatusName(s)});
  }
  std::array<Gauge*, 5> by_state{};
  for (SweepState s : {SweepState::kRunning, SweepState::kCompleted, SweepState::kCancelled,
                       SweepState::kPaused}) {
    by_state[static_cast<int>(s)] = sweeps.With({SweepStateName(s)});
  }
  registry_.AddScrapeHook([=] {
    const SchedulerStats st = scheduler->Stats();
    for (size_t i = 0; i < by_status.size(); ++i) {
      if (by_status[i] != nullptr) by_status[i]->Set(static_cast<double>(st.trials.by_status[i]));
    }
    for (size_t i = 0; i < by_state.size(); ++i) {
      if (by_state[i] != nullptr) by_state[i]->Set(static_cast<double>(st.sweeps_by_state[i]));
    }
    queued->Set(static_cast<double>(st.trials.Of(TrialStatus::kQueued)));
    leasable->Set(static_cast<double>(st.leasable));
    leased->Set(static_cast<double>(st.leased));
    waiting->Set(static_cast<double>(st.waiting_acquires));
    registered->Set(st.workers.registered);
    healthy->Set(st.workers.healthy);
    quarantined->Set(st.workers.quarantined);
  });
}

}  // namespace hypersweep::metrics
