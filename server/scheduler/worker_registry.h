// The worker registry: registered workers, their consecutive-failure counts and quarantine.
// The rule that counts failures is trial_state.h's ApplyWorkerOutcome; this keeps the records.
//
// Not thread-safe; called with Scheduler::mu_ held.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_WORKER_REGISTRY_H_
#define HYPERSWEEP_SERVER_SCHEDULER_WORKER_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/scheduler/entities.h"
#include "server/scheduler/trial_state.h"
#include "server/store/records.h"

namespace hypersweep {

struct WorkerInfo {
  WorkerRecord record;
  int64_t active_leases = 0;
};

class WorkerRegistry {
 public:
  // Restores a stored worker as it was (restart recovery).
  void Restore(WorkerRecord rec);
  // Registers `worker` as of now_ms and returns the record to store. An empty id gets a new one
  // ("w-" and 8 hex digits from `random`); a known id keeps its registration time, failure count
  // and quarantine. Slots are at least 1.
  WorkerRecord Register(const WorkerRecord& worker, int64_t now_ms, std::mt19937_64& random);
  // nullptr for an unknown worker. The pointer is valid until the next Register.
  WorkerRecord* Find(const std::string& worker_id);
  bool IsQuarantined(const std::string& worker_id) const;
  // Notes a call from the worker (a no-op for an unknown worker).
  void Touch(const std::string& worker_id, int64_t now_ms);
  // Judges the worker that ran a trial (ApplyWorkerOutcome with `default_threshold`). Returns the
  // record to store, or nothing when the worker is unknown or the outcome changes nothing.
  std::optional<WorkerRecord> RecordOutcome(const std::string& worker_id, WorkerOutcome outcome,
                                            int32_t default_threshold, int64_t now_ms);
  // An operator's clear: the failure count back to 0 and the quarantine lifted. Returns the record
  // to store, or nothing for an unknown worker.
  std::optional<WorkerRecord> ClearQuarantine(const std::string& worker_id);
  // Counts the workers: healthy ones are not quarantined and either hold a lease (`active`) or
  // were seen within `seen_window_ms` of `now_ms`.
  WorkerHealth Health(int64_t now_ms, int64_t seen_window_ms,
                      const std::map<std::string, int64_t>& active) const;
  // Removes the workers last seen before `cutoff_ms` that hold no lease (`active`) and returns
  // their ids (to delete from the store).
  std::vector<std::string> Expire(int64_t cutoff_ms, const std::map<std::string, int64_t>& active);
  // Every worker in id order, with the number of leases each holds (`active` by worker id).
  std::vector<WorkerInfo> List(const std::map<std::string, int64_t>& active) const;

 private:
  std::map<std::string, WorkerRecord> workers_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_WORKER_REGISTRY_H_
