// The coordinator's persistent state behind one interface (LevelDB's DB / DB::Open): SqliteStore
// for production, InMemoryStore for tests and --db :memory:. Both pass one conformance suite
// (tests/server/store_conformance_test.cc).
//
// Writes come as WriteBatches that apply atomically, in the order WriteAsync was called, and are
// group-committed: one writer applies every batch queued meanwhile in a single transaction and
// calls each batch's callback only after that transaction is durable. A caller must acknowledge
// its client only from that callback.
#ifndef HYPERSWEEP_SERVER_STORE_STORE_H_
#define HYPERSWEEP_SERVER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/records.h"
#include "server/store/trial_fields.h"

namespace hypersweep {

struct EpochsWrite {
  std::string trial_id;
  std::string sweep_id;
  std::vector<EpochRecord> epochs;  // an epoch already stored for the trial is ignored
};

struct WriteBatch {
  std::vector<SweepRecord> put_sweeps;     // insert or replace
  std::vector<TrialRecord> insert_trials;  // new trials (every field)
  std::vector<TrialRecord> update_trials;  // existing trials: the mutable fields only
  // Existing trials whose `auto` LR was resolved: spec_json and params only. Applied before
  // update_trials.
  std::vector<TrialRecord> resolve_trials;
  std::vector<EpochsWrite> add_epochs;
  std::vector<std::pair<std::string, LrCurveRecord>> put_lr_curves;  // by trial id, replace
  std::vector<WorkerRecord> put_workers;                             // insert or replace
  std::vector<std::string> delete_workers;  // by id, after put_workers; unknown ids are ignored
  // Changes nothing but makes the SqliteStore write a page (a no-op UPDATE), so the commit fails
  // where a real one would (a full disk): the scheduler's probe before it recovers from a failed
  // commit. The InMemoryStore ignores it.
  bool probe = false;
  bool empty() const {
    return put_sweeps.empty() && insert_trials.empty() && update_trials.empty() &&
           resolve_trials.empty() && add_epochs.empty() && put_lr_curves.empty() &&
           put_workers.empty() && delete_workers.empty() && !probe;
  }
};

// Everything the scheduler rebuilds its state from at start-up.
struct StoreState {
  std::vector<SweepRecord> sweeps;  // in creation order
  std::vector<TrialRecord> trials;  // by sweep creation order, then index
  std::vector<WorkerRecord> workers;
  // For each trial with stored epochs: the epoch numbers (idempotent reports after restart).
  std::map<std::string, std::vector<int64_t>> epoch_numbers;
};

struct TrialQuery {
  std::string sweep_id;
  std::set<TrialStatus> statuses;  // empty: all
  std::string sort_metric;         // empty: by index
  bool sort_by_final = false;      // false: the best value over epochs
  bool order_by_index = false;     // report sort_metric's values but keep index order
  bool maximize = false;           // best = max, and sort descending
  int64_t offset = 0;
  int64_t limit = 100;
};

struct TrialListEntry {
  TrialRecord trial;
  std::optional<double> best_value;   // of sort_metric (min or max by `maximize`)
  std::optional<double> final_value;  // of sort_metric at the last reported epoch
};

struct TrialPage {
  std::vector<TrialListEntry> trials;
  int64_t total = 0;  // matching trials, all pages
};

struct StoreOptions {
  // SQLite file; ":memory:" selects the InMemoryStore.
  std::string path;
  // fsync every commit (synchronous=FULL). false: synchronous=NORMAL, which survives a process
  // crash (kill -9) but not a power loss.
  bool sync = true;  // true
  // Most batches in one transaction.
  int max_group = 1024;  // 1024
};

class Store {
 public:
  // A SqliteStore on options.path, or an InMemoryStore when it is ":memory:".
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);

  virtual ~Store() = default;

  // Queues `batch`; `done` runs (on the writer thread, so it must not block) once the batch is
  // committed, or with the error that kept it out. Batches are applied in call order. Thread-safe.
  virtual void WriteAsync(WriteBatch batch, std::function<void(absl::Status)> done) = 0;
  // WriteAsync and wait.
  absl::Status Write(WriteBatch batch);

  // Reads see committed writes only. Thread-safe.
  virtual absl::StatusOr<StoreState> LoadState() = 0;
  virtual absl::StatusOr<TrialPage> ListTrials(const TrialQuery& query) = 0;
  // Epochs of one trial in epoch order, with only the named metrics (all when empty). A trial
  // with none gives an empty vector.
  virtual absl::StatusOr<std::vector<EpochRecord>> GetEpochs(
      const std::string& trial_id, const std::set<std::string>& metrics) = 0;
  // NOT_FOUND when the trial has no curve.
  virtual absl::StatusOr<LrCurveRecord> GetLrCurve(const std::string& trial_id) = 0;

  // Waits for queued writes and stops the writer; later writes fail with UNAVAILABLE.
  virtual void Close() = 0;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_STORE_H_
