#include "server/scheduler/scheduler.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/lr_finder.h"
#include "core/status_macros.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

constexpr int64_t kMaxEpoch = 1'000'000;

// Points that share these fields share one LR range test.
std::string AutoLrGroup(const TrialSpec& spec) {
  nlohmann::json j = ToJson(spec);
  nlohmann::json key;
  for (const char* k :
       {"dataset", "model", "optimizer", "batch_size", "momentum", "weight_decay"}) {
    key[k] = j[k];
  }
  return key.dump();
}

bool HasAutoLr(const std::string& spec_json) {
  auto spec = ParseTrialSpec(spec_json, {/*allow_auto=*/true});
  return spec.ok() && !spec->schedule.auto_fields.empty();
}

constexpr char kRoleParam[] = "role";
constexpr char kRangeTestRole[] = "lr_range_test";

bool IsRangeTest(const TrialRecord& t) {
  for (const auto& [k, v] : t.params) {
    if (k == kRoleParam && v == kRangeTestRole) return true;
  }
  return false;
}

absl::Status Unavailable() {
  return absl::UnavailableError(
      "the coordinator could not commit to its database; it must be restarted (state is safe in "
      "the file up to the last acknowledged call)");
}

}  // namespace

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
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  for (auto& rec : st.sweeps) {
    SweepEntry& s = sweeps_[rec.id];
    s.seq = next_sweep_seq_++;
    s.rec = std::move(rec);
    if (auto spec = ParseSweepSpec(s.rec.spec_text); spec.ok()) s.auto_lr = spec->auto_lr;
    sweep_order_.push_back(s.rec.id);
  }
  // Auto LR: which range test each held-back trial waits for (sweep id + group -> range trial).
  std::map<std::string, std::string> range_of_group;
  for (const auto& rec : st.trials) {
    if (!IsRangeTest(rec)) continue;
    auto spec = ParseTrialSpec(rec.spec_json, {true});
    if (spec.ok()) range_of_group[rec.sweep_id + "\n" + AutoLrGroup(*spec)] = rec.id;
  }
  for (auto& rec : st.trials) {
    auto sit = sweeps_.find(rec.sweep_id);
    if (sit == sweeps_.end()) continue;
    SweepEntry& s = sit->second;
    TrialEntry& t = trials_[rec.id];
    t.sweep_seq = s.seq;
    t.rec = std::move(rec);
    s.trial_ids.push_back(t.rec.id);
    s.counts.by_status[static_cast<int>(t.rec.status)]++;
    s.counts.total++;
    auto ep = st.epoch_numbers.find(t.rec.id);
    // The stored count of a trial that is not final is not kept current (reports do not rewrite
    // the trial row): the stored epochs are the truth.
    if (!IsFinal(t.rec.status)) {
      t.rec.epochs_reported =
          ep == st.epoch_numbers.end() ? 0 : static_cast<int64_t>(ep->second.size());
    }
    if (ep != st.epoch_numbers.end()) {
      for (int64_t e : ep->second) {
        if (e < 0 || e > kMaxEpoch) continue;
        if (static_cast<size_t>(e) >= t.have_epoch.size()) t.have_epoch.resize(e + 1);
        t.have_epoch[e] = true;
      }
    }
    if (t.rec.status == TrialStatus::kQueued && !range_of_group.empty() &&
        HasAutoLr(t.rec.spec_json)) {
      auto spec = ParseTrialSpec(t.rec.spec_json, {true});
      auto r = range_of_group.find(t.rec.sweep_id + "\n" + AutoLrGroup(*spec));
      if (r != range_of_group.end()) {
        t.waits_for = r->second;
        dependents_[r->second].push_back(t.rec.id);
      }
    }
    if (t.rec.status == TrialStatus::kQueued && t.waits_for.empty()) {
      queue_.emplace(t.sweep_seq, t.rec.index, t.rec.id);
    } else if (t.rec.status == TrialStatus::kLeased) {
      // Heartbeats are not stored: give every lease a full TTL from now.
      t.rec.lease_expiry_ms = std::max(t.rec.lease_expiry_ms, now + options_.lease_ttl_ms);
      t.cancel_requested = s.rec.cancelled;
      leased_.insert(t.rec.id);
    }
  }
  for (auto& w : st.workers) workers_[w.id].rec = std::move(w);
  // A range test that ended before a crash, with its dependents still held: release them now.
  WriteBatch batch;
  std::vector<SweepEvent> events;
  std::vector<std::string> ended;
  for (const auto& [range_id, deps] : dependents_) {
    if (IsFinal(trials_[range_id].rec.status)) ended.push_back(range_id);
  }
  for (const auto& range_id : ended) {
    auto curve = store_->GetLrCurve(range_id);
    ReleaseDependents(trials_[range_id], curve.ok() ? &*curve : nullptr, batch, events);
  }
  if (!batch.empty()) RETURN_IF_ERROR(store_->Write(std::move(batch)));
  return absl::OkStatus();
}

