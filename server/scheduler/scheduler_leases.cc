// The Scheduler's worker calls (RegisterWorker, Acquire .. FinishTrial) and the lease bookkeeping
// they share: every transition goes through trial_state.h, every worker call after Acquire
// through FencedTrial, queue membership through queue_.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/checkpoint_ref.h"
#include "core/log.h"
#include "core/packing.h"
#include "core/trial_spec.h"
#include "server/scheduler/scheduler.h"

namespace hypersweep {
namespace {

AcquireResult Quarantined() {
  AcquireResult r;
  r.quarantined = true;
  return r;
}

// The sweep_completed line for `sweep` when nothing of it is queued or leased any more (to run
// after the commit that ended its last trial); nullptr otherwise.
std::function<void()> CompletionLog(const SweepEntry& sweep) {
  if (sweep.rec.cancelled ||
      sweep.counts.Of(TrialStatus::kQueued) + sweep.counts.Of(TrialStatus::kLeased) != 0) {
    return nullptr;
  }
  return [counts = sweep.counts, sweep_id = sweep.rec.id] {
    log::Info("sweep_completed", {{"sweep", sweep_id},
                                  {"succeeded", counts.Of(TrialStatus::kSucceeded)},
                                  {"failed", counts.Of(TrialStatus::kFailed)},
                                  {"diverged", counts.Of(TrialStatus::kDiverged)},
                                  {"pruned", counts.Of(TrialStatus::kPruned)},
                                  {"cancelled", counts.Of(TrialStatus::kCancelled)}});
  };
}

// How far past the first leased trial a packing acquire looks for pack-mates: this many queued
// trials of the sweep per trial still wanted.
constexpr size_t kPackLookahead = 4;

// The packing key's hash of `t` (TrialEntry::pack_hash), worked out once: 0 when it cannot be
// packed (its spec does not parse, it is unpackable, or it is an LR range test).
uint64_t PackHashOf(TrialEntry& t) {
  if (!t.pack_hash) {
    t.pack_hash = 0;
    absl::StatusOr<TrialSpec> spec = ParseTrialSpec(t.rec.spec_json);
    if (spec.ok() && t.rec.role == TrialRole::kTrain && WhyUnpackable(*spec).empty()) {
      // A hash of 0 is kept for "unpackable".
      t.pack_hash = std::max<uint64_t>(1, std::hash<std::string>()(PackingKey(*spec)));
    }
  }
  return *t.pack_hash;
}

}  // namespace

// ---- lease bookkeeping ----

absl::StatusOr<TrialEntry*> Scheduler::FencedTrial(const LeaseRef& lease, int64_t now,
                                                   Deferred& deferred) {
  auto it = trials_.find(lease.trial_id);
  if (it == trials_.end())
    return absl::NotFoundError(absl::StrCat("unknown trial ", lease.trial_id));
  TrialEntry& t = it->second;
  const LeaseCheck check = CheckLease(t.rec, lease, now);
  if (check == LeaseCheck::kHeld) return &t;
  absl::Status error = LeaseError(t.rec, check);
  if (check == LeaseCheck::kExpired) {
    WriteBatch batch;
    ReleaseLease(t, ReleaseContext{}, "lease expired", batch);
    Commit(std::move(batch), {EventFor(t)}, nullptr);
    ServeWaiters(now, deferred);
  }
  return error;
}

void Scheduler::ReleaseLease(TrialEntry& t, ReleaseContext ctx, const std::string& reason,
                             WriteBatch& batch) {
  queue_.MarkReleased(t.rec.id);
  const SweepEntry& s = sweeps_[t.rec.sweep_id];
  ctx.cancelled = t.cancel_requested || s.rec.cancelled;
  ctx.max_attempts = s.rec.max_attempts;
  if (hypersweep::ReleaseLease(t.rec, CountsOf(t), ctx, reason) == TrialStatus::kQueued) {
    Enqueue(t);
  }
  WriteTrial(t, batch);
  // A tpe sweep's next points, in the batch of this end; their events are not streamed from here
  // (the sweep's counts in later events and ListTrials show them).
  if (IsFinal(t.rec.status)) PlanTpe(sweeps_[t.rec.sweep_id], batch, nullptr);
  if (IsFinal(t.rec.status) && auto_lr_.HasDependents(t.rec.id)) {
    // A range test that gave up (or was cancelled): it gives no LR. Its group's events are not
    // streamed from here; ListTrials shows them.
    std::vector<SweepEvent> unused;
    ReleaseDependents(t.rec.id, batch, unused);
  }
}

void Scheduler::ReleaseDependents(const std::string& range_id, WriteBatch& batch,
                                  std::vector<SweepEvent>& events) {
  const std::vector<std::string> group = auto_lr_.GroupOf(range_id);
  if (group.empty()) return;
  std::vector<AutoLrPlanner::EndedRangeTest> ended;
  for (const auto& id : group) {
    const TrialEntry& r = trials_[id];
    if (!IsFinal(r.rec.status)) return;  // the group still waits for this one
    ended.push_back({&r.rec, auto_lr_.CurveOf(id)});
  }
  const SweepEntry& sweep = sweeps_[trials_[range_id].rec.sweep_id];
  const absl::StatusOr<AutoLrPlanner::CombinedLr> lr = AutoLrPlanner::Combine(ended, sweep.auto_lr);
  const std::vector<std::string> deps = auto_lr_.TakeDependents(range_id);
  for (const auto& id : group) auto_lr_.ForgetCurve(id);
  for (const auto& id : deps) {
    TrialEntry& t = trials_[id];
    if (t.rec.status != TrialStatus::kQueued) continue;  // e.g. cancelled meanwhile
    if (absl::Status s = AutoLrPlanner::Resolve(t.rec, lr, sweep.auto_lr); !s.ok()) {
      FailHeld(t.rec, CountsOf(t), std::string(s.message()));
      WriteTrial(t, batch);
      events.push_back(EventFor(t));
      continue;
    }
    batch.resolve_trials.push_back(t.rec);
    Enqueue(t);
    events.push_back(EventFor(t));
  }
}

std::vector<TrialEntry*> Scheduler::PackMates(TrialEntry& t, size_t limit) {
  std::vector<TrialEntry*> mates;
  const uint64_t key = PackHashOf(t);
  if (key == 0 || limit == 0) return mates;
  // Pack-mates are usually next to each other in the expansion (a grid varies its last axes
  // fastest); looking further would cost the lock more than a smaller pack costs the worker.
  for (const std::string& id : queue_.FirstOfSweep(t.sweep_seq, kPackLookahead * limit)) {
    TrialEntry& m = trials_[id];
    if (PackHashOf(m) == key) mates.push_back(&m);
    if (mates.size() == limit) break;
  }
  return mates;
}

void Scheduler::Lease(TrialEntry& t, const std::string& worker_id, int64_t now, int max_trials,
                      Callback<AcquireResult> done) {
  if (max_trials > 1) {
    // A fair share: a pack takes no more than the queued and leased trials over the healthy
    // workers' slots, so a small sweep is not packed onto one worker while the others idle.
    const int64_t slots = std::max<int64_t>(1, Health().healthy_slots);
    const auto work = static_cast<int64_t>(queue_.size() + queue_.leased().size());
    max_trials = static_cast<int>(std::clamp<int64_t>((work + slots - 1) / slots, 1, max_trials));
  }
  SweepEntry& sweep = sweeps_[t.rec.sweep_id];
  WriteBatch batch;
  std::vector<SweepEvent> events;
  AcquireResult r;
  r.acquired = true;
  auto lease_one = [&](TrialEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queue_.Remove(e.position(), e.rec.id);
    GrantLease(e.rec, CountsOf(e), worker_id, NewToken(), now + options_.lease_ttl_ms);
    queue_.MarkLeased(e.rec.id);
    WriteTrial(e, batch);
    events.push_back(EventFor(e));
    // An on-demand sweep whose last made queued trial this was makes its next ones, in this
    // commit (so a pack may go on into them).
    MakeTrials(sweep, batch);
  };
  lease_one(t);
  r.trial = t.rec;
  while (static_cast<int>(r.pack.size()) + 1 < max_trials) {
    const std::vector<TrialEntry*> mates =
        PackMates(t, static_cast<size_t>(max_trials - 1) - r.pack.size());
    if (mates.empty()) break;
    for (TrialEntry* m : mates) {
      lease_one(*m);
      r.pack.push_back(m->rec);
    }
  }
  Commit(std::move(batch), std::move(events),
         [r = std::move(r), done = std::move(done)](absl::Status s) {
           if (s.ok()) {
             done(r);
           } else {
             done(s);
           }
         });
}

void Scheduler::ServeWaiters(int64_t now, Deferred& deferred) {
  while (queue_.HasWaiter() && !queue_.empty()) {
    LeaseQueue::Waiter w = queue_.PopWaiter();
    if (workers_.IsQuarantined(w.worker_id)) {
      deferred.push_back([done = std::move(w.done)] { done(Quarantined()); });
      continue;
    }
    Lease(trials_[queue_.Front()], w.worker_id, now, w.max_trials, std::move(w.done));
  }
}

void Scheduler::ExpireLeases(int64_t now, Deferred& deferred) {
  std::vector<std::string> expired;
  for (const auto& id : queue_.leased()) {
    if (trials_[id].rec.lease_expiry_ms <= now) expired.push_back(id);
  }
  if (expired.empty()) return;
  WriteBatch batch;
  std::vector<SweepEvent> events;
  for (const auto& id : expired) {
    TrialEntry& t = trials_[id];
    log::Warn("lease_expired",
              {{"trial", id}, {"worker", t.rec.worker_id}, {"attempt", int64_t{t.rec.attempt}}});
    ReleaseLease(t, ReleaseContext{}, "lease expired (no heartbeat within the lease TTL)", batch);
    events.push_back(EventFor(t));
  }
  Commit(std::move(batch), std::move(events), nullptr);
  ServeWaiters(now, deferred);
}

// ---- worker calls ----

void Scheduler::RegisterWorker(const WorkerRecord& worker, Callback<WorkerRecord> done) {
  if (broken_) return done(BrokenError());
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  const WorkerRecord rec = workers_.Register(worker, now, rng_);
  WriteBatch batch;
  batch.put_workers.push_back(rec);
  ExpireWorkers(now, batch);  // not this one: it was just seen
  Commit(std::move(batch), {}, [rec, done](absl::Status st) {
    if (st.ok()) {
      log::Info("worker_registered", {{"worker", rec.id},
                                      {"host", rec.host},
                                      {"device", rec.device},
                                      {"slots", int64_t{rec.slots}},
                                      {"quarantined", rec.quarantined}});
    }
    st.ok() ? done(rec) : done(st);
  });
}

uint64_t Scheduler::Acquire(const std::string& worker_id, int64_t deadline_ms, int max_trials,
                            Callback<AcquireResult> done) {
  max_trials = std::max(1, max_trials);
  Deferred deferred;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    WorkerRecord* worker = workers_.Find(worker_id);
    if (broken_) {
      deferred.push_back([done] { done(BrokenError()); });
    } else if (shutting_down_) {
      deferred.push_back([done] { done(AcquireResult{}); });
    } else if (worker == nullptr) {
      deferred.push_back([done, worker_id] {
        done(absl::NotFoundError(absl::StrCat("unknown worker ", worker_id, "; register first")));
      });
    } else if (worker->quarantined) {
      worker->last_seen_ms = now;
      deferred.push_back([done] { done(Quarantined()); });
    } else {
      worker->last_seen_ms = now;
      if (!queue_.empty()) {
        Lease(trials_[queue_.Front()], worker_id, now, max_trials, std::move(done));
      } else {
        const int64_t deadline = std::min(deadline_ms, now + options_.max_acquire_wait_ms);
        if (deadline <= now) {
          deferred.push_back([done] { done(AcquireResult{}); });
        } else {
          id = queue_.AddWaiter(worker_id, deadline, max_trials, std::move(done));
          wake_reaper_ = true;
        }
      }
    }
  }
  for (auto& f : deferred) f();
  return id;
}

