// The Scheduler's construction, client calls, time and commits. Its worker calls and lease
// bookkeeping are in scheduler_leases.cc.
#include "server/scheduler/scheduler.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"
#include "server/scheduler/recovery.h"
#include "server/scheduler/tpe_planner.h"

namespace hypersweep {
absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(Store* store, Clock* clock,
                                                             const SchedulerOptions& options) {
  if (options.lease_ttl_ms <= 0) return absl::InvalidArgumentError("lease_ttl_ms must be > 0");
  auto s = std::unique_ptr<Scheduler>(new Scheduler(store, clock, options));
  RETURN_IF_ERROR(s->Load());
  return s;
}

Scheduler::Scheduler(Store* store, Clock* clock, const SchedulerOptions& options)
    : store_(store), clock_(clock), options_(options) {
  absl::MutexLock lock(&mu_);
  rng_.seed(std::random_device{}() ^ (static_cast<uint64_t>(clock->NowMs()) << 16));
}

Scheduler::~Scheduler() {
  Shutdown();
  // Commit callbacks refer to this object: wait for the ones still queued (a closed store answers
  // at once).
  Flush().IgnoreError();
}

absl::Status Scheduler::Load() {
  ASSIGN_OR_RETURN(StoreState st, store_->LoadState());
  RecoveredState rs = Recover(std::move(st), clock_->NowMs(), options_.lease_ttl_ms);
  absl::MutexLock lock(&mu_);
  return Install(std::move(rs));
}

absl::Status Scheduler::Install(RecoveredState rs) {
  for (auto& s : rs.sweeps) {
    next_sweep_seq_ = std::max(next_sweep_seq_, s.seq + 1);
    sweep_order_.push_back(s.rec.id);
    std::string id = s.rec.id;
    sweeps_[id] = std::move(s);
  }
  for (auto& t : rs.trials) {
    const std::string id = t.rec.id;
    TrialEntry& e = trials_[id] = std::move(t);
    if (auto h = rs.held.find(id); h != rs.held.end()) {
      auto_lr_.Hold(h->second, id);
    } else if (e.rec.status == TrialStatus::kQueued) {
      queue_.Push(e.position(), id);
    } else if (e.rec.status == TrialStatus::kLeased) {
      queue_.MarkLeased(id);
    }
  }
  for (auto& w : rs.workers) workers_.Restore(std::move(w));
  RETURN_IF_ERROR(RestorePruners());
  // A sweep paused by repeated user errors is paused again (the rule reads the stored trials).
  for (auto& [id, s] : sweeps_) MaybePause(s);
  WriteBatch batch;
  std::vector<SweepEvent> events;
  // Tpe sweeps propose what a crash between a point's end and its proposals lost (none twice: the
  // planner derives the points from the stored trials).
  RETURN_IF_ERROR(RestoreTpe(batch));
  // On-demand sweeps whose made trials were all handed out before the restart make the next.
  for (auto& [id, s] : sweeps_) MakeTrials(s, batch);
  // Range tests with dependents still held: their stored curves come back (a running one may have
  // reported its curve already), and a group whose range tests have all ended releases its trials.
  const std::vector<std::string> range_tests = auto_lr_.RangeTests();
  for (const auto& range_id : range_tests) {  // also those still running that reported one
    if (auto curve = store_->GetLrCurve(range_id); curve.ok()) auto_lr_.KeepCurve(range_id, *curve);
  }
  for (const auto& range_id : range_tests) ReleaseDependents(range_id, batch, events);
  if (!batch.empty()) RETURN_IF_ERROR(store_->Write(std::move(batch)));
  return absl::OkStatus();
}

absl::Status Scheduler::RestorePruners() {
  for (const auto& [sweep_id, s] : sweeps_) {
    // A sweep with no trial left to judge needs no pruner.
    if (s.counts.Of(TrialStatus::kQueued) + s.counts.Of(TrialStatus::kLeased) == 0) continue;
    pruners_.AddSweep(sweep_id, s.pruner, s.objective);
    SweepPruner* p = pruners_.Find(sweep_id);
    if (p == nullptr) continue;
    for (const auto& id : s.trial_ids) {
      const TrialEntry& t = trials_[id];
      p->AddTrial(t.rec);
      if (t.have_epoch.empty()) continue;
      // The decisions are derived from the stored epochs: read back the objective of each.
      ASSIGN_OR_RETURN(std::vector<EpochRecord> epochs, store_->GetEpochs(id, {p->metric()}));
      for (const auto& e : epochs) p->Record(id, e);
    }
  }
  return absl::OkStatus();
}

// ---- helpers ----

absl::Status Scheduler::BrokenError() {
  return absl::UnavailableError(
      "the coordinator could not commit to its database (disk full?); it retries by itself and "
      "serves again once the file takes writes (state is safe in the file up to the last "
      "acknowledged call)");
}

TrialCounts& Scheduler::CountsOf(const TrialEntry& t) { return sweeps_[t.rec.sweep_id].counts; }

void Scheduler::WriteTrial(const TrialEntry& t, WriteBatch& batch) {
  batch.update_trials.push_back(MutableFieldsOf(t.rec));
}

// What lists and events carry of a sweep: all of Info but the spec text, which may be up to
// --max-spec-bytes and is GetSweep's to ship. The text is moved out for the copy and back, so
// listing a thousand sweeps copies no spec.
SweepInfo Scheduler::Summary(SweepEntry& s, const WorkerHealth& health) {
  std::string spec = std::move(s.rec.spec_text);
  SweepInfo info = InfoOf(s);
  s.rec.spec_text = std::move(spec);
  info.workers = health;
  return info;
}

SweepEvent Scheduler::EventFor(const TrialEntry& t) {
  // Nobody watches this sweep: an empty event, which Publish() delivers to no one. A watcher that
  // subscribes later reads the current state first, which already has this change.
  if (!watched_.IsWatched(t.rec.sweep_id)) return SweepEvent{};
  return TrialEvent(Summary(sweeps_[t.rec.sweep_id], Health()), t.rec);
}

// A lease token is a worker's proof that it holds the lease: 128 bits from the kernel's CSPRNG
// (getrandom), so no token can be predicted from the ones a worker has seen.
std::string Scheduler::NewToken() {
  uint64_t words[2];
  size_t got = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(words);
  while (got < sizeof(words)) {
    const ssize_t n = getrandom(bytes + got, sizeof(words) - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      std::abort();  // no kernel randomness: no safe token to hand out
    }
  }
  return absl::StrFormat("%016x%016x", words[0], words[1]);
}

void Scheduler::Commit(WriteBatch batch, std::vector<SweepEvent> events,
                       std::function<void(absl::Status)> done) {
  store_->WriteAsync(std::move(batch), [this, events = std::move(events),
                                        done = std::move(done)](absl::Status s) {
    if (!s.ok() && !broken_.exchange(true)) {
      log::Error("commit_failed", {{"error", s.message()},
                                   {"effect", "writes refused until the file takes one again"}});
    }
    if (done)
      done(s.ok() ? s : absl::UnavailableError(absl::StrCat("commit failed: ", s.message())));
    if (s.ok()) events_.Publish(events);
  });
}

// ---- clients ----

void Scheduler::SubmitSweep(const std::string& spec_text, bool dry_run, int32_t max_attempts,
                            Callback<SubmitResult> done) {
  auto spec = ParseSweepSpecWithin(spec_text, options_.spec_limits);
  if (!spec.ok()) return done(spec.status());
  // A tpe sweep starts with its first points (min(parallel, trials) of them); the planner adds
  // the others as points end (scheduler_tpe.cc). trial_count is every trial it will have.
  const bool tpe = IsTpe(*spec);
  // Points on demand (scheduler_points.cc): a grid or random sweep without `auto` LR makes its
  // first kTrialBatch trials now (checked like every trial of a sweep made whole) and the others
  // as they are handed out.
  const bool on_demand = !tpe && !HasAutoLr(*spec);
  absl::StatusOr<std::vector<ExpandedTrial>> expanded;
  std::vector<TpeNewPoint> tpe_points;
  if (on_demand) {
    expanded.emplace();
    for (auto& t : ExpandRange(*spec, 0, kTrialBatch)) {
      if (!t.ok()) return done(t.status());
      expanded->push_back(*std::move(t));
    }
  } else if (tpe) {
    auto first = NextTpePoints(*spec, spec->objective.goal == Goal::kMaximize, TpeSearchState{});
    if (!first.ok()) return done(first.status());
    expanded.emplace();
    for (const auto& p : *first) {
      for (const auto& t : p.trials) expanded->push_back(t);
    }
    tpe_points = *std::move(first);
  } else {
    expanded = ExpandSweep(*spec);
  }
  if (!expanded.ok()) return done(expanded.status());
  if (max_attempts < 0) return done(absl::InvalidArgumentError("max_attempts: must be >= 0"));
  SubmitResult result;
  SweepRecord& rec = result.sweep.record;
  rec.name = spec->name;
  rec.spec_text = spec_text;
  rec.objective_metric = spec->objective.metric;
  rec.maximize = spec->objective.goal == Goal::kMaximize;
  rec.created_ms = clock_->NowMs();
  rec.max_attempts = max_attempts > 0 ? max_attempts : options_.default_max_attempts;
  // Auto LR: auto.range_tests range tests per group, ahead of the trials that wait for them.
  // (A tpe sweep's range tests are per point: AddTpePoints.)
  const AutoLrPlanner::RangeTestPlan plan =
      AutoLrPlanner::AddRangeTests(*expanded, tpe ? 0 : spec->auto_lr.range_tests);
  const size_t range_tests = plan.range_tests;
  result.trials.reserve(expanded->size());
  for (size_t i = 0; i < expanded->size(); ++i) {
    result.trials.push_back(
        NewTrialRecord((*expanded)[i], static_cast<int64_t>(i),
                       i < range_tests ? TrialRole::kLrRangeTest : TrialRole::kTrain));
  }
  const int64_t stored = static_cast<int64_t>(expanded->size());
  rec.trial_count = tpe || on_demand ? CountTrials(*spec) : stored;
  // Counted: every trial of an on-demand sweep; the proposed points of a tpe one.
  const int64_t counted = on_demand ? rec.trial_count : stored;
  result.sweep.counts.total = counted;
  result.sweep.counts.by_status[static_cast<int>(TrialStatus::kQueued)] = counted;
  if (dry_run) return done(std::move(result));
  if (broken_) return done(BrokenError());

  Deferred deferred;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    // The quota counts the made trials that wait or run, so finished sweeps never block new
    // ones, and the points an on-demand sweep has not made yet cost nothing.
    int64_t pending = 0;
    for (const auto& [id, sw] : sweeps_) {
      pending += sw.counts.Of(TrialStatus::kQueued) + sw.counts.Of(TrialStatus::kLeased) -
                 (sw.rec.cancelled ? 0 : Unmade(sw));
    }
    // (A tpe sweep adds its first points now; its later points replace ended ones.)
    if (pending + stored > options_.max_queued_trials) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "queue: ", pending, " trials are queued or running and this sweep adds ", stored,
          "; the coordinator's limit is ", options_.max_queued_trials,
          " (hypersweepd --max-queued-trials); wait for running sweeps or cancel some"));
    }
    if (refused.ok()) {
      AddSweepLocked(std::move(result), plan, *spec, tpe_points, std::move(done), deferred);
    }
  }
  for (auto& f : deferred) f();
  if (!refused.ok()) done(refused);
}