void Scheduler::ReleaseDependents(TrialEntry& range, const LrCurveRecord* curve, WriteBatch& batch,
                                  std::vector<SweepEvent>& events) {
  auto it = dependents_.find(range.rec.id);
  if (it == dependents_.end()) return;
  const std::vector<std::string> deps = std::move(it->second);
  dependents_.erase(it);
  const SweepEntry& sweep = sweeps_[range.rec.sweep_id];
  absl::StatusOr<double> lr = absl::FailedPreconditionError("");
  if (range.rec.status != TrialStatus::kSucceeded) {
    lr = absl::FailedPreconditionError(
        absl::StrCat("LR range test ", range.rec.id, " ended ", TrialStatusName(range.rec.status),
                     range.rec.reason.empty() ? "" : ": ", range.rec.reason));
  } else if (curve == nullptr || curve->points.empty()) {
    lr = absl::FailedPreconditionError(
        absl::StrCat("LR range test ", range.rec.id, " reported no curve"));
  } else {
    std::vector<LrCurvePoint> points;
    for (const auto& p : curve->points) points.push_back({p.lr, p.loss, p.smoothed_loss});
    auto suggestion = SuggestLr(points);
    if (!suggestion.ok()) {
      lr = absl::FailedPreconditionError(
          absl::StrCat("LR range test ", range.rec.id,
                       " gave no usable suggestion: ", suggestion.status().message()));
    } else {
      lr = suggestion->Get(sweep.auto_lr.rule) * sweep.auto_lr.scale;
    }
  }
  for (const auto& id : deps) {
    TrialEntry& t = trials_[id];
    t.waits_for.clear();
    if (t.rec.status != TrialStatus::kQueued) continue;  // e.g. cancelled meanwhile
    auto spec = ParseTrialSpec(t.rec.spec_json, {true});
    if (!lr.ok() || !spec.ok()) {
      SetStatus(t, TrialStatus::kFailed);
      t.rec.failure_class = FailureClass::kUserError;
      t.rec.reason = std::string(lr.ok() ? spec.status().message() : lr.status().message());
      batch.update_trials.push_back(MutableFieldsOf(t.rec));
      events.push_back(EventFor(t));
      continue;
    }
    ResolveAutoLr(spec->schedule, *lr, sweep.auto_lr.div);
    t.rec.spec_json = ToJson(*spec).dump();
    t.rec.params.emplace_back("max_lr", absl::StrFormat("%.6g", *lr));
    t.rec.params.emplace_back(
        "lr_from",
        absl::StrCat(range.rec.id, " (", SuggestRuleName(sweep.auto_lr.rule),
                     sweep.auto_lr.scale == 1 ? "" : absl::StrFormat(" x %g", sweep.auto_lr.scale),
                     ")"));
    batch.resolve_trials.push_back(t.rec);
    Enqueue(t);
    events.push_back(EventFor(t));
  }
  curves_.erase(range.rec.id);  // last: `curve` may point into it
}

// ---- helpers ----

void Scheduler::SetStatus(TrialEntry& t, TrialStatus s) {
  SweepEntry& sw = sweeps_[t.rec.sweep_id];
  sw.counts.by_status[static_cast<int>(t.rec.status)]--;
  sw.counts.by_status[static_cast<int>(s)]++;
  t.rec.status = s;
}

void Scheduler::Enqueue(TrialEntry& t) { queue_.emplace(t.sweep_seq, t.rec.index, t.rec.id); }

SweepInfo Scheduler::InfoOf(const SweepEntry& s) const {
  SweepInfo info;
  info.record = s.rec;
  info.counts = s.counts;
  if (s.rec.cancelled) {
    info.state = SweepState::kCancelled;
  } else if (s.counts.Of(TrialStatus::kQueued) + s.counts.Of(TrialStatus::kLeased) > 0) {
    info.state = SweepState::kRunning;
  } else {
    info.state = SweepState::kCompleted;
  }
  return info;
}

