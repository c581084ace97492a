// The scheduler's entities in memory: a sweep (record, per-status counts, its trials) and a trial
// (record plus what only memory tracks), and SweepInfo, what callers see of a sweep.
// Plain structs; the Scheduler keeps them under its lock.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_ENTITIES_H_
#define HYPERSWEEP_SERVER_SCHEDULER_ENTITIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/sweep_spec.h"
#include "server/scheduler/lease_queue.h"
#include "server/scheduler/trial_state.h"
#include "server/store/records.h"

namespace hypersweep {

enum class SweepState { kRunning = 1, kCompleted = 2, kCancelled = 3 };

struct SweepInfo {
  SweepRecord record;
  SweepState state = SweepState::kRunning;
  TrialCounts counts;
};

struct SweepEntry {
  SweepRecord rec;
  int64_t seq = 0;  // submission order: the queue leases earlier sweeps first
  TrialCounts counts;
  std::vector<std::string> trial_ids;
  AutoLrOptions auto_lr;
};

struct TrialEntry {
  TrialRecord rec;
  int64_t sweep_seq = 0;
  std::vector<bool> have_epoch;  // have_epoch[e]: epoch e is stored (or being stored)
  int64_t epochs = 0;            // the trial spec's epochs; 0 until a report needs it
  bool cancel_requested = false;
  LeaseQueue::Position position() const { return {sweep_seq, rec.index}; }
};

// RUNNING while any trial is queued or leased, CANCELLED once cancelled, else COMPLETED.
SweepInfo InfoOf(const SweepEntry& s);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_ENTITIES_H_
