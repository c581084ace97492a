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
  // Every worker in id order, with the number of leases each holds (`active` by worker id).
  std::vector<WorkerInfo> List(const std::map<std::string, int64_t>& active) const;

 private:
  std::map<std::string, WorkerRecord> workers_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_WORKER_REGISTRY_H_