SweepEvent Scheduler::EventFor(const TrialEntry& t) {
  SweepEvent e;
  // Nobody watches this sweep: an empty event, which Publish() delivers to no one. A watcher that
  // subscribes later reads the current state first, which already has this change.
  if (watched_.find(t.rec.sweep_id) == watched_.end()) return e;
  e.sweep = InfoOf(sweeps_[t.rec.sweep_id]);
  e.has_trial = true;
  e.trial = t.rec;
  e.trial.spec_json.clear();    // large and unchanged; ListTrials has it
  e.trial.lease_token.clear();  // a worker credential; clients never see it
  return e;
}

std::string Scheduler::NewToken() { return absl::StrFormat("%016x%016x", rng_(), rng_()); }

void Scheduler::Commit(WriteBatch batch, std::vector<SweepEvent> events,
                       std::function<void(absl::Status)> done) {
  store_->WriteAsync(
      std::move(batch), [this, events = std::move(events), done = std::move(done)](absl::Status s) {
        if (!s.ok()) broken_ = true;
        if (done)
          done(s.ok() ? s : absl::UnavailableError(absl::StrCat("commit failed: ", s.message())));
        if (s.ok()) Publish(events);
      });
}

void Scheduler::Publish(const std::vector<SweepEvent>& events) {
  if (events.empty()) return;
  absl::MutexLock lock(&events_mu_);
  for (const auto& e : events) {
    for (const auto& [id, sub] : subscribers_) {
      if (sub.first == e.sweep.record.id) sub.second(e);
    }
  }
}

void Scheduler::Requeue(TrialEntry& t, bool burn_attempt, const std::string& reason,
                        WriteBatch& batch) {
  leased_.erase(t.rec.id);
  SweepEntry& s = sweeps_[t.rec.sweep_id];
  t.rec.reason = reason;
  if (t.cancel_requested || s.rec.cancelled) {
    SetStatus(t, TrialStatus::kCancelled);
    t.rec.reason = "sweep cancelled";
  } else {
    if (burn_attempt) ++t.rec.attempts_used;
    if (burn_attempt && t.rec.attempts_used >= s.rec.max_attempts) {
      SetStatus(t, TrialStatus::kFailed);
      t.rec.reason =
          absl::StrCat("gave up after ", t.rec.attempts_used, " attempts; last: ", reason);
    } else {
      ++t.rec.attempt;
      t.rec.lease_token.clear();
      t.rec.lease_expiry_ms = 0;
      t.rec.worker_id.clear();
      SetStatus(t, TrialStatus::kQueued);
      Enqueue(t);
    }
  }
  batch.update_trials.push_back(MutableFieldsOf(t.rec));
  if (IsFinal(t.rec.status) && dependents_.count(t.rec.id)) {
    // A range test that gave up (or was cancelled): its dependents fail. Their events are not
    // streamed from here; ListTrials shows them.
    std::vector<SweepEvent> unused;
    ReleaseDependents(t, nullptr, batch, unused);
  }
}

absl::StatusOr<Scheduler::TrialEntry*> Scheduler::CheckLease(const LeaseRef& lease, int64_t now,
                                                             Deferred& deferred) {
  auto it = trials_.find(lease.trial_id);
  if (it == trials_.end())
    return absl::NotFoundError(absl::StrCat("unknown trial ", lease.trial_id));
  TrialEntry& t = it->second;
  if (lease.lease_token.empty() || lease.attempt != t.rec.attempt ||
      lease.lease_token != t.rec.lease_token) {
    return absl::AbortedError(absl::StrCat("stale lease for trial ", lease.trial_id,
                                           ": it is at attempt ", t.rec.attempt, " (",
                                           TrialStatusName(t.rec.status), "); drop it"));
  }
  if (t.rec.status == TrialStatus::kCancelled) {
    return absl::FailedPreconditionError(absl::StrCat("trial ", lease.trial_id, " was cancelled"));
  }
  if (t.rec.status != TrialStatus::kLeased) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", lease.trial_id, " already finished (", TrialStatusName(t.rec.status), ")"));
  }
  if (now >= t.rec.lease_expiry_ms) {
    WriteBatch batch;
    Requeue(t, /*burn_attempt=*/true, "lease expired", batch);
    Commit(std::move(batch), {EventFor(t)}, nullptr);
    ServeWaiters(now, deferred);
    return absl::AbortedError(absl::StrCat("lease of trial ", lease.trial_id, " expired; drop it"));
  }
  return &t;
}