void Scheduler::AddSweepLocked(SubmitResult result, const AutoLrPlanner::RangeTestPlan& plan,
                               const SweepSpec& spec, const std::vector<TpeNewPoint>& tpe_points,
                               Callback<SubmitResult> done, Deferred& deferred) {
  SweepRecord& rec = result.sweep.record;
  {
    do {
      rec.id = absl::StrFormat("sw-%08x", Random32());
    } while (sweeps_.count(rec.id));
    SweepEntry& s = sweeps_[rec.id];
    s.rec = rec;
    s.seq = next_sweep_seq_++;
    s.auto_lr = spec.auto_lr;
    s.pruner = spec.pruner;
    s.objective = spec.objective;
    if (IsTpe(spec)) s.tpe = std::make_shared<const SweepSpec>(spec);
    s.counts = result.sweep.counts;
    s.made = static_cast<int64_t>(result.trials.size());
    if (!IsTpe(spec) && plan.range_tests == 0 && s.made < rec.trial_count) {
      s.on_demand = std::make_shared<const SweepSpec>(spec);
    }
    sweep_order_.push_back(rec.id);
    WriteBatch batch;
    batch.put_sweeps.push_back(rec);
    pruners_.AddSweep(rec.id, s.pruner, s.objective);
    if (s.tpe != nullptr) {
      s.counts = TrialCounts{};
      AddTpePoints(s, tpe_points, batch, nullptr);
      result.trials = batch.insert_trials;
    } else {
      for (auto& t : result.trials) {
        t.id = absl::StrCat(rec.id, "-", t.index);
        t.sweep_id = rec.id;
      }
      SweepPruner* pruner = pruners_.Find(rec.id);
      for (auto& t : result.trials) {
        TrialEntry& e = trials_[t.id];
        e.rec = t;
        e.sweep_seq = s.seq;
        s.trial_ids.push_back(t.id);
        if (const auto& waits = plan.waits_for[static_cast<size_t>(t.index)]; !waits.empty()) {
          std::vector<std::string> range_ids;
          for (int64_t r : waits) range_ids.push_back(result.trials[static_cast<size_t>(r)].id);
          auto_lr_.Hold(range_ids, t.id);
        } else {
          queue_.Push(e.position(), t.id);
        }
        if (pruner != nullptr) pruner->AddTrial(t);
      }
      batch.insert_trials = result.trials;
    }
    SweepEvent ev;
    ev.sweep = Summary(s, Health());
    result.sweep = InfoOf(s);
    Commit(std::move(batch), {ev},
           [result = std::move(result), done = std::move(done)](absl::Status st) mutable {
             if (st.ok()) {
               log::Info("sweep_submitted", {{"sweep", result.sweep.record.id},
                                             {"name", result.sweep.record.name},
                                             {"trials", result.sweep.counts.total}});
               done(std::move(result));
             } else {
               done(st);
             }
           });
    ServeWaiters(clock_->NowMs(), deferred);
  }
}

