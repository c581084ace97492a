// The Scheduler: the one lock owner that composes the coordinator's in-memory state and writes
// every change to the Store. Plain C++, no gRPC (server/service adapts it). Each concept has one
// home in this folder (like Ray's GCS: a manager per entity behind one server):
//
//   trial_state.h      the trial state machine: every transition, the lease (fencing) check used
//                      by every worker call, and the failure policy (retry, burn an attempt, fail
//                      at once, worker quarantine count). Pure functions, tested as a table.
//   lease_queue.h      the queue of leasable trials, the set of leased ones, long-poll waiters.
//   auto_lr_planner.h  auto LR: range tests per group, held trials, their release or failure.
//   worker_registry.h  registered workers, failure counts, quarantine.
//   sweep_events.h     SweepEvent, subscribers (WatchSweep) and which sweeps are watched.
//   recovery.h         rebuilding the entities from the Store at start-up.
//   entities.h         the sweep and trial entries kept in memory; SweepInfo.
//   scheduler.cc       this class: client calls, time (Tick, reaper), commits and events;
//   scheduler_leases.cc  its worker calls (Acquire .. FinishTrial) and lease bookkeeping.
//   scheduler_admin.cc   operator and recovery calls: clearing a quarantine, pausing a sweep on
//                        repeated user errors and resuming it, expiring stale workers.
//   scheduler_points.cc  points on demand: an on-demand sweep's next trials, made in a batch when
//                        its last made queued trial is leased, and listing the ones not made yet.
//   scheduler_tpe.cc     adaptive (tpe:) sweeps: the next points, stored in the batch of the end
//                        that frees their place (tpe_planner.h), and once more at start-up.
// The components hold no lock of their own (except the event bus); the Scheduler calls them with
// mu_ held. server/coordinator.h wires Store, Scheduler, services and the gRPC server together.
//
//   QUEUED --Acquire--> LEASED(attempt k, token, expiry) --Finish--> SUCCEEDED | DIVERGED | FAILED
//      ^                   |  \--Finish(FAILED, transient|preempted)--> QUEUED, attempt k+1
//      |                   \--lease expired (no heartbeat for the TTL)--> QUEUED, attempt k+1
//      \----------------------------------------------------------------/
//   CancelSweep: QUEUED -> CANCELLED at once; LEASED trials are told to stop (heartbeat/report
//   answers cancel) and become CANCELLED when they finish or their lease expires.
//   Pruning (pruner.h): a report whose new epochs make the sweep's pruner stop the trial ends it
//   LEASED -> PRUNED in the same commit as those epochs and answers the report with pruned; the
//   worker's later calls with that lease are fenced (FAILED_PRECONDITION). PRUNED is final.
//   Auto-LR trials wait, QUEUED but not leasable, for
//   their group's range test (auto_lr_planner.h).
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
// further writes (UNAVAILABLE) until the file takes a write again, and then rebuilds its state
// from the file as a restart would (RecoverFromFailedCommit; the reaper tries every
// recovery_interval_ms), so a full disk that is cleared needs no restart.
//
// Thread-safe.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_H_
#define HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/spec_limits.h"
#include "server/scheduler/auto_lr_planner.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/entities.h"
#include "server/scheduler/lease_queue.h"
#include "server/scheduler/pruner.h"
#include "server/scheduler/recovery.h"
#include "server/scheduler/scheduler_stats.h"
#include "server/scheduler/sweep_events.h"
#include "server/scheduler/tpe_planner.h"
#include "server/scheduler/trial_state.h"
#include "server/scheduler/worker_registry.h"
#include "server/store/store.h"