void Scheduler::Lease(TrialEntry& t, const std::string& worker_id, int64_t now,
                      Callback<AcquireResult> done) {
  queue_.erase(QueueKey(t.sweep_seq, t.rec.index, t.rec.id));
  SetStatus(t, TrialStatus::kLeased);
  t.rec.lease_token = NewToken();
  t.rec.lease_expiry_ms = now + options_.lease_ttl_ms;
  t.rec.worker_id = worker_id;
  leased_.insert(t.rec.id);
  WriteBatch batch;
  batch.update_trials.push_back(MutableFieldsOf(t.rec));
  AcquireResult r;
  r.acquired = true;
  r.trial = t.rec;
  Commit(std::move(batch), {EventFor(t)},
         [r = std::move(r), done = std::move(done)](absl::Status s) {
           if (s.ok()) {
             done(r);
           } else {
             done(s);
           }
         });
}

void Scheduler::ServeWaiters(int64_t now, Deferred& deferred) {
  while (!waiters_.empty() && !queue_.empty()) {
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    auto wit = workers_.find(w.worker_id);
    if (wit != workers_.end() && wit->second.rec.quarantined) {
      deferred.push_back([done = std::move(w.done)] {
        AcquireResult r;
        r.quarantined = true;
        done(r);
      });
      continue;
    }
    TrialEntry& t = trials_[std::get<2>(*queue_.begin())];
    Lease(t, w.worker_id, now, std::move(w.done));
  }
}

void Scheduler::ExpireLeases(int64_t now, Deferred& deferred) {
  std::vector<std::string> expired;
  for (const auto& id : leased_) {
    if (trials_[id].rec.lease_expiry_ms <= now) expired.push_back(id);
  }
  if (expired.empty()) return;
  WriteBatch batch;
  std::vector<SweepEvent> events;
  for (const auto& id : expired) {
    TrialEntry& t = trials_[id];
    Requeue(t, /*burn_attempt=*/true, "lease expired (no heartbeat within the lease TTL)", batch);
    events.push_back(EventFor(t));
  }
  Commit(std::move(batch), std::move(events), nullptr);
  ServeWaiters(now, deferred);
}

// ---- clients ----

