// Domain records the coordinator stores: sweeps, trials, per-epoch metrics, LR range-test curves
// and workers. Plain structs, no gRPC; server/service converts them to and from the proto.
#ifndef HYPERSWEEP_SERVER_STORE_RECORDS_H_
#define HYPERSWEEP_SERVER_STORE_RECORDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/metrics.h"

namespace hypersweep {

// Values match hypersweep.v1.TrialStatus.
enum class TrialStatus {
  kQueued = 1,
  kLeased = 2,
  kSucceeded = 3,
  kDiverged = 4,
  kFailed = 5,
  kCancelled = 6,
  kPruned = 7,
};
// The statuses a trial ends in and never leaves (DESIGN.md, "Trial lifecycle"). The one definition
// of "final": IsFinal() and FinalStatusesSql() are both derived from this list.
inline constexpr TrialStatus kFinalStatuses[] = {TrialStatus::kSucceeded, TrialStatus::kDiverged,
                                                 TrialStatus::kFailed, TrialStatus::kCancelled,
                                                 TrialStatus::kPruned};
// True when `s` is in kFinalStatuses.
constexpr bool IsFinal(TrialStatus s) {
  for (TrialStatus f : kFinalStatuses) {
    if (f == s) return true;
  }
  return false;
}
// kFinalStatuses as a SQL list of the stored status codes, "(3, 4, 5, 6, 7)": `status IN <this>`
// is IsFinal(status) for a column that stores static_cast<int>(TrialStatus).
inline std::string FinalStatusesSql() {
  std::string list;
  for (TrialStatus f : kFinalStatuses) {
    list += (list.empty() ? "(" : ", ") + std::to_string(static_cast<int>(f));
  }
  return list + ")";
}
const char* TrialStatusName(TrialStatus s);

// Values match hypersweep.v1.FailureClass.
enum class FailureClass {
  kNone = 0,
  kUserError = 1,
  kTransient = 2,
  kPreempted = 3,
  kOutOfMemory = 4,
};

// What a trial is for; set when the trial is created, never changed. Stored as the trials.role
// column: append values, never renumber.
enum class TrialRole {
  kTrain = 0,  // a point of the sweep's search space
  // An LR range test the coordinator added for a `max_lr: auto` group: its curve's suggestion
  // resolves max_lr of the trials that wait for it.
  kLrRangeTest = 1,
};

struct SweepRecord {
  std::string id;
  std::string name;
  std::string spec_text;  // as submitted
  std::string objective_metric = "val_loss";
  bool maximize = false;
  int64_t created_ms = 0;  // unix ms
  int32_t max_attempts = 3;
  bool cancelled = false;
  int64_t trial_count = 0;
};

using TrialParams = std::vector<std::pair<std::string, std::string>>;

// A trial field: a member of TrialRecord and an entry of kTrialFields below.
struct TrialRecord {
  // Set once, when the sweep is submitted.
  std::string id;
  std::string sweep_id;
  int64_t index = 0;      // position in the sweep's expansion
  std::string spec_json;  // canonical JSON of core TrialSpec
  TrialParams params;     // swept values, for display
  int64_t batch_size = 0;
  std::string schedule;
  int64_t fold = 0;
  uint64_t seed = 0;
  TrialRole role = TrialRole::kTrain;
  // Mutable state (TrialUpdate writes these).
  TrialStatus status = TrialStatus::kQueued;
  int32_t attempt = 0;        // lease generation: +1 on every lease; the fence with lease_token
  int32_t attempts_used = 0;  // attempts that count against max_attempts (not preemptions)
  std::string lease_token;
  int64_t lease_expiry_ms = 0;  // unix ms; meaningful while LEASED
  std::string worker_id;
  FailureClass failure_class = FailureClass::kNone;
  std::string reason;
  std::string checkpoint_uri;
  int64_t epochs_reported = 0;  // distinct epochs stored
  // Auto LR: the max/min ratio of the LRs of the range tests that gave this trial its LR (set when
  // it is resolved; none for trials without an auto LR).
  std::optional<double> lr_spread;
};

// One stored field of a TrialRecord. kTrialFields lists them all; everything that stores, copies or
// sends trial fields one by one is derived from it: the SQLite store's columns, reads, inserts and
// updates and the migration that adds a new column (server/store/sqlite_store.cc,
// sqlite_schema.cc), the in-memory store and MutableFieldsOf (server/store/trial_fields.h), and the
// v1::Trial conversion, which matches fields by proto name (server/service/convert.cc).
//
// Adding a trial field: its member in TrialRecord, its entry at the end of kTrialFields (with the
// next schema version, which kSchemaVersion must then reach), and, if clients see it, the v1::Trial
// field of that name (proto/) and a column in client/trial_row.cc.
struct TrialField {
  // When the stored row gets this field's value.
  enum class Write {
    kInsert,   // only when the trial is created
    kResolve,  // also when the sweep's `auto` LR is resolved (WriteBatch::resolve_trials)
    kUpdate,   // also on every state change (WriteBatch::update_trials)
  };
  using Member =
      std::variant<std::string TrialRecord::*, int64_t TrialRecord::*, int32_t TrialRecord::*,
                   uint64_t TrialRecord::*, std::optional<double> TrialRecord::*,
                   TrialStatus TrialRecord::*, FailureClass TrialRecord::*,
                   TrialRole TrialRecord::*, TrialParams TrialRecord::*>;
  const char* column;  // in the trials table
  const char* proto;   // the v1::Trial field it is sent as; nullptr: never sent to clients
  Member member;
  Write write;
  int schema_version;  // the version that added the column (1: the original table)
};

inline constexpr TrialField kTrialFields[] = {
    {"id", "id", &TrialRecord::id, TrialField::Write::kInsert, 1},
    {"sweep_id", "sweep_id", &TrialRecord::sweep_id, TrialField::Write::kInsert, 1},
    {"idx", "index", &TrialRecord::index, TrialField::Write::kInsert, 1},
    {"spec_json", "spec_json", &TrialRecord::spec_json, TrialField::Write::kResolve, 1},
    {"params_json", "params", &TrialRecord::params, TrialField::Write::kResolve, 1},
    {"batch_size", "batch_size", &TrialRecord::batch_size, TrialField::Write::kInsert, 1},
    {"schedule", "schedule", &TrialRecord::schedule, TrialField::Write::kInsert, 1},
    {"fold", "fold", &TrialRecord::fold, TrialField::Write::kInsert, 1},
    {"seed", "seed", &TrialRecord::seed, TrialField::Write::kInsert, 1},
    {"status", "status", &TrialRecord::status, TrialField::Write::kUpdate, 1},
    {"attempt", "attempt", &TrialRecord::attempt, TrialField::Write::kUpdate, 1},
    {"attempts_used", nullptr, &TrialRecord::attempts_used, TrialField::Write::kUpdate, 1},
    // The lease token is the worker's credential for the trial: never sent to clients.
    {"lease_token", nullptr, &TrialRecord::lease_token, TrialField::Write::kUpdate, 1},
    // Sent only while the trial is leased (ToProto clears it otherwise).
    {"lease_expiry_ms", "lease_expiry_unix_ms", &TrialRecord::lease_expiry_ms,
     TrialField::Write::kUpdate, 1},
    {"worker_id", "worker_id", &TrialRecord::worker_id, TrialField::Write::kUpdate, 1},
    {"failure_class", "failure_class", &TrialRecord::failure_class, TrialField::Write::kUpdate, 1},
    {"reason", "reason", &TrialRecord::reason, TrialField::Write::kUpdate, 1},
    {"checkpoint_uri", "checkpoint_uri", &TrialRecord::checkpoint_uri, TrialField::Write::kUpdate,
     1},
    {"epochs_reported", "epochs_reported", &TrialRecord::epochs_reported,
     TrialField::Write::kUpdate, 1},
    {"role", "role", &TrialRecord::role, TrialField::Write::kInsert, 3},
    {"lr_spread", "lr_spread", &TrialRecord::lr_spread, TrialField::Write::kResolve, 4},
};
inline constexpr int kTrialFieldCount = sizeof(kTrialFields) / sizeof(kTrialFields[0]);

// One epoch of one trial: the name -> value map every process uses (core/metrics.h).
using EpochRecord = metrics::EpochMetrics;

struct LrPoint {
  int64_t step = 0;
  double lr = 0;
  double loss = 0;
  double smoothed_loss = 0;
  // The step's loss was not finite (the test diverged here); loss and smoothed_loss carry no value.
  bool diverged = false;
};

struct LrCurveRecord {
  std::vector<LrPoint> points;
  std::optional<double> suggested_lr;
};

struct WorkerRecord {
  std::string id;
  std::string host;
  std::string device;
  int64_t memory_bytes = 0;
  std::string libtorch_version;
  int32_t slots = 1;
  int64_t registered_ms = 0;
  int64_t last_seen_ms = 0;  // kept current in memory; stored when the record is written
  int32_t consecutive_failures = 0;
  bool quarantined = false;
  int32_t max_consecutive_failures = 0;  // the worker's quarantine threshold; 0: the default
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_RECORDS_H_
