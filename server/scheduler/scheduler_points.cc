// Points on demand (entities.h, SweepEntry::on_demand): a grid or random sweep without `auto` LR
// makes its trials in batches of kTrialBatch as they are handed out, so that a sweep's cost in
// memory, store and restart time grows with the trials that have run, not with its size. The
// trials not made yet are counted (QUEUED, or CANCELLED once the sweep is) and listed from the
// spec and their index.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/scheduler/scheduler.h"

namespace hypersweep {

void Scheduler::MakeTrials(SweepEntry& s, WriteBatch& batch) {
  if (!s.on_demand || s.rec.cancelled || !s.paused_reason.empty()) return;
  // Queued trials of an on-demand sweep are all in the lease queue (no auto LR holds them).
  while (Unmade(s) > 0 && s.counts.Of(TrialStatus::kQueued) - Unmade(s) == 0) {
    const int64_t begin = s.made;
    const int64_t end = std::min(begin + kTrialBatch, s.rec.trial_count);
    std::vector<absl::StatusOr<ExpandedTrial>> made = ExpandRange(*s.on_demand, begin, end);
    s.made = end;
    SweepPruner* pruner = pruners_.Find(s.rec.id);
    for (int64_t i = begin; i < end; ++i) {
      auto& e = made[static_cast<size_t>(i - begin)];
      TrialRecord rec;
      if (e.ok()) {
        rec = NewTrialRecord(*e, i, TrialRole::kTrain);
      } else {
        // Checked for the first batch at submit; a later point that is not a valid trial fails
        // as a trial would, without reaching a worker.
        rec.index = i;
        rec.attempt = 1;
        rec.status = TrialStatus::kFailed;
        rec.failure_class = FailureClass::kUserError;
        rec.reason = std::string(e.status().message());
        s.counts.by_status[static_cast<int>(TrialStatus::kQueued)]--;
        s.counts.by_status[static_cast<int>(TrialStatus::kFailed)]++;
      }
      rec.id = absl::StrCat(s.rec.id, "-", i);
      rec.sweep_id = s.rec.id;
      TrialEntry& t = trials_[rec.id];
      t.rec = rec;
      t.sweep_seq = s.seq;
      s.trial_ids.push_back(rec.id);
      if (rec.status == TrialStatus::kQueued) {
        queue_.Push(t.position(), rec.id);
        if (pruner != nullptr) pruner->AddTrial(rec);
      }
      batch.insert_trials.push_back(std::move(rec));
    }
  }
}

absl::StatusOr<TrialPage> Scheduler::ListWithUnmade(const TrialQuery& query) {
  // The store's page and the count of made trials must agree: a trial made between the two reads
  // would be listed twice or not at all. Made trials are committed before the page is read
  // (Flush), and the page is read again if more were made meanwhile.
  for (int tries = 0;; ++tries) {
    std::shared_ptr<const SweepSpec> spec;
    int64_t made = 0, count = 0;
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = sweeps_.find(query.sweep_id);
      if (it == sweeps_.end()) {
        return absl::NotFoundError(absl::StrCat("unknown sweep ", query.sweep_id));
      }
      spec = it->second.on_demand;
      made = it->second.made;
      count = it->second.rec.trial_count;
      cancelled = it->second.rec.cancelled;
    }
    if (spec == nullptr || made >= count) return store_->ListTrials(query);
    // (After a failed commit the file is behind memory until recovery: list what it has.)
    Flush().IgnoreError();
    ASSIGN_OR_RETURN(TrialPage page, store_->ListTrials(query));
    {
      absl::MutexLock lock(&mu_);
      if (sweeps_[query.sweep_id].made != made && tries < 3) continue;
    }
    const TrialStatus status = cancelled ? TrialStatus::kCancelled : TrialStatus::kQueued;
    if (!query.statuses.empty() && !query.statuses.count(status)) return page;
    const int64_t unmade = count - made;
    const int64_t limit = std::max<int64_t>(query.limit, 0);
    const int64_t skip = std::max<int64_t>(query.offset - page.total, 0);
    const int64_t want = std::min(limit - static_cast<int64_t>(page.trials.size()), unmade - skip);
    if (want > 0) {
      const int64_t begin = made + skip;
      std::vector<absl::StatusOr<ExpandedTrial>> more = ExpandRange(*spec, begin, begin + want);
      for (int64_t i = 0; i < static_cast<int64_t>(more.size()); ++i) {
        TrialListEntry entry;
        TrialRecord& rec = entry.trial;
        if (more[static_cast<size_t>(i)].ok()) {
          rec = NewTrialRecord(*more[static_cast<size_t>(i)], begin + i, TrialRole::kTrain);
        } else {
          rec.index = begin + i;
          rec.reason = std::string(more[static_cast<size_t>(i)].status().message());
        }
        rec.id = absl::StrCat(query.sweep_id, "-", begin + i);
        rec.sweep_id = query.sweep_id;
        rec.status = status;
        rec.attempt = 0;
        page.trials.push_back(std::move(entry));
      }
    }
    page.total += unmade;
    return page;
  }
}

}  // namespace hypersweep
