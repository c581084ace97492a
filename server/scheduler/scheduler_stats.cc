// Scheduler::Stats: the monitoring snapshot (scheduler_stats.h). One pass over the sweeps' kept
// counts under the lock; the trials themselves are not visited, so a scrape costs the same with a
// million trials as with ten.
#include "server/scheduler/scheduler.h"

namespace hypersweep {

SchedulerStats Scheduler::Stats() {
  SchedulerStats stats;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, s] : sweeps_) {
    for (size_t i = 0; i < s.counts.by_status.size(); ++i) {
      stats.trials.by_status[i] += s.counts.by_status[i];
    }
    stats.trials.total += s.counts.total;
    const auto state = static_cast<size_t>(StateOf(s));
    if (state < stats.sweeps_by_state.size()) stats.sweeps_by_state[state]++;
    // An on-demand sweep's trials not made yet are leasable too (made as they are handed out).
    if (!s.rec.cancelled && s.paused_reason.empty()) stats.leasable += Unmade(s);
  }
  stats.leasable += static_cast<int64_t>(queue_.size());
  stats.leased = static_cast<int64_t>(queue_.leased().size());
  stats.waiting_acquires = static_cast<int64_t>(queue_.WaiterCount());
  stats.workers = Health();
  return stats;
}

}  // namespace hypersweep
