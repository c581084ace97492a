// The trial state machine, leases and the queue: plain C++, no gRPC (server/service adapts it).
//
//   QUEUED --Acquire--> LEASED(attempt k, token, expiry) --Finish--> SUCCEEDED | DIVERGED | FAILED
//      ^                   |  \--Finish(FAILED, transient|preempted)--> QUEUED, attempt k+1
//      |                   \--lease expired (no heartbeat for the TTL)--> QUEUED, attempt k+1
//      \----------------------------------------------------------------/
//   CancelSweep: QUEUED -> CANCELLED at once; LEASED trials are told to stop (heartbeat/report
//   answers cancel) and become CANCELLED when they finish or their lease expires.
//   PRUNED is reserved for early stopping.
//
// Auto LR (`max_lr: auto` and friends): SubmitSweep adds one LR range-test trial per group of
// points sharing (dataset, model, batch size, optimizer, momentum, weight decay), ahead of the
// others, and holds the group's trials back (QUEUED but not leasable) until that range test
// finishes. Then the sweep's auto rule picks the LR from the stored curve, the held trials get it
// written into their spec (params "max_lr" and "lr_from" say what and where from) and join the
// queue; if the range test fails or its curve has no usable suggestion, they fail with the reason.
//
// Fencing: every worker call after Acquire carries (trial id, attempt, lease token). A call whose
// attempt or token is not the trial's current lease gets ABORTED and changes nothing. A requeued
// trial keeps its reported epochs and checkpoint reference, so the next attempt resumes.
// Attempts: transient failures and expired leases use up an attempt (max_attempts per sweep);
// preemption requeues without using one; user errors and out-of-memory fail at once.
//
// Durability: every state change is written to the Store under the scheduler's lock (so the file
// sees changes in the order memory did) and the caller's callback runs only after the commit.
// Callbacks run on the store's writer thread or inline; they must not block or call back into the
// Scheduler. Lease extensions by heartbeat are kept in memory only: after a restart every lease
// gets a fresh TTL. If a commit fails, memory is ahead of the file: the scheduler then refuses
// further writes (UNAVAILABLE) until it is restarted from the file.
//
// Thread-safe.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_H_
#define HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/sweep_spec.h"
#include "server/scheduler/clock.h"
#include "server/store/store.h"

namespace hypersweep {

struct SchedulerOptions {
  int64_t lease_ttl_ms = 30'000;     // 30 s; heartbeats extend a lease by this much
  int32_t default_max_attempts = 3;  // when SubmitSweep gives 0
  // Consecutive FAILED trials that quarantine a worker, unless the worker registered its own
  // threshold (WorkerRecord::max_consecutive_failures).
  int32_t quarantine_after_failures = 5;
  int64_t max_acquire_wait_ms = 60'000;  // upper bound of one long-poll
};

enum class SweepState { kRunning = 1, kCompleted = 2, kCancelled = 3 };

struct TrialCounts {
  std::array<int64_t, 8> by_status{};  // indexed by TrialStatus
  int64_t total = 0;
  int64_t Of(TrialStatus s) const { return by_status[static_cast<int>(s)]; }
};

struct SweepInfo {
  SweepRecord record;
  SweepState state = SweepState::kRunning;
  TrialCounts counts;
};

struct SubmitResult {
  SweepInfo sweep;                  // record.id empty for a dry run
  std::vector<TrialRecord> trials;  // the expansion (ids empty for a dry run)
};

struct LeaseRef {
  std::string trial_id;
  int32_t attempt = 0;
  std::string lease_token;
};

struct AcquireResult {
  bool acquired = false;
  TrialRecord trial;  // with lease_token, attempt, lease_expiry_ms, checkpoint_uri, epochs_reported
  bool quarantined = false;
};

struct HeartbeatResult {
  int64_t lease_expiry_ms = 0;
  bool cancel = false;
};

struct ReportResult {
  int64_t epochs_reported = 0;
  bool cancel = false;
};

struct WorkerInfo {
  WorkerRecord record;
  int64_t active_leases = 0;
};

// What WatchSweep streams: the sweep after a committed change, and the trial that changed.
struct SweepEvent {
  SweepInfo sweep;
  bool has_trial = false;
  TrialRecord trial;
  std::vector<EpochRecord> epochs;  // newly stored epochs of that trial
};

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

class Scheduler {
 public:
  // Rebuilds the state from `store` (queue, leases, counters). Neither pointer is owned; both must
  // outlive the Scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(Store* store, Clock* clock,
                                                           const SchedulerOptions& options);
  ~Scheduler();

