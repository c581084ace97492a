// The Scheduler's operator and client calls outside the lease path: clearing a worker's
// quarantine, pausing a sweep whose trials fail with the same user error and resuming it, the
// worker health counts and the expiry of stale workers.
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "server/scheduler/scheduler.h"

namespace hypersweep {

void Scheduler::ClearQuarantine(const std::string& worker_id, Callback<WorkerRecord> done) {
  if (broken_) return done(BrokenError());
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    if (auto rec = workers_.ClearQuarantine(worker_id)) {
      WriteBatch batch;
      batch.put_workers.push_back(*rec);
      Commit(std::move(batch), {}, [rec = *rec, done](absl::Status st) {
        if (st.ok()) log::Info("quarantine_cleared", {{"worker", rec.id}, {"host", rec.host}});
        st.ok() ? done(rec) : done(st);
      });
      // A waiter it had is gone already (a quarantined worker's long-poll answers at once).
      return;
    }
    error = absl::NotFoundError(absl::StrCat("unknown worker ", worker_id));
  }
  done(error);
}

void Scheduler::ResumeSweep(const std::string& sweep_id, Callback<SweepInfo> done) {
  if (broken_) return done(BrokenError());
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    auto it = sweeps_.find(sweep_id);
    if (it == sweeps_.end()) {
      error = absl::NotFoundError(absl::StrCat("unknown sweep ", sweep_id));
    } else if (InfoOf(it->second).state != SweepState::kPaused) {
      error = absl::FailedPreconditionError(absl::StrCat("sweep ", sweep_id, " is not paused"));
    } else {
      SweepEntry& s = it->second;
      s.paused_reason.clear();
      WriteBatch batch;
      std::vector<SweepEvent> events;
      for (const auto& id : s.trial_ids) {
        TrialEntry& t = trials_[id];
        if (t.rec.status == TrialStatus::kFailed &&
            t.rec.failure_class == FailureClass::kUserError && !t.rec.worker_id.empty()) {
          RequeueFailed(t.rec, s.counts);
          WriteTrial(t, batch);
          events.push_back(EventFor(t));
        }
        if (t.rec.status == TrialStatus::kQueued && !auto_lr_.IsHeld(id)) Enqueue(t);
      }
      MakeTrials(s, batch);
      if (events.empty()) events.push_back(SweepEvent{Summary(s, Health()), false, {}, {}});
      SweepInfo info = Info(s);
      Commit(std::move(batch), std::move(events), [info, done](absl::Status st) {
        if (st.ok()) log::Info("sweep_resumed", {{"sweep", info.record.id}});
        st.ok() ? done(info) : done(st);
      });
      ServeWaiters(clock_->NowMs(), deferred);
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

WorkerHealth Scheduler::Health() {
  const int64_t window = options_.worker_seen_window_ms > 0
                             ? options_.worker_seen_window_ms
                             : options_.lease_ttl_ms + 2 * options_.max_acquire_wait_ms;
  return workers_.Health(clock_->NowMs(), window, ActiveLeases());
}

SweepInfo Scheduler::Info(const SweepEntry& s) {
  SweepInfo info = InfoOf(s);
  info.workers = Health();
  return info;
}

std::map<std::string, int64_t> Scheduler::ActiveLeases() {
  std::map<std::string, int64_t> active;
  for (const auto& id : queue_.leased()) active[trials_[id].rec.worker_id]++;
  return active;
}

void Scheduler::Enqueue(const TrialEntry& t) {
  if (sweeps_[t.rec.sweep_id].paused_reason.empty()) queue_.Push(t.position(), t.rec.id);
}

bool Scheduler::MaybePause(SweepEntry& s) {
  if (!s.paused_reason.empty() || s.rec.cancelled) return false;
  std::vector<const TrialRecord*> recs;
  for (const auto& id : s.trial_ids) recs.push_back(&trials_[id].rec);
  s.paused_reason = PauseReason(recs);
  if (s.paused_reason.empty()) return false;
  log::Warn("sweep_paused", {{"sweep", s.rec.id}, {"reason", s.paused_reason}});
  for (const auto& id : s.trial_ids) {
    const TrialEntry& t = trials_[id];
    if (t.rec.status == TrialStatus::kQueued) queue_.Remove(t.position(), id);
  }
  return true;
}

void Scheduler::ExpireWorkers(int64_t now, WriteBatch& batch) {
  if (options_.worker_expiry_ms <= 0) return;
  for (auto& id : workers_.Expire(now - options_.worker_expiry_ms, ActiveLeases())) {
    log::Info("worker_expired", {{"worker", id}, {"not_seen_for_ms", options_.worker_expiry_ms}});
    batch.delete_workers.push_back(std::move(id));
  }
}

}  // namespace hypersweep
