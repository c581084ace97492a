// Sweep events: what WatchSweep streams, who subscribed, and which sweeps are watched at all.
//
// Two halves with different locking. SweepEventBus (subscribers, Publish) is thread-safe with its
// own mutex, because the Scheduler publishes from the store's writer thread after a commit.
// WatchedSweeps (is anybody watching sweep X?) is not thread-safe; it is called with
// Scheduler::mu_ held, so that building events under that lock never takes the bus's mutex.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_SWEEP_EVENTS_H_
#define HYPERSWEEP_SERVER_SCHEDULER_SWEEP_EVENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/scheduler/entities.h"
#include "server/store/records.h"

namespace hypersweep {

// What WatchSweep streams: the sweep after a committed change, and the trial that changed.
struct SweepEvent {
  SweepInfo sweep;
  bool has_trial = false;
  TrialRecord trial;
  std::vector<EpochRecord> epochs;  // newly stored epochs of that trial
};

// The event for a change to `trial` of `sweep`, as clients may see it (no spec, no lease token).
SweepEvent TrialEvent(const SweepInfo& sweep, const TrialRecord& trial);

// Thread-safe. Subscriber functions run under the bus's mutex, on the publishing thread: they
// must not block or call back into the bus or the Scheduler.
class SweepEventBus {
 public:
  uint64_t Subscribe(const std::string& sweep_id, std::function<void(const SweepEvent&)> fn);
  // Returns the sweep the subscription was for, or nothing for an unknown id.
  std::optional<std::string> Unsubscribe(uint64_t id);
  // Delivers each event to the subscribers of its sweep, in order.
  void Publish(const std::vector<SweepEvent>& events);

 private:
  absl::Mutex mu_;  // guards subscribers_ and next_id_
  std::map<uint64_t, std::pair<std::string, std::function<void(const SweepEvent&)>>> subscribers_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

// Subscriber counts per sweep, so that events are built only for watched sweeps. An event not
// built is not missed: a watcher that subscribes later reads the current state first.
// Not thread-safe; called with Scheduler::mu_ held.
class WatchedSweeps {
 public:
  void Add(const std::string& sweep_id) { ++count_[sweep_id]; }
  void Remove(const std::string& sweep_id);
  bool IsWatched(const std::string& sweep_id) const { return count_.count(sweep_id) > 0; }

 private:
  std::map<std::string, int> count_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_SWEEP_EVENTS_H_