namespace hypersweep {

struct SchedulerOptions {
  int64_t lease_ttl_ms = 30'000;     // 30 s; heartbeats extend a lease by this much
  int32_t default_max_attempts = 3;  // when SubmitSweep gives 0
  // Consecutive FAILED trials that quarantine a worker, unless the worker registered its own
  // threshold (WorkerRecord::max_consecutive_failures).
  int32_t quarantine_after_failures = 5;
  int64_t max_acquire_wait_ms = 60'000;  // upper bound of one long-poll
  // What one submission may ask (spec bytes, trials per sweep), and how many trials may wait in
  // the queue or run at once over all sweeps (hypersweepd --max-queued-trials).
  SpecLimits spec_limits;
  int64_t max_queued_trials = 1'000'000;
  // A worker seen within this window (or holding a lease) and not quarantined counts as healthy
  // (SweepInfo::workers). 0: lease_ttl_ms + 2 * max_acquire_wait_ms.
  int64_t worker_seen_window_ms = 0;
  // Workers not seen for this long and holding no lease are removed (memory and store) when a
  // worker registers. 0: never.
  int64_t worker_expiry_ms = 24 * 3600 * 1000LL;
  // After a failed commit, how often the reaper checks whether the file takes writes again.
  int64_t recovery_interval_ms = 2000;
};

struct SubmitResult {
  SweepInfo sweep;  // record.id empty for a dry run
  // The trials made at submit (ids empty for a dry run): every trial, except for an on-demand
  // sweep (entities.h), whose first kTrialBatch only are made then.
  std::vector<TrialRecord> trials;
};

// How many trials of an on-demand sweep are made at once: at submit, and whenever the last made
// one in the queue is leased.
inline constexpr int64_t kTrialBatch = 1024;

struct HeartbeatResult {
  int64_t lease_expiry_ms = 0;
  bool cancel = false;
};

struct ReportResult {
  int64_t epochs_reported = 0;
  bool cancel = false;
  // The sweep's pruner stopped the trial on this report: it is PRUNED (committed), its lease is
  // over, and `prune_reason` says why. The worker stops training and does not finish the trial.
  bool pruned = false;
  std::string prune_reason;
};

class Scheduler {
 public:
  // Rebuilds the state from `store` (queue, leases, counters). Neither pointer is owned; both must
  // outlive the Scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(Store* store, Clock* clock,
                                                           const SchedulerOptions& options);
  ~Scheduler();

  // ---- Clients ----
  // INVALID_ARGUMENT naming the field for a bad spec, RESOURCE_EXHAUSTED naming the limit for one
  // too large or a full queue; nothing is queued then. Parses and expands outside the lock.
  void SubmitSweep(const std::string& spec_text, bool dry_run, int32_t max_attempts,
                   Callback<SubmitResult> done);
  absl::StatusOr<SweepInfo> GetSweep(const std::string& sweep_id);
  // Without spec text (GetSweep has it), so that no page of sweeps is large.
  std::vector<SweepInfo> ListSweeps();
  // FAILED_PRECONDITION when the sweep already completed; cancelling twice is a no-op.
  void CancelSweep(const std::string& sweep_id, Callback<SweepInfo> done);
  // Reads committed data from the store. NOT_FOUND for an unknown sweep.
  absl::StatusOr<TrialPage> ListTrials(const TrialQuery& query);
  absl::StatusOr<std::vector<EpochRecord>> GetEpochs(const std::string& trial_id,
                                                     const std::set<std::string>& metrics);
  // A curve and the sweep's auto rule (the default rule when the sweep has no auto section): the
  // stored suggested_lr is that rule's LR (before auto.scale); rule_error says why it has none.
  struct LrCurveView {
    LrCurveRecord curve;
    std::optional<SuggestRule> rule;
    std::string rule_error;
  };
  absl::StatusOr<LrCurveView> GetLrCurve(const std::string& trial_id);
  std::vector<WorkerInfo> ListWorkers();

  // ---- Operators and clients (scheduler_admin.cc) ----
  // Resets the worker's consecutive-failure count and lifts its quarantine; stored, so it
  // survives a restart. NOT_FOUND for an unknown worker.
  void ClearQuarantine(const std::string& worker_id, Callback<WorkerRecord> done);
  // A PAUSED sweep (entities.h's PauseReason): requeues its trials that failed with a user error
  // and hands out its queued trials again. FAILED_PRECONDITION when the sweep is not paused.
  void ResumeSweep(const std::string& sweep_id, Callback<SweepInfo> done);

  // ---- Workers ----
  // An empty worker.id gets a new id; a known id keeps its failure count and quarantine.
  void RegisterWorker(const WorkerRecord& worker, Callback<WorkerRecord> done);
  // Long-poll: `done` runs exactly once, with a lease as soon as a trial is queued, with
  // acquired=false at `deadline_ms` (bounded by max_acquire_wait_ms), or with CANCELLED after
  // CancelAcquire. NOT_FOUND for an unregistered worker. Returns an id for CancelAcquire.
  // max_trials > 1 (trial packing, docs/PACKING.md): the lease's trial and up to max_trials - 1
  // further queued trials of its sweep with the same packing key, each leased on its own, in one
  // commit (AcquireResult::pack).
  uint64_t Acquire(const std::string& worker_id, int64_t deadline_ms, int max_trials,
                   Callback<AcquireResult> done);
  uint64_t Acquire(const std::string& worker_id, int64_t deadline_ms,
                   Callback<AcquireResult> done) {
    return Acquire(worker_id, deadline_ms, 1, std::move(done));
  }
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