absl::StatusOr<SweepInfo> Scheduler::GetSweep(const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  auto it = sweeps_.find(sweep_id);
  if (it == sweeps_.end()) return absl::NotFoundError(absl::StrCat("unknown sweep ", sweep_id));
  return Info(it->second);
}

std::vector<SweepInfo> Scheduler::ListSweeps() {
  absl::MutexLock lock(&mu_);
  std::vector<SweepInfo> out;
  const WorkerHealth health = Health();  // the same for every sweep
  for (const auto& id : sweep_order_) out.push_back(Summary(sweeps_[id], health));
  return out;
}

void Scheduler::CancelSweep(const std::string& sweep_id, Callback<SweepInfo> done) {
  if (broken_) return done(BrokenError());
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    auto it = sweeps_.find(sweep_id);
    if (it == sweeps_.end()) {
      error = absl::NotFoundError(absl::StrCat("unknown sweep ", sweep_id));
    } else if (InfoOf(it->second).state == SweepState::kCompleted) {
      error = absl::FailedPreconditionError(absl::StrCat("sweep ", sweep_id, " already completed"));
    } else {
      SweepEntry& s = it->second;
      WriteBatch batch;
      std::vector<SweepEvent> events;
      const bool again = s.rec.cancelled;
      s.rec.cancelled = true;
      batch.put_sweeps.push_back(s.rec);
      for (const auto& id : s.trial_ids) {
        TrialEntry& t = trials_[id];
        if (t.rec.status == TrialStatus::kQueued) {
          queue_.Remove(t.position(), t.rec.id);
          CancelQueued(t.rec, s.counts);
          WriteTrial(t, batch);
          events.push_back(EventFor(t));
        } else if (t.rec.status == TrialStatus::kLeased) {
          t.cancel_requested = true;  // told on its next heartbeat or report
        }
      }
      // The trials not made yet are cancelled by the sweep's flag alone (nothing to write).
      if (!again) {
        s.counts.by_status[static_cast<int>(TrialStatus::kQueued)] -= Unmade(s);
        s.counts.by_status[static_cast<int>(TrialStatus::kCancelled)] += Unmade(s);
      }
      if (events.empty()) events.push_back(SweepEvent{Summary(s, Health()), false, {}, {}});
      SweepInfo info = InfoOf(s);
      Commit(std::move(batch), std::move(events), [info, done](absl::Status st) {
        if (st.ok()) log::Info("sweep_cancelled", {{"sweep", info.record.id}});
        st.ok() ? done(info) : done(st);
      });
      return;
    }
  }
  done(error);
}