void Scheduler::SubmitSweep(const std::string& spec_text, bool dry_run, int32_t max_attempts,
                            Callback<SubmitResult> done) {
  auto spec = ParseSweepSpec(spec_text);
  if (!spec.ok()) return done(spec.status());
  auto expanded = ExpandSweep(*spec);
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
  rec.trial_count = static_cast<int64_t>(expanded->size());
  // Auto LR: one range test per group, ahead of the trials that wait for it.
  std::vector<ExpandedTrial> range_tests;
  std::map<std::string, size_t> group_index;
  std::vector<int64_t> waits_for(expanded->size(), -1);  // index into range_tests
  for (size_t i = 0; i < expanded->size(); ++i) {
    const TrialSpec& spec = (*expanded)[i].spec;
    if (spec.schedule.auto_fields.empty()) continue;
    const std::string key = AutoLrGroup(spec);
    auto [it, added] = group_index.emplace(key, range_tests.size());
    if (added) {
      ExpandedTrial r;
      r.spec = spec;
      r.spec.schedule = ScheduleSpec{LrRangeTestSchedule{}, {}};
      r.spec.epochs = 1;
      r.spec.budget_seconds = 0;
      r.params = {{kRoleParam, kRangeTestRole},
                  {"batch_size", std::to_string(spec.batch_size)},
                  {"momentum", absl::StrFormat("%g", spec.momentum)},
                  {"weight_decay", absl::StrFormat("%g", spec.weight_decay)}};
      range_tests.push_back(std::move(r));
    }
    waits_for[i] = static_cast<int64_t>(it->second);
  }
  if (!range_tests.empty()) {
    expanded->insert(expanded->begin(), range_tests.begin(), range_tests.end());
    waits_for.insert(waits_for.begin(), range_tests.size(), -1);
  }
  result.trials.reserve(expanded->size());
  for (size_t i = 0; i < expanded->size(); ++i) {
    const ExpandedTrial& e = (*expanded)[i];
    TrialRecord t;
    t.index = static_cast<int64_t>(i);
    t.spec_json = ToJson(e.spec).dump();
    t.params = e.params;
    t.role = i < range_tests.size() ? TrialRole::kLrRangeTest : TrialRole::kTrain;  // at the front
    t.batch_size = e.spec.batch_size;
    t.schedule = ScheduleName(e.spec.schedule);
    t.fold = e.spec.validation.kind == ValidationSpec::Kind::kKFold ? e.spec.validation.fold : -1;
    t.seed = e.spec.seed;
    t.attempt = 1;
    result.trials.push_back(std::move(t));
  }
  rec.trial_count = static_cast<int64_t>(expanded->size());
  result.sweep.counts.total = rec.trial_count;
  result.sweep.counts.by_status[static_cast<int>(TrialStatus::kQueued)] = rec.trial_count;
  if (dry_run) return done(std::move(result));
  if (broken_) return done(Unavailable());

  Deferred deferred;
  {
    absl::MutexLock lock(&mu_);
    do {
      rec.id = absl::StrFormat("sw-%08x", static_cast<uint32_t>(rng_()));
    } while (sweeps_.count(rec.id));
    SweepEntry& s = sweeps_[rec.id];
    s.rec = rec;
    s.seq = next_sweep_seq_++;
    s.auto_lr = spec->auto_lr;
    s.counts = result.sweep.counts;
    sweep_order_.push_back(rec.id);
    WriteBatch batch;
    batch.put_sweeps.push_back(rec);
    for (auto& t : result.trials) {
      t.id = absl::StrCat(rec.id, "-", t.index);
      t.sweep_id = rec.id;
    }
    for (auto& t : result.trials) {
      TrialEntry& e = trials_[t.id];
      e.rec = t;
      e.sweep_seq = s.seq;
      s.trial_ids.push_back(t.id);
      if (const int64_t r = waits_for[static_cast<size_t>(t.index)]; r >= 0) {
        e.waits_for = result.trials[static_cast<size_t>(r)].id;
        dependents_[e.waits_for].push_back(t.id);
      } else {
        Enqueue(e);
      }
    }
    batch.insert_trials = result.trials;
    result.sweep = InfoOf(s);
    SweepEvent ev;
    ev.sweep = result.sweep;
    Commit(std::move(batch), {ev},
           [result = std::move(result), done = std::move(done)](absl::Status st) mutable {
             if (st.ok()) {
               done(std::move(result));
             } else {
               done(st);
             }
           });
    ServeWaiters(clock_->NowMs(), deferred);
  }
  for (auto& f : deferred) f();
}

absl::StatusOr<SweepInfo> Scheduler::GetSweep(const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  auto it = sweeps_.find(sweep_id);
  if (it == sweeps_.end()) return absl::NotFoundError(absl::StrCat("unknown sweep ", sweep_id));
  return InfoOf(it->second);
}

std::vector<SweepInfo> Scheduler::ListSweeps() {
  absl::MutexLock lock(&mu_);
  std::vector<SweepInfo> out;
  for (const auto& id : sweep_order_) out.push_back(InfoOf(sweeps_[id]));
  return out;
}

void Scheduler::CancelSweep(const std::string& sweep_id, Callback<SweepInfo> done) {
  if (broken_) return done(Unavailable());
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
      s.rec.cancelled = true;
      batch.put_sweeps.push_back(s.rec);
      for (const auto& id : s.trial_ids) {
        TrialEntry& t = trials_[id];
        if (t.rec.status == TrialStatus::kQueued) {
          queue_.erase(QueueKey(t.sweep_seq, t.rec.index, t.rec.id));
          SetStatus(t, TrialStatus::kCancelled);
          t.rec.reason = "sweep cancelled";
          batch.update_trials.push_back(MutableFieldsOf(t.rec));
          events.push_back(EventFor(t));
        } else if (t.rec.status == TrialStatus::kLeased) {
          t.cancel_requested = true;  // told on its next heartbeat or report
        }
      }
      SweepInfo info = InfoOf(s);
      if (events.empty()) events.push_back(SweepEvent{info, false, {}, {}});
      Commit(std::move(batch), std::move(events),
             [info, done](absl::Status st) { st.ok() ? done(info) : done(st); });
      return;
    }
  }
  done(error);
}

