#include "server/store/in_memory_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace hypersweep {

absl::StatusOr<std::unique_ptr<Store>> InMemoryStore::Open(const StoreOptions& options) {
  auto store = std::unique_ptr<InMemoryStore>(new InMemoryStore(options));
  store->StartWriter();
  return std::unique_ptr<Store>(std::move(store));
}

InMemoryStore::InMemoryStore(const StoreOptions& options) : GroupCommitStore(options.max_group) {}

InMemoryStore::~InMemoryStore() { Close(); }

absl::Status InMemoryStore::CommitGroup(const std::vector<WriteBatch*>& batches,
                                        std::vector<absl::Status>* results) {
  absl::MutexLock lock(&data_mu_);
  for (size_t i = 0; i < batches.size(); ++i) (*results)[i] = Apply(*batches[i]);
  return absl::OkStatus();
}

absl::Status InMemoryStore::Apply(const WriteBatch& b) {
  // Check first so that a bad batch changes nothing (the SQLite store rolls back to a savepoint).
  for (const auto& t : b.insert_trials) {
    if (trials_.count(t.id)) return absl::AlreadyExistsError(absl::StrCat("trial ", t.id));
  }
  for (const auto& r : b.resolve_trials) {
    if (!trials_.count(r.id)) return absl::NotFoundError(absl::StrCat("trial ", r.id));
  }
  for (const auto& t : b.update_trials) {
    bool inserted_here = false;
    for (const auto& n : b.insert_trials) inserted_here |= n.id == t.id;
    if (!inserted_here && !trials_.count(t.id)) {
      return absl::NotFoundError(absl::StrCat("trial ", t.id));
    }
  }
  for (const auto& s : b.put_sweeps) {
    if (!sweeps_.count(s.id)) sweep_order_.push_back(s.id);
    sweeps_[s.id] = s;
  }
  for (const auto& t : b.insert_trials) {
    trials_[t.id] = t;
    sweep_trials_[t.sweep_id].push_back(t.id);
  }
  for (const auto& r : b.resolve_trials) {
    CopyTrialFields(r, TrialField::Write::kResolve, &trials_[r.id]);
  }
  for (const auto& u : b.update_trials) {
    CopyTrialFields(u, TrialField::Write::kUpdate, &trials_[u.id]);
  }
  for (const auto& e : b.add_epochs) {
    auto& m = epochs_[e.trial_id];
    for (const auto& r : e.epochs) m.emplace(r.epoch, r);  // first report wins
  }
  for (const auto& [id, c] : b.put_lr_curves) lr_curves_[id] = c;
  for (const auto& w : b.put_workers) workers_[w.id] = w;
  for (const auto& id : b.delete_workers) workers_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<StoreState> InMemoryStore::LoadState() {
  absl::MutexLock lock(&data_mu_);
  StoreState st;
  for (const auto& id : sweep_order_) {
    st.sweeps.push_back(sweeps_[id]);
    for (const auto& tid : sweep_trials_[id]) st.trials.push_back(trials_[tid]);
  }
  for (const auto& [id, w] : workers_) st.workers.push_back(w);
  for (const auto& [id, m] : epochs_) {
    auto& v = st.epoch_numbers[id];
    for (const auto& [e, r] : m) v.push_back(e);
  }
  return st;
}

absl::StatusOr<TrialPage> InMemoryStore::ListTrials(const TrialQuery& q) {
  absl::MutexLock lock(&data_mu_);
  TrialPage page;
  auto it = sweep_trials_.find(q.sweep_id);
  if (it == sweep_trials_.end()) return page;
  std::vector<TrialListEntry> all;
  for (const auto& tid : it->second) {
    const TrialRecord& t = trials_[tid];
    if (!q.statuses.empty() && !q.statuses.count(t.status)) continue;
    TrialListEntry e;
    e.trial = t;
    const auto ep = epochs_.find(tid);
    if (!IsFinal(t.status)) {  // as SqliteStore: a running trial's count is its stored epochs
      e.trial.epochs_reported = ep == epochs_.end() ? 0 : static_cast<int64_t>(ep->second.size());
    }
    if (!q.sort_metric.empty()) {
      if (ep != epochs_.end()) {
        for (const auto& [n, r] : ep->second) {
          auto m = r.values.find(q.sort_metric);
          if (m == r.values.end()) continue;
          const double v = m->second;
          if (!e.best_value || (q.maximize ? v > *e.best_value : v < *e.best_value)) {
            e.best_value = v;
          }
          e.final_value = v;  // epochs iterate in order: the last one wins
        }
      }
    }
    all.push_back(std::move(e));
  }
  if (!q.sort_metric.empty() && !q.order_by_index) {
    std::stable_sort(all.begin(), all.end(), [&](const TrialListEntry& a, const TrialListEntry& b) {
      const auto& va = q.sort_by_final ? a.final_value : a.best_value;
      const auto& vb = q.sort_by_final ? b.final_value : b.best_value;
      if (va.has_value() != vb.has_value()) return va.has_value();  // no value: last
      if (!va.has_value() || *va == *vb) return a.trial.index < b.trial.index;
      return q.maximize ? *va > *vb : *va < *vb;
    });
  }
  page.total = static_cast<int64_t>(all.size());
  for (int64_t i = q.offset; i < page.total && i < q.offset + q.limit; ++i) {
    page.trials.push_back(std::move(all[i]));
  }
  return page;
}

absl::StatusOr<std::vector<EpochRecord>> InMemoryStore::GetEpochs(
    const std::string& trial_id, const std::set<std::string>& metrics) {
  absl::MutexLock lock(&data_mu_);
  std::vector<EpochRecord> out;
  auto it = epochs_.find(trial_id);
  if (it == epochs_.end()) return out;
  for (const auto& [n, r] : it->second) {
    EpochRecord e{r.epoch, {}};
    for (const auto& [k, v] : r.values) {
      if (metrics.empty() || metrics.count(k)) e.values[k] = v;
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<LrCurveRecord> InMemoryStore::GetLrCurve(const std::string& trial_id) {
  absl::MutexLock lock(&data_mu_);
  auto it = lr_curves_.find(trial_id);
  if (it == lr_curves_.end())
    return absl::NotFoundError(absl::StrCat("no LR curve for ", trial_id));
  return it->second;
}

}  // namespace hypersweep