absl::StatusOr<TrialPage> Scheduler::ListTrials(const TrialQuery& query) {
  return ListWithUnmade(query);
}

absl::StatusOr<std::vector<EpochRecord>> Scheduler::GetEpochs(
    const std::string& trial_id, const std::set<std::string>& metrics) {
  {
    absl::MutexLock lock(&mu_);
    if (!trials_.count(trial_id))
      return absl::NotFoundError(absl::StrCat("unknown trial ", trial_id));
  }
  return store_->GetEpochs(trial_id, metrics);
}

absl::StatusOr<Scheduler::LrCurveView> Scheduler::GetLrCurve(const std::string& trial_id) {
  LrCurveView view;
  {
    absl::MutexLock lock(&mu_);
    auto t = trials_.find(trial_id);
    if (t == trials_.end()) return absl::NotFoundError(absl::StrCat("unknown trial ", trial_id));
    auto s = sweeps_.find(t->second.rec.sweep_id);
    if (s != sweeps_.end()) view.rule = s->second.auto_lr.rule;
  }
  ASSIGN_OR_RETURN(view.curve, store_->GetLrCurve(trial_id));
  if (view.rule && !view.curve.suggested_lr) {
    view.rule_error = std::string(AutoLrPlanner::RuleLr(view.curve, *view.rule).status().message());
  }
  return view;
}