void Scheduler::CancelAcquire(uint64_t waiter_id) {
  Callback<AcquireResult> done;
  {
    absl::MutexLock lock(&mu_);
    done = queue_.CancelWaiter(waiter_id);
  }
  if (done) done(absl::CancelledError("long-poll cancelled"));
}

absl::StatusOr<HeartbeatResult> Scheduler::Heartbeat(const std::string& worker_id,
                                                     const LeaseRef& lease) {
  Deferred deferred;
  absl::StatusOr<HeartbeatResult> result;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    workers_.Touch(worker_id, now);
    auto t = FencedTrial(lease, now, deferred);
    if (!t.ok()) {
      result = t.status();
    } else {
      ExtendLease((*t)->rec, now + options_.lease_ttl_ms);
      result = HeartbeatResult{(*t)->rec.lease_expiry_ms, (*t)->cancel_requested};
    }
  }
  for (auto& f : deferred) f();
  return result;
}

void Scheduler::ReportEpochs(const LeaseRef& lease, std::vector<EpochRecord> epochs,
                             const std::string& checkpoint_uri, Callback<ReportResult> done) {
  if (broken_) return done(BrokenError());
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    // NaN or inf is no number to store: SQLite would keep NULL and read it back as 0, turning a
    // diverged epoch into the best loss of the sweep. The value is stored as missing, as the
    // worker does (a bad report never corrupts a trial; DIVERGED is said by FinishTrial).
    for (auto& e : epochs) {
      for (auto it = e.values.begin(); it != e.values.end();) {
        it = std::isfinite(it->second) ? std::next(it) : e.values.erase(it);
      }
    }
    auto t = FencedTrial(lease, now, deferred);
    if (t.ok()) {
      // Epoch numbers are 0-based and below the trial's own epochs, which bounds have_epoch.
      TrialEntry& tr = **t;
      if (tr.epochs == 0) {
        auto spec = ParseTrialSpec(tr.rec.spec_json, {});
        tr.epochs = spec.ok() ? spec->epochs : kMaxEpochs;
      }
      for (const auto& e : epochs) {
        if (e.epoch < 0 || e.epoch >= tr.epochs) {
          t = absl::InvalidArgumentError(absl::StrCat(
              "epochs.epoch: must be in [0, ", tr.epochs - 1, "] for this trial, got ", e.epoch));
          break;
        }
      }
    }
    if (t.ok() && !checkpoint_uri.empty() &&
        !IsOwnCheckpointRef(checkpoint_uri, (*t)->rec.id, (*t)->rec.attempt)) {
      // A worker names only a checkpoint it wrote for this trial: a file name in its own
      // --checkpoint-dir. Anything else (a path, '..') would make the next worker read or delete
      // a file of the attacker's choice; refuse it and leave the trial as it was.
      t = absl::InvalidArgumentError(absl::StrCat("checkpoint_uri: must be '", (*t)->rec.id,
                                                  ".attempt<N>.pt' with N in [1, ",
                                                  (*t)->rec.attempt, "]"));
    }
    if (!t.ok()) {
      error = t.status();
    } else {
      TrialEntry& tr = **t;
      EpochsWrite w{tr.rec.id, tr.rec.sweep_id, {}};
      std::vector<int64_t> new_epochs;
      for (auto& e : epochs) {
        if (static_cast<size_t>(e.epoch) >= tr.have_epoch.size()) tr.have_epoch.resize(e.epoch + 1);
        if (tr.have_epoch[e.epoch]) continue;  // already reported: first report wins
        tr.have_epoch[e.epoch] = true;
        KeepTpeObjective(tr, e);
        new_epochs.push_back(e.epoch);
        w.epochs.push_back(std::move(e));
      }
      // Early stopping: the pruner keeps every new epoch's objective and judges the trial on
      // them (a repeat judges nothing). A trial told to stop for a cancel is not judged.
      std::optional<std::string> prune;
      if (SweepPruner* p = pruners_.Find(tr.rec.sweep_id); p != nullptr && !new_epochs.empty()) {
        for (const auto& e : w.epochs) p->Record(tr.rec.id, e);
        const auto* trials = &trials_;
        if (!tr.cancel_requested) {
          prune = p->Judge(tr.rec.id, new_epochs, [trials](const std::string& id) {
            auto it = trials->find(id);
            return it == trials->end() ? TrialStatus::kFailed : it->second.rec.status;
          });
        }
      }
      WriteBatch batch;
      std::vector<SweepEvent> events, tpe_events;
      // A report is a sign of life: it extends the lease like a heartbeat.
      ExtendLease(tr.rec, now + options_.lease_ttl_ms);
      const bool new_checkpoint =
          !checkpoint_uri.empty() && checkpoint_uri != tr.rec.checkpoint_uri;
      if (!w.epochs.empty() || new_checkpoint) {
        tr.rec.epochs_reported += static_cast<int64_t>(w.epochs.size());
        // The trial row is rewritten only for a new checkpoint: the stores count a running
        // trial's epochs themselves, and leases are re-armed from the restart time anyway, so
        // the common report writes its epoch rows and nothing else.
        if (new_checkpoint) tr.rec.checkpoint_uri = checkpoint_uri;
        if (prune) {
          // Final in the same commit as the epochs that decided it: a restart sees both or
          // neither. The lease ends here; the worker's later calls are fenced.
          queue_.MarkReleased(tr.rec.id);
          PruneLeased(tr.rec, CountsOf(tr), *prune);
          PlanTpe(sweeps_[tr.rec.sweep_id], batch, &tpe_events);
          log::Info("trial_pruned", {{"trial", tr.rec.id},
                                     {"worker", tr.rec.worker_id},
                                     {"attempt", int64_t{tr.rec.attempt}},
                                     {"reason", *prune}});
        }
        if (new_checkpoint || prune) WriteTrial(tr, batch);
        SweepEvent ev = EventFor(tr);
        if (ev.has_trial) ev.epochs = w.epochs;
        events.push_back(std::move(ev));
        for (auto& e : tpe_events) events.push_back(std::move(e));
        if (!w.epochs.empty()) batch.add_epochs.push_back(std::move(w));
      }
      // Even a pure repeat goes through the writer, so it is answered only after the report it
      // repeats has committed.
      ReportResult r{tr.rec.epochs_reported, tr.cancel_requested, prune.has_value(),
                     prune.value_or("")};
      std::function<void()> completed = prune ? CompletionLog(sweeps_[tr.rec.sweep_id]) : nullptr;
      Commit(std::move(batch), std::move(events), [r, done, completed](absl::Status st) {
        if (st.ok() && completed) completed();
        st.ok() ? done(r) : done(st);
      });
      if (prune) ServeWaiters(now, deferred);  // a tpe sweep's next points
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

void Scheduler::ReportLrCurve(const LeaseRef& lease, LrCurveRecord curve, Callback<bool> done) {
  if (broken_) return done(BrokenError());
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    auto t = FencedTrial(lease, clock_->NowMs(), deferred);
    if (!t.ok()) {
      error = t.status();
    } else {
      WriteBatch batch;
      {
        // The coordinator decides with the sweep's auto rule (the default one when the sweep has
        // no auto section); what a worker suggested is not kept.
        const SuggestRule rule = sweeps_[(*t)->rec.sweep_id].auto_lr.rule;
        auto lr = AutoLrPlanner::RuleLr(curve, rule);
        curve.suggested_lr = lr.ok() ? std::optional<double>(*lr) : std::nullopt;
      }
      auto_lr_.KeepCurve((*t)->rec.id, curve);
      batch.put_lr_curves.emplace_back((*t)->rec.id, std::move(curve));
      Commit(std::move(batch), {}, [done](absl::Status st) { st.ok() ? done(true) : done(st); });
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

void Scheduler::FinishTrial(const LeaseRef& lease, TrialStatus status, FailureClass failure_class,
                            const std::string& reason, Callback<TrialStatus> done) {
  if (broken_) return done(BrokenError());
  if (absl::Status s = CheckFinishStatus(status); !s.ok()) return done(s);
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    auto it = trials_.find(lease.trial_id);
    if (it != trials_.end() && IsFinal(it->second.rec.status) &&
        HoldsLease(it->second.rec, lease)) {
      // The same lease finishing again (a retried call): answer as before, after the original
      // commit.
      const TrialStatus now_status = it->second.rec.status;
      if (now_status == status) {
        Commit(WriteBatch{}, {},
               [now_status, done](absl::Status st) { st.ok() ? done(now_status) : done(st); });
        return;
      }
      error = absl::FailedPreconditionError(absl::StrCat(
          "trial ", lease.trial_id, " already finished as ", TrialStatusName(now_status)));
    }
    auto t = error.ok() ? FencedTrial(lease, now, deferred) : absl::StatusOr<TrialEntry*>(error);
    if (!t.ok()) {
      error = t.status();
    } else if (absl::Status s = CheckCancelAllowed(status, (*t)->cancel_requested); !s.ok()) {
      error = s;
    } else {
      TrialEntry& tr = **t;
      const std::string worker_id = tr.rec.worker_id;  // a retry clears it
      WriteBatch batch;
      std::vector<SweepEvent> tpe_events;  // a tpe sweep's next points
      const FinishPlan plan = PlanFinish(status, failure_class);
      if (plan.retry) {
        ReleaseContext ctx;
        ctx.burn_attempt = plan.burn_attempt;
        ctx.failure_class = plan.failure_class;
        ReleaseLease(tr, ctx, reason, batch);
      } else {
        queue_.MarkReleased(tr.rec.id);
        std::string why = reason;
        if (status == TrialStatus::kFailed && failure_class == FailureClass::kOutOfMemory) {
          const WorkerRecord* worker = workers_.Find(worker_id);
          why = OutOfMemoryReason(worker ? worker->device : "?", reason);
        }
        EndLease(tr.rec, CountsOf(tr), status, plan.failure_class, why);
        WriteTrial(tr, batch);
        if (plan.failure_class == FailureClass::kUserError) MaybePause(sweeps_[tr.rec.sweep_id]);
        PlanTpe(sweeps_[tr.rec.sweep_id], batch, &tpe_events);
      }
      if (auto w = workers_.RecordOutcome(worker_id, plan.worker,
                                          options_.quarantine_after_failures, now)) {
        if (w->quarantined) {
          log::Warn("worker_quarantined",
                    {{"worker", w->id},
                     {"host", w->host},
                     {"consecutive_failures", int64_t{w->consecutive_failures}}});
        }
        batch.put_workers.push_back(*w);
      }
      const TrialStatus after = tr.rec.status;
      // Successes only at debug (a busy coordinator ends hundreds a second); every failure,
      // divergence, retry and cancellation at info, with its reason.
      log::Event(after == TrialStatus::kSucceeded ? log::Level::kDebug : log::Level::kInfo,
                 "trial_finished",
                 {{"trial", tr.rec.id},
                  {"worker", worker_id},
                  {"attempt", int64_t{lease.attempt}},
                  {"reported", TrialStatusName(status)},
                  {"status", TrialStatusName(after)},
                  {"reason", reason}});
      std::function<void()> completed = CompletionLog(sweeps_[tr.rec.sweep_id]);
      std::vector<SweepEvent> events = {EventFor(tr)};
      for (auto& e : tpe_events) events.push_back(std::move(e));
      if (IsFinal(after) && auto_lr_.HasDependents(tr.rec.id)) {
        ReleaseDependents(tr.rec.id, batch, events);
      }
      Commit(std::move(batch), std::move(events), [after, done, completed](absl::Status st) {
        if (st.ok() && completed) completed();
        st.ok() ? done(after) : done(st);
      });
      ServeWaiters(now, deferred);
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

}  // namespace hypersweep