  // ---- Clients ----
  // INVALID_ARGUMENT naming the field for a bad spec; nothing is queued then.
  void SubmitSweep(const std::string& spec_text, bool dry_run, int32_t max_attempts,
                   Callback<SubmitResult> done);
  absl::StatusOr<SweepInfo> GetSweep(const std::string& sweep_id);
  std::vector<SweepInfo> ListSweeps();
  // FAILED_PRECONDITION when the sweep already completed; cancelling twice is a no-op.
  void CancelSweep(const std::string& sweep_id, Callback<SweepInfo> done);
  // Reads committed data from the store. NOT_FOUND for an unknown sweep.
  absl::StatusOr<TrialPage> ListTrials(const TrialQuery& query);
  absl::StatusOr<std::vector<EpochRecord>> GetEpochs(const std::string& trial_id,
                                                     const std::set<std::string>& metrics);
  absl::StatusOr<LrCurveRecord> GetLrCurve(const std::string& trial_id);
  std::vector<WorkerInfo> ListWorkers();

  // ---- Workers ----
  // An empty worker.id gets a new id; a known id keeps its failure count and quarantine.
  void RegisterWorker(const WorkerRecord& worker, Callback<WorkerRecord> done);
  // Long-poll: `done` runs exactly once, with a lease as soon as a trial is queued, with
  // acquired=false at `deadline_ms` (bounded by max_acquire_wait_ms), or with CANCELLED after
  // CancelAcquire. NOT_FOUND for an unregistered worker. Returns an id for CancelAcquire.
  uint64_t Acquire(const std::string& worker_id, int64_t deadline_ms, Callback<AcquireResult> done);
  void CancelAcquire(uint64_t waiter_id);
  // Extends the lease by the TTL. Nothing is written, so this answers at once.
  absl::StatusOr<HeartbeatResult> Heartbeat(const std::string& worker_id, const LeaseRef& lease);
  // Stores the epochs not stored yet (a repeat is a no-op) and the checkpoint reference.
  void ReportEpochs(const LeaseRef& lease, std::vector<EpochRecord> epochs,
                    const std::string& checkpoint_uri, Callback<ReportResult> done);
  void ReportLrCurve(const LeaseRef& lease, LrCurveRecord curve, Callback<bool> done);
  // status: SUCCEEDED, DIVERGED, FAILED (with a failure class), or CANCELLED for a trial whose
  // sweep was cancelled. Answers the trial's status afterwards (QUEUED when retried). Repeating
  // the call that finished the trial answers the same again.
  void FinishTrial(const LeaseRef& lease, TrialStatus status, FailureClass failure_class,
                   const std::string& reason, Callback<TrialStatus> done);

  // ---- Time ----
  // Requeues expired leases and ends timed-out long-polls, as of clock->NowMs(). Returns the time
  // of the next lease expiry or long-poll deadline (or now + 1 s when there is none).
  int64_t Tick();
  // A thread that calls Tick() whenever something is due (real time; never with FakeClock).
  void StartReaper();

  // ---- Events ----
  // `fn` runs after each committed change to the sweep (on the writer thread; must not block).
  uint64_t Subscribe(const std::string& sweep_id, std::function<void(const SweepEvent&)> fn);
  void Unsubscribe(uint64_t id);

  // Waits until every change made so far (including the reaper's) is committed, so that reads
  // from the store see it.
  absl::Status Flush();

  // Stops the reaper and ends every long-poll with acquired=false.
  void Shutdown();

