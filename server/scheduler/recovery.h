// Restart recovery: rebuilds the scheduler's entities from what the Store loaded. Pure: no lock,
// no store calls; the Scheduler installs the result (queue, leases, held trials, workers) and
// then releases the trials of range tests that ended before the restart.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_RECOVERY_H_
#define HYPERSWEEP_SERVER_SCHEDULER_RECOVERY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/scheduler/entities.h"
#include "server/store/store.h"

namespace hypersweep {

struct RecoveredState {
  std::vector<SweepEntry> sweeps;  // in creation order, seq 1, 2, ...; with counts and trial ids
  std::vector<TrialEntry> trials;  // of those sweeps, in store order (trials of others dropped)
  // QUEUED auto-LR trials still waiting for their range tests: trial id -> range-test ids.
  std::map<std::string, std::vector<std::string>> held;
  std::vector<WorkerRecord> workers;
};

// From `state` as of now_ms: a trial that is not final counts the epochs actually stored (reports
// do not rewrite its row); every lease gets a full `lease_ttl_ms` from now (heartbeats are not
// stored), and a leased trial of a cancelled sweep is told to stop.
RecoveredState Recover(StoreState state, int64_t now_ms, int64_t lease_ttl_ms);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_RECOVERY_H_