  // ---- Recovery from a failed commit ----
  // After a commit failed (memory ahead of the file; every write answered UNAVAILABLE): waits for
  // the writes queued before, checks that the file takes a write again (WriteBatch::probe), and
  // rebuilds the state from the file exactly as a restart would: every lease gets a fresh TTL,
  // a lease that was never committed is gone (its worker's next call is ABORTED), parked
  // long-polls are answered with no trial so their workers poll again, and watchers get each
  // sweep's state. Then writes are accepted again. FAILED_PRECONDITION when no commit failed; the
  // probe's or the reload's error while the cause remains (still broken).
  absl::Status RecoverFromFailedCommit() ABSL_LOCKS_EXCLUDED(mu_, recover_mu_);
  // Whether a commit failed and the state has not been rebuilt since.
  bool broken() const { return broken_; }

  // ---- Events ----
  // `fn` runs after each committed change to the sweep (on the writer thread; must not block).
  uint64_t Subscribe(const std::string& sweep_id, std::function<void(const SweepEvent&)> fn);
  void Unsubscribe(uint64_t id);

  // Waits until every change made so far (including the reaper's) is committed, so that reads
  // from the store see it.
  absl::Status Flush();

  // Stops the reaper and ends every long-poll with acquired=false.
  void Shutdown();

  // Counts for monitoring (server/metrics), taken under the lock in one pass over the sweeps
  // (scheduler_stats.cc); no pass over the trials.
  SchedulerStats Stats() ABSL_LOCKS_EXCLUDED(mu_);