absl::StatusOr<TrialPage> Scheduler::ListTrials(const TrialQuery& query) {
  {
    absl::MutexLock lock(&mu_);
    if (!sweeps_.count(query.sweep_id)) {
      return absl::NotFoundError(absl::StrCat("unknown sweep ", query.sweep_id));
    }
  }
  return store_->ListTrials(query);
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

absl::StatusOr<LrCurveRecord> Scheduler::GetLrCurve(const std::string& trial_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!trials_.count(trial_id))
      return absl::NotFoundError(absl::StrCat("unknown trial ", trial_id));
  }
  return store_->GetLrCurve(trial_id);
}

std::vector<WorkerInfo> Scheduler::ListWorkers() {
  absl::MutexLock lock(&mu_);
  std::map<std::string, int64_t> active;
  for (const auto& id : leased_) active[trials_[id].rec.worker_id]++;
  std::vector<WorkerInfo> out;
  for (const auto& [id, w] : workers_) out.push_back(WorkerInfo{w.rec, active[id]});
  return out;
}

// ---- workers ----

void Scheduler::RegisterWorker(const WorkerRecord& worker, Callback<WorkerRecord> done) {
  if (broken_) return done(Unavailable());
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  std::string id = worker.id;
  if (id.empty()) {
    do {
      id = absl::StrFormat("w-%08x", static_cast<uint32_t>(rng_()));
    } while (workers_.count(id));
  }
  auto [it, inserted] = workers_.try_emplace(id);
  WorkerRecord& rec = it->second.rec;
  const WorkerRecord old = rec;
  rec = worker;
  rec.id = id;
  rec.registered_ms = inserted ? now : old.registered_ms;
  rec.consecutive_failures = inserted ? 0 : old.consecutive_failures;
  rec.quarantined = inserted ? false : old.quarantined;
  rec.last_seen_ms = now;
  if (rec.slots < 1) rec.slots = 1;
  WriteBatch batch;
  batch.put_workers.push_back(rec);
  Commit(std::move(batch), {}, [rec, done](absl::Status st) { st.ok() ? done(rec) : done(st); });
}

uint64_t Scheduler::Acquire(const std::string& worker_id, int64_t deadline_ms,
                            Callback<AcquireResult> done) {
  Deferred deferred;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    auto wit = workers_.find(worker_id);
    if (broken_) {
      deferred.push_back([done] { done(Unavailable()); });
    } else if (shutting_down_) {
      deferred.push_back([done] { done(AcquireResult{}); });
    } else if (wit == workers_.end()) {
      deferred.push_back([done, worker_id] {
        done(absl::NotFoundError(absl::StrCat("unknown worker ", worker_id, "; register first")));
      });
    } else if (wit->second.rec.quarantined) {
      wit->second.rec.last_seen_ms = now;
      deferred.push_back([done] {
        AcquireResult r;
        r.quarantined = true;
        done(r);
      });
    } else {
      wit->second.rec.last_seen_ms = now;
      if (!queue_.empty()) {
        Lease(trials_[std::get<2>(*queue_.begin())], worker_id, now, std::move(done));
      } else {
        const int64_t deadline = std::min(deadline_ms, now + options_.max_acquire_wait_ms);
        if (deadline <= now) {
          deferred.push_back([done] { done(AcquireResult{}); });
        } else {
          id = next_waiter_id_++;
          waiters_.push_back(Waiter{id, worker_id, deadline, std::move(done)});
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
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->id == waiter_id) {
        done = std::move(it->done);
        waiters_.erase(it);
        break;
      }
    }
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
    if (auto w = workers_.find(worker_id); w != workers_.end()) w->second.rec.last_seen_ms = now;
    auto t = CheckLease(lease, now, deferred);
    if (!t.ok()) {
      result = t.status();
    } else {
      (*t)->rec.lease_expiry_ms = now + options_.lease_ttl_ms;
      result = HeartbeatResult{(*t)->rec.lease_expiry_ms, (*t)->cancel_requested};
    }
  }
  for (auto& f : deferred) f();
  return result;
}

