#include "server/scheduler/recovery.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "core/sweep_spec.h"
#include "server/scheduler/auto_lr_planner.h"

namespace hypersweep {

RecoveredState Recover(StoreState state, int64_t now_ms, int64_t lease_ttl_ms) {
  RecoveredState out;
  std::map<std::string, size_t> sweep_at;  // sweep id -> index in out.sweeps
  // Grid and random sweeps without auto LR: on demand when fewer trials are stored than it has.
  std::vector<std::shared_ptr<const SweepSpec>> plain(state.sweeps.size());
  for (auto& rec : state.sweeps) {
    SweepEntry s;
    s.seq = static_cast<int64_t>(out.sweeps.size()) + 1;
    s.rec = std::move(rec);
    if (auto spec = ParseSweepSpec(s.rec.spec_text); spec.ok()) {
      s.auto_lr = spec->auto_lr;
      s.pruner = spec->pruner;
      s.objective = spec->objective;
      if (IsTpe(*spec)) {
        s.tpe = std::make_shared<const SweepSpec>(*std::move(spec));
      } else if (!HasAutoLr(*spec)) {
        plain[out.sweeps.size()] = std::make_shared<const SweepSpec>(*std::move(spec));
      }
    }
    sweep_at[s.rec.id] = out.sweeps.size();
    out.sweeps.push_back(std::move(s));
  }
  std::map<std::string, std::vector<std::string>> held =
      AutoLrPlanner::HeldAfterRestart(state.trials);
  for (auto& rec : state.trials) {
    auto sit = sweep_at.find(rec.sweep_id);
    if (sit == sweep_at.end()) continue;
    SweepEntry& s = out.sweeps[sit->second];
    TrialEntry t;
    t.sweep_seq = s.seq;
    t.rec = std::move(rec);
    s.trial_ids.push_back(t.rec.id);
    s.counts.by_status[static_cast<int>(t.rec.status)]++;
    s.counts.total++;
    auto ep = state.epoch_numbers.find(t.rec.id);
    // The stored count of a trial that is not final is not kept current (reports do not rewrite
    // the trial row): the stored epochs are the truth.
    if (!IsFinal(t.rec.status)) {
      t.rec.epochs_reported =
          ep == state.epoch_numbers.end() ? 0 : static_cast<int64_t>(ep->second.size());
    }
    if (ep != state.epoch_numbers.end()) {
      for (int64_t e : ep->second) {
        if (e < 0 || e >= kMaxEpochs) continue;
        if (static_cast<size_t>(e) >= t.have_epoch.size()) t.have_epoch.resize(e + 1);
        t.have_epoch[e] = true;
      }
    }
    if (auto h = held.find(t.rec.id); h != held.end()) out.held.insert(*h);
    if (t.rec.status == TrialStatus::kLeased) {
      // Heartbeats are not stored: give every lease a full TTL from now.
      t.rec.lease_expiry_ms = std::max(t.rec.lease_expiry_ms, now_ms + lease_ttl_ms);
      t.cancel_requested = s.rec.cancelled;
    }
    out.trials.push_back(std::move(t));
  }
  for (size_t i = 0; i < out.sweeps.size(); ++i) {
    SweepEntry& s = out.sweeps[i];
    const auto made = static_cast<int64_t>(s.trial_ids.size());
    if (!plain[i] || made >= s.rec.trial_count) continue;
    s.on_demand = std::move(plain[i]);
    s.made = made;
    const int64_t unmade = Unmade(s);
    s.counts.total += unmade;
    s.counts.by_status[static_cast<int>(s.rec.cancelled ? TrialStatus::kCancelled
                                                        : TrialStatus::kQueued)] += unmade;
  }
  out.workers = std::move(state.workers);
  return out;
}

}  // namespace hypersweep
