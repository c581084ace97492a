// Store in process memory (LevelDB's memenv, Ray's InMemoryStoreClient): the fake for scheduler and
// service tests, and `hypersweepd --db :memory:`. Same contract as SqliteStore; nothing survives
// the process. Thread-safe.
#ifndef HYPERSWEEP_SERVER_STORE_IN_MEMORY_STORE_H_
#define HYPERSWEEP_SERVER_STORE_IN_MEMORY_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/group_commit.h"

namespace hypersweep {

class InMemoryStore : public GroupCommitStore {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~InMemoryStore() override;

  absl::StatusOr<StoreState> LoadState() override;
  absl::StatusOr<TrialPage> ListTrials(const TrialQuery& query) override;
  absl::StatusOr<std::vector<EpochRecord>> GetEpochs(const std::string& trial_id,
                                                     const std::set<std::string>& metrics) override;
  absl::StatusOr<LrCurveRecord> GetLrCurve(const std::string& trial_id) override;

 private:
  explicit InMemoryStore(const StoreOptions& options);
  absl::Status CommitGroup(const std::vector<WriteBatch*>& batches,
                           std::vector<absl::Status>* results) override;
  absl::Status Apply(const WriteBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(data_mu_);

  absl::Mutex data_mu_;  // guards every table below
  std::vector<std::string> sweep_order_ ABSL_GUARDED_BY(data_mu_);
  std::map<std::string, SweepRecord> sweeps_ ABSL_GUARDED_BY(data_mu_);
  std::map<std::string, std::vector<std::string>> sweep_trials_
      ABSL_GUARDED_BY(data_mu_);  // by index
  std::map<std::string, TrialRecord> trials_ ABSL_GUARDED_BY(data_mu_);
  std::map<std::string, std::map<int64_t, EpochRecord>> epochs_ ABSL_GUARDED_BY(data_mu_);
  std::map<std::string, LrCurveRecord> lr_curves_ ABSL_GUARDED_BY(data_mu_);
  std::map<std::string, WorkerRecord> workers_ ABSL_GUARDED_BY(data_mu_);
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_IN_MEMORY_STORE_H_
