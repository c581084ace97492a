#include "server/scheduler/lease_queue.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace hypersweep {

void LeaseQueue::Push(Position pos, const std::string& trial_id) {
  queue_.emplace(pos.sweep_seq, pos.index, trial_id);
}

void LeaseQueue::Remove(Position pos, const std::string& trial_id) {
  queue_.erase(Key(pos.sweep_seq, pos.index, trial_id));
}

std::vector<std::string> LeaseQueue::FirstOfSweep(int64_t sweep_seq, size_t limit) const {
  std::vector<std::string> ids;
  for (auto it = queue_.lower_bound(Key(sweep_seq, INT64_MIN, std::string()));
       it != queue_.end() && std::get<0>(*it) == sweep_seq && ids.size() < limit; ++it) {
    ids.push_back(std::get<2>(*it));
  }
  return ids;
}

uint64_t LeaseQueue::AddWaiter(const std::string& worker_id, int64_t deadline_ms, int max_trials,
                               Callback<AcquireResult> done) {
  const uint64_t id = next_waiter_id_++;
  waiters_.push_back(Waiter{id, worker_id, max_trials, deadline_ms, std::move(done)});
  return id;
}

LeaseQueue::Waiter LeaseQueue::PopWaiter() {
  Waiter w = std::move(waiters_.front());
  waiters_.pop_front();
  return w;
}

Callback<AcquireResult> LeaseQueue::CancelWaiter(uint64_t id) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->id == id) {
      Callback<AcquireResult> done = std::move(it->done);
      waiters_.erase(it);
      return done;
    }
  }
  return nullptr;
}

int64_t LeaseQueue::ExpireWaiters(int64_t now_ms, int64_t next_ms,
                                  std::vector<Callback<AcquireResult>>& timed_out) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->deadline_ms <= now_ms) {
      timed_out.push_back(std::move(it->done));
      it = waiters_.erase(it);
    } else {
      next_ms = std::min(next_ms, it->deadline_ms);
      ++it;
    }
  }
  return next_ms;
}

std::vector<Callback<AcquireResult>> LeaseQueue::TakeAllWaiters() {
  std::vector<Callback<AcquireResult>> out;
  for (auto& w : waiters_) out.push_back(std::move(w.done));
  waiters_.clear();
  return out;
}

}  // namespace hypersweep