  // Test hook: how many Acquire long-polls are parked, waiting for work.
  size_t TEST_WaitingAcquires() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return queue_.WaiterCount();
  }

 private:
  // Work to run after the lock is released (callbacks that could re-enter).
  using Deferred = std::vector<std::function<void()>>;

  Scheduler(Store* store, Clock* clock, const SchedulerOptions& options);
  // Installs Recover()'s result and releases the trials of range tests that ended before.
  absl::Status Load();
  // Load()'s second half, on an empty state: writes the released trials (synchronously).
  absl::Status Install(RecoveredState rs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Install()'s part for pruners: every sweep with a pruner and trials left to judge gets its
  // trials and their stored objective values back (read from the store).
  absl::Status RestorePruners() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- scheduler_points.cc: points on demand ----
  // When `s` is on demand, neither cancelled nor paused, and has no made trial left in the queue:
  // makes its next kTrialBatch trials (ExpandRange) in memory, the queue, its pruner and `batch`.
  // A point that is not a valid trial is made FAILED (user error) with the reason; making goes on
  // until a trial is queued or none is left. Keeps the rule that a sweep with trials to hand out
  // has one in the lease queue, so the queue's order (sweep, then index) holds.
  void MakeTrials(SweepEntry& s, WriteBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ListTrials for an on-demand sweep: the store's page, then the trials not made yet (after the
  // made ones in every order: they have the highest indexes and no metric values).
  absl::StatusOr<TrialPage> ListWithUnmade(const TrialQuery& query) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- scheduler_tpe.cc: adaptive (tpe:) sweeps ----
  // After a trial of `s` became final (in `batch`): rebuilds the search state from the sweep's
  // trials in memory and their kept objectives (tpe_planner.h), and adds the next points' trials
  // to memory, the lease queue and `batch` (so the end and the proposals commit together), and
  // their events to `events` when given. Nothing for other sweeps, a cancelled one, or once every
  // point exists. The caller serves waiters afterwards. Work: one pass over the sweep's trials
  // plus, per new point, one tpe::Propose over the finished points (bounded by tpe.trials).
  void PlanTpe(SweepEntry& s, WriteBatch& batch, std::vector<SweepEvent>* events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the trials of `points` to `s` (memory, counts, pruner, `batch`, `events` when given):
  // point p's trials get indexes p * TrialsPerPoint + j and are queued, unless the spec has an
  // `auto` LR: then each point gets auto.range_tests range tests (indexes after every point's
  // trials: tpe.trials * TrialsPerPoint + p * range_tests + r), queued, and its trials are held
  // until they end (auto_lr_planner.h).
  void AddTpePoints(SweepEntry& s, const std::vector<TpeNewPoint>& points, WriteBatch& batch,
                    std::vector<SweepEvent>* events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps the objective of a new epoch of `t` for the planner (trials of tpe sweeps only).
  void KeepTpeObjective(TrialEntry& t, const EpochRecord& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Install()'s part for tpe sweeps with points still to propose: their trials' objectives come
  // back from the stored epochs, and each is planned once (PlanTpe into `batch`).
  absl::Status RestoreTpe(WriteBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- scheduler_leases.cc ----
  // The trial `lease` names if the lease is current (trial_state.h's CheckLease). An expired
  // lease is released here (committed, waiters served) before its ABORTED is returned.
  absl::StatusOr<TrialEntry*> FencedTrial(const LeaseRef& lease, int64_t now, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Releases a leased trial (trial_state.h's ReleaseLease with ctx.burn_attempt and
  // ctx.failure_class; cancelled and max_attempts are filled in from the trial and its sweep):
  // back to the queue with attempt+1, or ended when it is out of attempts or its sweep was
  // cancelled; an ended range test fails its dependents. Adds the changes to `batch`.
  void ReleaseLease(TrialEntry& t, ReleaseContext ctx, const std::string& reason, WriteBatch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLeases(int64_t now, Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the LR range test `range_id` has ended: if every range test of its group has ended,
  // resolves (or fails) the trials waiting for the group from the kept curves, adding their
  // changes to `batch` and `events`; otherwise the group keeps waiting.
  void ReleaseDependents(const std::string& range_id, WriteBatch& batch,
                         std::vector<SweepEvent>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases queued trials to waiting long-polls.
  void ServeWaiters(int64_t now, Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a submitted sweep (ids, store batch, queue or auto-LR holds); `done` runs after commit.
  // A tpe sweep's trials come from `tpe_points` (AddTpePoints), not result.trials.
  void AddSweepLocked(SubmitResult result, const AutoLrPlanner::RangeTestPlan& plan,
                      const SweepSpec& spec, const std::vector<TpeNewPoint>& tpe_points,
                      Callback<SubmitResult> done, Deferred& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases `t` to `worker_id`, and with max_trials > 1 up to max_trials - 1 of its pack-mates
  // (PackMates); `done` gets them after the commit.
  void Lease(TrialEntry& t, const std::string& worker_id, int64_t now, int max_trials,
             Callback<AcquireResult> done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queued trials of t's sweep that may share a pack with `t` (same PackingKey), in lease order,
  // at most `limit`, looking at no more than a bounded number of queued trials.
  std::vector<TrialEntry*> PackMates(TrialEntry& t, size_t limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- scheduler_admin.cc ----
  // InfoOf(s) with the worker health counts.
  SweepInfo Info(const SweepEntry& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Who could take queued trials now; the same for every sweep.
  WorkerHealth Health() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Info without the spec text, with `health` computed once by the caller (lists and events).
  SweepInfo Summary(SweepEntry& s, const WorkerHealth& health) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases held per worker id.
  std::map<std::string, int64_t> ActiveLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a QUEUED trial in the lease queue, unless its sweep is paused.
  void Enqueue(const TrialEntry& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pauses the sweep when PauseReason holds for its trials: its queued trials leave the lease
  // queue. Returns whether it paused now.
  bool MaybePause(SweepEntry& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the workers past options_.worker_expiry_ms, adding their ids to `batch`.
  void ExpireWorkers(int64_t now, WriteBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- scheduler.cc ----
  // What every write answers once a commit failed (broken_): UNAVAILABLE until recovered.
  static absl::Status BrokenError();
  // The counts of the sweep `t` belongs to (what trial_state.h's transitions keep in step).
  TrialCounts& CountsOf(const TrialEntry& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds `t`'s mutable fields to `batch` (the one place a trial update is written).
  static void WriteTrial(const TrialEntry& t, WriteBatch& batch);
  // Writes `batch` in order and then runs `done` with the commit status and publishes `events`.
  void Commit(WriteBatch batch, std::vector<SweepEvent> events,
              std::function<void(absl::Status)> done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The event for a change to `t`; an empty one (published to no one) when nobody watches.
  SweepEvent EventFor(const TrialEntry& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewToken() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t Random32() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return static_cast<uint32_t>(rng_()); }
  void ReaperLoop();
  bool ReaperShouldWake() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return wake_reaper_ || shutting_down_;
  }

  Store* const store_;
  Clock* const clock_;
  const SchedulerOptions options_;
  std::atomic<bool> broken_{false};  // a commit failed: memory is ahead of the file
  absl::Mutex recover_mu_ ABSL_ACQUIRED_BEFORE(mu_);   // one recovery at a time
  int64_t next_recovery_ms_ ABSL_GUARDED_BY(mu_) = 0;  // the reaper's next attempt
  int64_t recovery_attempts_ = 0;  // failed attempts since the last success (reaper thread only)

  // Guards the whole in-memory state below, including the components (which have no lock of
  // their own). Never held while a caller's callback runs.
  absl::Mutex mu_;
  std::map<std::string, SweepEntry> sweeps_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sweep_order_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, TrialEntry> trials_ ABSL_GUARDED_BY(mu_);
  LeaseQueue queue_ ABSL_GUARDED_BY(mu_);
  AutoLrPlanner auto_lr_ ABSL_GUARDED_BY(mu_);
  Pruners pruners_ ABSL_GUARDED_BY(mu_);
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu_);
  WatchedSweeps watched_ ABSL_GUARDED_BY(mu_);
  int64_t next_sweep_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_reaper_ ABSL_GUARDED_BY(mu_) = false;

  // Thread-safe on its own: Publish runs on the store's writer thread, without mu_.
  SweepEventBus events_;

  std::thread reaper_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_H_