void Scheduler::ReportEpochs(const LeaseRef& lease, std::vector<EpochRecord> epochs,
                             const std::string& checkpoint_uri, Callback<ReportResult> done) {
  if (broken_) return done(Unavailable());
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    for (const auto& e : epochs) {
      if (e.epoch < 0 || e.epoch > kMaxEpoch) {
        error = absl::InvalidArgumentError(
            absl::StrCat("epochs.epoch: must be in [0, ", kMaxEpoch, "], got ", e.epoch));
      }
    }
    // NaN or inf is no number to store: SQLite would keep NULL and read it back as 0, turning a
    // diverged epoch into the best loss of the sweep. The value is stored as missing, as the
    // worker does (a bad report never corrupts a trial; DIVERGED is said by FinishTrial).
    for (auto& e : epochs) {
      for (auto it = e.metrics.begin(); it != e.metrics.end();) {
        it = std::isfinite(it->second) ? std::next(it) : e.metrics.erase(it);
      }
    }
    auto t = error.ok() ? CheckLease(lease, now, deferred) : absl::StatusOr<TrialEntry*>(error);
    if (!t.ok()) {
      error = t.status();
    } else {
      TrialEntry& tr = **t;
      EpochsWrite w{tr.rec.id, tr.rec.sweep_id, {}};
      for (auto& e : epochs) {
        if (static_cast<size_t>(e.epoch) >= tr.have_epoch.size()) tr.have_epoch.resize(e.epoch + 1);
        if (tr.have_epoch[e.epoch]) continue;  // already reported: first report wins
        tr.have_epoch[e.epoch] = true;
        w.epochs.push_back(std::move(e));
      }
      WriteBatch batch;
      std::vector<SweepEvent> events;
      // A report is a sign of life: it extends the lease like a heartbeat.
      tr.rec.lease_expiry_ms = now + options_.lease_ttl_ms;
      const bool new_checkpoint =
          !checkpoint_uri.empty() && checkpoint_uri != tr.rec.checkpoint_uri;
      if (!w.epochs.empty() || new_checkpoint) {
        tr.rec.epochs_reported += static_cast<int64_t>(w.epochs.size());
        // The trial row is rewritten only for a new checkpoint: the stores count a running
        // trial's epochs themselves, and leases are re-armed from the restart time anyway, so
        // the common report writes its epoch rows and nothing else.
        if (new_checkpoint) {
          tr.rec.checkpoint_uri = checkpoint_uri;
          batch.update_trials.push_back(MutableFieldsOf(tr.rec));
        }
        SweepEvent ev = EventFor(tr);
        if (ev.has_trial) ev.epochs = w.epochs;
        events.push_back(std::move(ev));
        if (!w.epochs.empty()) batch.add_epochs.push_back(std::move(w));
      }
      // Even a pure repeat goes through the writer, so it is answered only after the report it
      // repeats has committed.
      ReportResult r{tr.rec.epochs_reported, tr.cancel_requested};
      Commit(std::move(batch), std::move(events),
             [r, done](absl::Status st) { st.ok() ? done(r) : done(st); });
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

void Scheduler::ReportLrCurve(const LeaseRef& lease, LrCurveRecord curve, Callback<bool> done) {
  if (broken_) return done(Unavailable());
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    auto t = CheckLease(lease, clock_->NowMs(), deferred);
    if (!t.ok()) {
      error = t.status();
    } else {
      WriteBatch batch;
      if (dependents_.count((*t)->rec.id)) curves_[(*t)->rec.id] = curve;
      batch.put_lr_curves.emplace_back((*t)->rec.id, std::move(curve));
      Commit(std::move(batch), {}, [done](absl::Status st) { st.ok() ? done(true) : done(st); });
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

void Scheduler::FinishTrial(const LeaseRef& lease, TrialStatus status, FailureClass failure_class,
                            const std::string& reason, Callback<TrialStatus> done) {
  if (broken_) return done(Unavailable());
  if (status != TrialStatus::kSucceeded && status != TrialStatus::kDiverged &&
      status != TrialStatus::kFailed && status != TrialStatus::kCancelled) {
    return done(
        absl::InvalidArgumentError("status: must be SUCCEEDED, DIVERGED, FAILED or CANCELLED"));
  }
  Deferred deferred;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    auto it = trials_.find(lease.trial_id);
    if (it != trials_.end() && IsFinal(it->second.rec.status) && !lease.lease_token.empty() &&
        lease.attempt == it->second.rec.attempt &&
        lease.lease_token == it->second.rec.lease_token) {
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
    auto t = error.ok() ? CheckLease(lease, now, deferred) : absl::StatusOr<TrialEntry*>(error);
    if (!t.ok()) {
      error = t.status();
    } else if (status == TrialStatus::kCancelled && !(*t)->cancel_requested) {
      error = absl::InvalidArgumentError(
          "status: CANCELLED only for a trial whose sweep was cancelled");
    } else {
      TrialEntry& tr = **t;
      WriteBatch batch;
      auto wit = workers_.find(tr.rec.worker_id);
      WorkerRecord* worker = wit == workers_.end() ? nullptr : &wit->second.rec;
      tr.rec.failure_class = status == TrialStatus::kFailed ? failure_class : FailureClass::kNone;
      tr.rec.reason = reason;
      if (status == TrialStatus::kFailed &&
          (failure_class == FailureClass::kTransient || failure_class == FailureClass::kNone ||
           failure_class == FailureClass::kPreempted)) {
        tr.rec.failure_class =
            failure_class == FailureClass::kNone ? FailureClass::kTransient : failure_class;
        Requeue(tr, /*burn_attempt=*/failure_class != FailureClass::kPreempted, reason, batch);
      } else {
        leased_.erase(tr.rec.id);
        if (status == TrialStatus::kFailed && failure_class == FailureClass::kOutOfMemory) {
          tr.rec.reason = absl::StrCat("out of memory on ", worker ? worker->device : "?",
                                       reason.empty() ? "" : ": ", reason);
        }
        SetStatus(tr, status);
        batch.update_trials.push_back(MutableFieldsOf(tr.rec));
      }
      if (worker != nullptr && failure_class != FailureClass::kPreempted &&
          status != TrialStatus::kCancelled) {
        if (status == TrialStatus::kFailed) {
          ++worker->consecutive_failures;
          const int32_t limit = worker->max_consecutive_failures > 0
                                    ? worker->max_consecutive_failures
                                    : options_.quarantine_after_failures;
          if (worker->consecutive_failures >= limit) {
            worker->quarantined = true;
          }
        } else {
          worker->consecutive_failures = 0;
        }
        worker->last_seen_ms = now;
        batch.put_workers.push_back(*worker);
      }
      const TrialStatus after = tr.rec.status;
      std::vector<SweepEvent> events = {EventFor(tr)};
      if (IsFinal(after) && dependents_.count(tr.rec.id)) {
        auto c = curves_.find(tr.rec.id);
        ReleaseDependents(tr, c == curves_.end() ? nullptr : &c->second, batch, events);
      }
      Commit(std::move(batch), std::move(events),
             [after, done](absl::Status st) { st.ok() ? done(after) : done(st); });
      ServeWaiters(now, deferred);
    }
  }
  for (auto& f : deferred) f();
  if (!error.ok()) done(error);
}

// ---- time ----

int64_t Scheduler::Tick() {
  Deferred deferred;
  int64_t next;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    next = now + 1000;
    if (!broken_) ExpireLeases(now, deferred);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline_ms <= now) {
        deferred.push_back([done = std::move(it->done)] { done(AcquireResult{}); });
        it = waiters_.erase(it);
      } else {
        next = std::min(next, it->deadline_ms);
        ++it;
      }
    }
    for (const auto& id : leased_) next = std::min(next, trials_[id].rec.lease_expiry_ms);
  }
  for (auto& f : deferred) f();
  return next;
}

void Scheduler::StartReaper() {
  reaper_ = std::thread([this] { ReaperLoop(); });
}

void Scheduler::ReaperLoop() {
  for (;;) {
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
  Deferred deferred;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& w : waiters_) {
      deferred.push_back([done = std::move(w.done)] { done(AcquireResult{}); });
    }
    waiters_.clear();
  }
  for (auto& f : deferred) f();
  if (reaper_.joinable()) reaper_.join();
}

// ---- events ----

uint64_t Scheduler::Subscribe(const std::string& sweep_id,
                              std::function<void(const SweepEvent&)> fn) {
  {
    absl::MutexLock lock(&mu_);
    ++watched_[sweep_id];
  }
  absl::MutexLock lock(&events_mu_);
  const uint64_t id = next_subscriber_id_++;
  subscribers_[id] = {sweep_id, std::move(fn)};
  return id;
}

void Scheduler::Unsubscribe(uint64_t id) {
  std::string sweep_id;
  {
    absl::MutexLock lock(&events_mu_);
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    sweep_id = it->second.first;
    subscribers_.erase(it);
  }
  absl::MutexLock lock(&mu_);
  auto w = watched_.find(sweep_id);
  if (w != watched_.end() && --w->second <= 0) watched_.erase(w);
}

}  // namespace hypersweep
