// The scheduler's entities in memory: a sweep (record, per-status counts, its trials) and a trial
// (record plus what only memory tracks), and SweepInfo, what callers see of a sweep.
// Plain structs; the Scheduler keeps them under its lock.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_ENTITIES_H_
#define HYPERSWEEP_SERVER_SCHEDULER_ENTITIES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/sweep_spec.h"
#include "server/scheduler/lease_queue.h"
#include "server/scheduler/trial_state.h"
#include "server/store/records.h"

namespace hypersweep {

enum class SweepState { kRunning = 1, kCompleted = 2, kCancelled = 3, kPaused = 4 };

// How many workers could take queued trials (WorkerRegistry::Health).
struct WorkerHealth {
  int32_t registered = 0;
  int32_t quarantined = 0;
  int32_t healthy = 0;        // seen recently (or holding a lease) and not quarantined
  int64_t healthy_slots = 0;  // the healthy workers' slots, together
};

struct SweepInfo {
  SweepRecord record;
  SweepState state = SweepState::kRunning;
  TrialCounts counts;
  std::string paused_reason;  // set when state is kPaused
  WorkerHealth workers;       // filled by the Scheduler's client calls and events
};

struct SweepEntry {
  SweepRecord rec;
  int64_t seq = 0;  // submission order: the queue leases earlier sweeps first
  TrialCounts counts;
  std::vector<std::string> trial_ids;
  AutoLrOptions auto_lr;
  // Early stopping (pruner.h), judged on `objective`; both from the spec.
  PrunerSpec pruner;
  Objective objective;
  // An adaptive (tpe:) sweep's parsed spec, which its planner (scheduler_tpe.cc) proposes the next
  // points from; null for a grid or random sweep.
  std::shared_ptr<const SweepSpec> tpe;
  // Points on demand (scheduler_points.cc): a grid or random sweep without `auto` LR keeps only
  // trials [0, made) in memory and the store; the others exist as its spec and their index
  // (ExpandRange), counted QUEUED (CANCELLED once the sweep is) in `counts`, and are made in
  // batches as the made ones are handed out. Null for sweeps made whole at submit and tpe sweeps.
  std::shared_ptr<const SweepSpec> on_demand;
  int64_t made = 0;
  // Non-empty while paused (PauseReason): its queued trials are kept out of the lease queue. Not
  // stored: recovery derives it again from the trials.
  std::string paused_reason;
};

struct TrialEntry {
  TrialRecord rec;
  int64_t sweep_seq = 0;
  std::vector<bool> have_epoch;  // have_epoch[e]: epoch e is stored (or being stored)
  int64_t epochs = 0;            // the trial spec's epochs; 0 until a report needs it
  bool cancel_requested = false;
  // Trials of tpe sweeps: the objective at the highest epoch that reported it (the planner's
  // value of the trial), and that epoch; -1 while none did.
  std::optional<double> objective;
  int64_t objective_epoch = -1;
  // Trial packing: a hash of the spec's PackingKey (core/packing.h), 0 when the trial cannot be
  // packed; worked out the first time a packing acquire looks at the trial (scheduler_leases.cc).
  // A hash keeps memory flat; a collision only costs the worker a member trained alone
  // (TrainPack trains a member whose key differs after the pack).
  std::optional<uint64_t> pack_hash;
  LeaseQueue::Position position() const { return {sweep_seq, rec.index}; }
};

// The trials of an on-demand sweep not made yet (0 for other sweeps).
inline int64_t Unmade(const SweepEntry& s) { return s.on_demand ? s.rec.trial_count - s.made : 0; }

// The stored form of an expanded trial with index `index` (attempt 1, QUEUED): what SubmitSweep
// writes for every trial and the tpe planner for each proposed point's trials.
TrialRecord NewTrialRecord(const ExpandedTrial& e, int64_t index, TrialRole role);

// CANCELLED once cancelled; PAUSED while paused with a trial queued or leased; RUNNING while any
// trial is queued or leased; else COMPLETED.
SweepInfo InfoOf(const SweepEntry& s);
// InfoOf(s).state without copying the record (metrics read it for every sweep at each scrape).
SweepState StateOf(const SweepEntry& s);

// The pause rule: once kPauseAfterUserErrors trials of a sweep that a worker ran have FAILED as a
// user error with the same reason, and none has succeeded or diverged, the spec is at fault (a
// missing data file, a bad column) and the sweep pauses rather than burn its remaining points.
// Returns why ("2 trials failed with the same user error: <reason>"), or "" when the rule does not
// hold. Trials failed without running (held for auto LR) do not count. After a resume the
// requeued trials run first again: if they fail the same way, the sweep pauses again.
inline constexpr int kPauseAfterUserErrors = 2;
std::string PauseReason(const std::vector<const TrialRecord*>& trials);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_ENTITIES_H_
