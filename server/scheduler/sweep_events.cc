#include "server/scheduler/sweep_events.h"

namespace hypersweep {

SweepEvent TrialEvent(const SweepInfo& sweep, const TrialRecord& trial) {
  SweepEvent e;
  e.sweep = sweep;
  e.has_trial = true;
  e.trial = trial;
  e.trial.spec_json.clear();    // large and unchanged; ListTrials has it
  e.trial.lease_token.clear();  // a worker credential; clients never see it
  return e;
}

uint64_t SweepEventBus::Subscribe(const std::string& sweep_id,
                                  std::function<void(const SweepEvent&)> fn) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  subscribers_[id] = {sweep_id, std::move(fn)};
  return id;
}

std::optional<std::string> SweepEventBus::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return std::nullopt;
  std::string sweep_id = std::move(it->second.first);
  subscribers_.erase(it);
  return sweep_id;
}

void SweepEventBus::Publish(const std::vector<SweepEvent>& events) {
  if (events.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const auto& e : events) {
    for (const auto& [id, sub] : subscribers_) {
      if (sub.first == e.sweep.record.id) sub.second(e);
    }
  }
}

void WatchedSweeps::Remove(const std::string& sweep_id) {
  auto w = count_.find(sweep_id);
  if (w != count_.end() && --w->second <= 0) count_.erase(w);
}

}  // namespace hypersweep