std::vector<WorkerInfo> Scheduler::ListWorkers() {
  absl::MutexLock lock(&mu_);
  return workers_.List(ActiveLeases());
}

// ---- time ----

int64_t Scheduler::Tick() {
  Deferred deferred;
  std::vector<Callback<AcquireResult>> timed_out;
  int64_t next;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    if (!broken_) ExpireLeases(now, deferred);
    next = queue_.ExpireWaiters(now, now + 1000, timed_out);
    for (const auto& id : queue_.leased()) next = std::min(next, trials_[id].rec.lease_expiry_ms);
  }
  for (auto& f : deferred) f();
  for (auto& done : timed_out) done(AcquireResult{});
  return next;
}

// ---- recovery from a failed commit ----

absl::Status Scheduler::RecoverFromFailedCommit() {
  absl::MutexLock recovering(&recover_mu_);
  if (!broken_) return absl::FailedPreconditionError("no commit has failed");
  // Every batch queued before has been answered (committed or failed) once this returns.
  RETURN_IF_ERROR(Flush());
  WriteBatch probe;
  probe.probe = true;
  RETURN_IF_ERROR(store_->Write(std::move(probe)));
  ASSIGN_OR_RETURN(StoreState st, store_->LoadState());
  RecoveredState rs = Recover(std::move(st), clock_->NowMs(), options_.lease_ttl_ms);
  std::vector<Callback<AcquireResult>> waiters;
  std::vector<SweepEvent> events;
  {
    absl::MutexLock lock(&mu_);
    // Writes were refused since broken_ was set, so the file is what memory would be after a
    // restart; heartbeats kept only lease expiries, which Recover() renews.
    waiters = queue_.TakeAllWaiters();
    sweeps_.clear();
    sweep_order_.clear();
    trials_.clear();
    queue_ = LeaseQueue();
    auto_lr_ = AutoLrPlanner();
    pruners_.Clear();
    workers_ = WorkerRegistry();
    next_sweep_seq_ = 1;
    RETURN_IF_ERROR(Install(std::move(rs)));
    const WorkerHealth health = Health();
    for (auto& [id, s] : sweeps_) {
      if (!watched_.IsWatched(id)) continue;
      SweepEvent e;
      e.sweep = Summary(s, health);
      events.push_back(std::move(e));
    }
    broken_ = false;
    wake_reaper_ = true;  // lease expiries changed
  }
  for (auto& done : waiters) done(AcquireResult{});
  events_.Publish(events);
  return absl::OkStatus();
}