 private:
  struct TrialEntry {
    TrialRecord rec;
    int64_t sweep_seq = 0;
    std::vector<bool> have_epoch;  // have_epoch[e]: epoch e is stored (or being stored)
    bool cancel_requested = false;
    std::string waits_for;  // the LR range-test trial whose result this trial needs (auto LR)
  };
  struct SweepEntry {
    SweepRecord rec;
    int64_t seq = 0;
    TrialCounts counts;
    std::vector<std::string> trial_ids;
    AutoLrOptions auto_lr;
  };
  struct WorkerEntry {
    WorkerRecord rec;
  };
  struct Waiter {
    uint64_t id;
    std::string worker_id;
    int64_t deadline_ms;
    Callback<AcquireResult> done;
  };
  using QueueKey = std::tuple<int64_t, int64_t, std::string>;  // sweep seq, index, trial id
  // Work to run after the lock is released (callbacks that could re-enter).
  using Deferred = std::vector<std::function<void()>>;

  Scheduler(Store* store, Clock* clock, const SchedulerOptions& options);
  absl::Status Load();

  absl::StatusOr<TrialEntry*> CheckLease(const LeaseRef& lease, int64_t now, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStatus(TrialEntry& t, TrialStatus s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(TrialEntry& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a leased trial back in the queue (attempt+1), or ends it when it is out of attempts or
  // its sweep was cancelled. Adds the trial's update to `batch`.
  void Requeue(TrialEntry& t, bool burn_attempt, const std::string& reason, WriteBatch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLeases(int64_t now, Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When `range` (an LR range-test trial) has ended: resolves or fails the trials waiting for it,
  // adding their changes to `batch` and `events`. `curve` is its stored curve, if any.
  void ReleaseDependents(TrialEntry& range, const LrCurveRecord* curve, WriteBatch& batch,
                         std::vector<SweepEvent>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases queued trials to waiting long-polls.
  void ServeWaiters(int64_t now, Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Lease(TrialEntry& t, const std::string& worker_id, int64_t now, Callback<AcquireResult> done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SweepInfo InfoOf(const SweepEntry& s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `batch` in order and then runs `done` with the commit status and publishes `events`.
  void Commit(WriteBatch batch, std::vector<SweepEvent> events,
              std::function<void(absl::Status)> done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SweepEvent EventFor(const TrialEntry& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewToken() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(const std::vector<SweepEvent>& events);
  void ReaperLoop();
  bool ReaperShouldWake() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return wake_reaper_ || shutting_down_;
  }

  Store* const store_;
  Clock* const clock_;
  const SchedulerOptions options_;
  std::atomic<bool> broken_{false};  // a commit failed: memory is ahead of the file

  absl::Mutex mu_;  // guards the whole in-memory state below
  std::map<std::string, SweepEntry> sweeps_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sweep_order_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, TrialEntry> trials_ ABSL_GUARDED_BY(mu_);
  std::set<QueueKey> queue_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> leased_ ABSL_GUARDED_BY(mu_);
  // LR range-test trial id -> the trials waiting for its suggestion.
  std::map<std::string, std::vector<std::string>> dependents_ ABSL_GUARDED_BY(mu_);
  // Curves reported by range-test trials that others wait for, until those are released.
  std::map<std::string, LrCurveRecord> curves_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WorkerEntry> workers_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_sweep_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_reaper_ ABSL_GUARDED_BY(mu_) = false;
  // Subscribers per sweep id (EventFor builds events only for watched sweeps).
  std::map<std::string, int> watched_ ABSL_GUARDED_BY(mu_);

  absl::Mutex events_mu_;  // guards subscribers_ (separate: publishing runs on the writer thread)
  std::map<uint64_t, std::pair<std::string, std::function<void(const SweepEvent&)>>> subscribers_
      ABSL_GUARDED_BY(events_mu_);
  uint64_t next_subscriber_id_ ABSL_GUARDED_BY(events_mu_) = 1;

  std::thread reaper_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_H_
