#include "server/scheduler/worker_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace hypersweep {

void WorkerRegistry::Restore(WorkerRecord rec) {
  std::string id = rec.id;
  workers_[id] = std::move(rec);
}

WorkerRecord WorkerRegistry::Register(const WorkerRecord& worker, int64_t now_ms,
                                      std::mt19937_64& random) {
  std::string id = worker.id;
  if (id.empty()) {
    do {
      id = absl::StrFormat("w-%08x", static_cast<uint32_t>(random()));
    } while (workers_.count(id));
  }
  auto [it, inserted] = workers_.try_emplace(id);
  WorkerRecord& rec = it->second;
  const WorkerRecord old = rec;
  rec = worker;
  rec.id = id;
  rec.registered_ms = inserted ? now_ms : old.registered_ms;
  rec.consecutive_failures = inserted ? 0 : old.consecutive_failures;
  rec.quarantined = inserted ? false : old.quarantined;
  rec.last_seen_ms = now_ms;
  if (rec.slots < 1) rec.slots = 1;
  return rec;
}

WorkerRecord* WorkerRegistry::Find(const std::string& worker_id) {
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? nullptr : &it->second;
}

bool WorkerRegistry::IsQuarantined(const std::string& worker_id) const {
  auto it = workers_.find(worker_id);
  return it != workers_.end() && it->second.quarantined;
}

void WorkerRegistry::Touch(const std::string& worker_id, int64_t now_ms) {
  if (WorkerRecord* w = Find(worker_id)) w->last_seen_ms = now_ms;
}

std::optional<WorkerRecord> WorkerRegistry::RecordOutcome(const std::string& worker_id,
                                                          WorkerOutcome outcome,
                                                          int32_t default_threshold,
                                                          int64_t now_ms) {
  WorkerRecord* w = Find(worker_id);
  if (w == nullptr || !ApplyWorkerOutcome(*w, outcome, default_threshold)) return std::nullopt;
  w->last_seen_ms = now_ms;
  return *w;
}

std::optional<WorkerRecord> WorkerRegistry::ClearQuarantine(const std::string& worker_id) {
  WorkerRecord* w = Find(worker_id);
  if (w == nullptr) return std::nullopt;
  w->consecutive_failures = 0;
  w->quarantined = false;
  return *w;
}

WorkerHealth WorkerRegistry::Health(int64_t now_ms, int64_t seen_window_ms,
                                    const std::map<std::string, int64_t>& active) const {
  WorkerHealth h;
  for (const auto& [id, rec] : workers_) {
    ++h.registered;
    if (rec.quarantined) {
      ++h.quarantined;
    } else if (active.count(id) || rec.last_seen_ms >= now_ms - seen_window_ms) {
      ++h.healthy;
      h.healthy_slots += std::max(1, rec.slots);
    }
  }
  return h;
}

std::vector<std::string> WorkerRegistry::Expire(int64_t cutoff_ms,
                                                const std::map<std::string, int64_t>& active) {
  std::vector<std::string> gone;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->second.last_seen_ms < cutoff_ms && !active.count(it->first)) {
      gone.push_back(it->first);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

std::vector<WorkerInfo> WorkerRegistry::List(const std::map<std::string, int64_t>& active) const {
  std::vector<WorkerInfo> out;
  for (const auto& [id, rec] : workers_) {
    auto a = active.find(id);
    out.push_back(WorkerInfo{rec, a == active.end() ? 0 : a->second});
  }
  return out;
}

}  // namespace hypersweep
