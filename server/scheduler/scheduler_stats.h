// What the Scheduler reports for monitoring (Scheduler::Stats, read by server/metrics at scrape
// time): trial and sweep counts, the queue, leases, long-polls and worker health.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_STATS_H_
#define HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_STATS_H_

#include <array>
#include <cstdint>

#include "server/scheduler/entities.h"
#include "server/scheduler/trial_state.h"

namespace hypersweep {

struct SchedulerStats {
  TrialCounts trials;                        // over all sweeps, by TrialStatus
  std::array<int64_t, 5> sweeps_by_state{};  // indexed by SweepState (1..4)
  int64_t leasable = 0;          // QUEUED trials in the lease queue (not held, not paused)
  int64_t leased = 0;            // trials under a lease
  int64_t waiting_acquires = 0;  // parked AcquireTrial long-polls
  WorkerHealth workers;          // registered, quarantined, healthy
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_SCHEDULER_STATS_H_
