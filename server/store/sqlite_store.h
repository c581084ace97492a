// Store on one SQLite file in WAL mode. The coordinator is the only writer: a single writer thread
// (GroupCommitStore) owns the write connection and commits every batch queued meanwhile in one
// transaction; reads use a second connection and see committed data only. The schema and its
// migrations live in sqlite_schema.cc. Thread-safe.
#ifndef HYPERSWEEP_SERVER_STORE_SQLITE_STORE_H_
#define HYPERSWEEP_SERVER_STORE_SQLITE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/group_commit.h"
#include "server/store/sqlite_statement.h"
#include "sqlite3.h"

namespace hypersweep {

class SqliteStore : public GroupCommitStore {
 public:
  // Opens or creates options.path and migrates it. UNAVAILABLE when the file cannot be opened or
  // another SqliteStore (in any process) has it open: <path>.lock is held with flock().
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~SqliteStore() override;

  absl::StatusOr<StoreState> LoadState() override;
  absl::StatusOr<TrialPage> ListTrials(const TrialQuery& query) override;
  absl::StatusOr<std::vector<EpochRecord>> GetEpochs(const std::string& trial_id,
                                                     const std::set<std::string>& metrics) override;
  absl::StatusOr<LrCurveRecord> GetLrCurve(const std::string& trial_id) override;

 private:
  explicit SqliteStore(const StoreOptions& options);
  absl::Status Init();
  absl::Status CommitGroup(const std::vector<WriteBatch*>& batches,
                           std::vector<absl::Status>* results) override;
  absl::Status Apply(const WriteBatch& batch);  // writer thread only
  // Rewrites trial_metrics for a trial that has become final, from its stored epochs. Writer
  // thread only.
  absl::Status Summarize(const std::string& trial_id);

  const StoreOptions options_;
  int lock_fd_ = -1;             // flock()ed <path>.lock: one coordinator per database
  sqlite3* write_db_ = nullptr;  // confined to the writer thread after Init()
  StmtCache write_cache_;        // writer thread only; finalized before write_db_ closes
  absl::Mutex read_mu_;          // guards read_db_
  sqlite3* read_db_ ABSL_GUARDED_BY(read_mu_) = nullptr;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_SQLITE_STORE_H_
