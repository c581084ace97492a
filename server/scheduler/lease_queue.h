// The lease queue: which trials can be leased next (in sweep order, then expansion order), which
// are leased now, and the long-polls waiting for work. It holds trial ids and callbacks only; the
// trials themselves and their transitions belong to the Scheduler and trial_state.h.
//
// Not thread-safe; called with Scheduler::mu_ held. It never runs a callback itself: callbacks
// it hands back are run by the Scheduler after it releases its lock.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_LEASE_QUEUE_H_
#define HYPERSWEEP_SERVER_SCHEDULER_LEASE_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/records.h"

namespace hypersweep {

struct AcquireResult {
  bool acquired = false;
  TrialRecord trial;  // with lease_token, attempt, lease_expiry_ms, checkpoint_uri, epochs_reported
  // Trial packing (Acquire's max_trials > 1): further trials of trial's sweep with its packing
  // key, each with its own lease, as `trial`.
  std::vector<TrialRecord> pack;
  bool quarantined = false;
};

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

class LeaseQueue {
 public:
  // Where a queued trial stands: its sweep's submission sequence, its index in the expansion.
  struct Position {
    int64_t sweep_seq = 0;
    int64_t index = 0;
  };
  struct Waiter {
    uint64_t id = 0;
    std::string worker_id;
    int max_trials = 1;  // trial packing: the most trials this poll takes
    int64_t deadline_ms = 0;
    Callback<AcquireResult> done;
  };

  // ---- Leasable trials ----
  // Adding a queued trial twice, or removing one that is not queued, is a no-op.
  void Push(Position pos, const std::string& trial_id);
  void Remove(Position pos, const std::string& trial_id);
  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }  // leasable trials (metrics)
  // The trial to lease next. Requires !empty().
  const std::string& Front() const { return std::get<2>(*queue_.begin()); }
  // Up to `limit` queued trials of the sweep with submission sequence `sweep_seq`, in lease order
  // (trial packing looks there for pack-mates of the trial just leased).
  std::vector<std::string> FirstOfSweep(int64_t sweep_seq, size_t limit) const;

  // ---- Leased trials ----
  void MarkLeased(const std::string& trial_id) { leased_.insert(trial_id); }
  void MarkReleased(const std::string& trial_id) { leased_.erase(trial_id); }
  const std::set<std::string>& leased() const { return leased_; }

  // ---- Long-polls ----
  // Adds a waiter and returns its id (never 0).
  uint64_t AddWaiter(const std::string& worker_id, int64_t deadline_ms, int max_trials,
                     Callback<AcquireResult> done);
  bool HasWaiter() const { return !waiters_.empty(); }
  size_t WaiterCount() const { return waiters_.size(); }
  // The oldest waiter, removed. Requires HasWaiter().
  Waiter PopWaiter();
  // Removes the waiter `id` and returns its callback (empty when it is gone already).
  Callback<AcquireResult> CancelWaiter(uint64_t id);
  // Removes the waiters whose deadline is <= now_ms, appending their callbacks to `timed_out`.
  // Returns the earliest deadline left, or `next_ms` when it is earlier.
  int64_t ExpireWaiters(int64_t now_ms, int64_t next_ms,
                        std::vector<Callback<AcquireResult>>& timed_out);
  // Removes every waiter and returns their callbacks.
  std::vector<Callback<AcquireResult>> TakeAllWaiters();

 private:
  using Key = std::tuple<int64_t, int64_t, std::string>;  // sweep seq, index, trial id
  std::set<Key> queue_;
  std::set<std::string> leased_;
  std::deque<Waiter> waiters_;
  uint64_t next_waiter_id_ = 1;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_LEASE_QUEUE_H_