void Scheduler::StartReaper() {
  reaper_ = std::thread([this] { ReaperLoop(); });
}

void Scheduler::ReaperLoop() {
  for (;;) {
    if (broken_) {
      bool due;
      {
        absl::MutexLock lock(&mu_);
        due = clock_->NowMs() >= next_recovery_ms_;
        if (due) next_recovery_ms_ = clock_->NowMs() + options_.recovery_interval_ms;
      }
      if (due) {
        const absl::Status st = RecoverFromFailedCommit();
        if (st.ok()) {
          log::Info("recovered", {{"from", "failed commit"}, {"state", "reloaded from the file"}});
          recovery_attempts_ = 0;
        } else {
          // The first failed attempt says why; later ones only at debug (one every interval).
          log::Event(recovery_attempts_++ == 0 ? log::Level::kWarn : log::Level::kDebug,
                     "recovery_waiting",
                     {{"error", st.message()}, {"retry_ms", options_.recovery_interval_ms}});
        }
      }
    }
    const int64_t next = Tick();
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    const int64_t wait = std::clamp<int64_t>(next - clock_->NowMs(), 1, 1000);
    mu_.AwaitWithTimeout(absl::Condition(this, &Scheduler::ReaperShouldWake),
                         absl::Milliseconds(wait));
    wake_reaper_ = false;
    if (shutting_down_) return;
  }
}

absl::Status Scheduler::Flush() {
  // Batches commit in call order, so an empty one queued now commits after every earlier one.
  return store_->Write(WriteBatch{});
}

void Scheduler::Shutdown() {
  std::vector<Callback<AcquireResult>> waiters;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    waiters = queue_.TakeAllWaiters();
  }
  for (auto& done : waiters) done(AcquireResult{});
  if (reaper_.joinable()) reaper_.join();
}

// ---- events ----

uint64_t Scheduler::Subscribe(const std::string& sweep_id,
                              std::function<void(const SweepEvent&)> fn) {
  {
    absl::MutexLock lock(&mu_);
    watched_.Add(sweep_id);
  }
  return events_.Subscribe(sweep_id, std::move(fn));
}

void Scheduler::Unsubscribe(uint64_t id) {
  std::optional<std::string> sweep_id = events_.Unsubscribe(id);
  if (!sweep_id) return;
  absl::MutexLock lock(&mu_);
  watched_.Remove(*sweep_id);
}

}  // namespace hypersweep
