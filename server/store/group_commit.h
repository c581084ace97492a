// The write path both stores share: a queue of batches and a single writer thread that hands every
// batch queued meanwhile to CommitGroup() as one transaction. The batches' callbacks run
// afterwards, in commit order, on a second thread, so the writer can start the next transaction
// while the previous group's answers go out (the commit thread is the coordinator's serial
// bottleneck).
#ifndef HYPERSWEEP_SERVER_STORE_GROUP_COMMIT_H_
#define HYPERSWEEP_SERVER_STORE_GROUP_COMMIT_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/store.h"

namespace hypersweep {

// What one group commit did, for an observer (monitoring). References are valid only during the
// observer's call.
struct CommitObservation {
  const std::vector<WriteBatch*>& batches;  // the group, in order
  // Per batch: OK when it is committed, else why not (its own error, or the transaction's).
  const std::vector<absl::Status>& results;
  absl::Status transaction;  // the transaction's own status
  int64_t duration_ns = 0;   // CommitGroup's wall time (including fsync)
};
// Runs on the writer thread after each group, before the group's callbacks: it must be quick and
// must not block or write to the store.
using CommitObserver = std::function<void(const CommitObservation&)>;

class GroupCommitStore : public Store {
 public:
  // Replaces the observer (nullptr: none). Thread-safe; the next group sees it.
  void SetCommitObserver(CommitObserver observer) ABSL_LOCKS_EXCLUDED(mu_);

  void WriteAsync(WriteBatch batch, std::function<void(absl::Status)> done) override;
  void Close() override;

  // Transactions committed so far (tests check that batches were grouped).
  int64_t TEST_commits() const;

 protected:
  explicit GroupCommitStore(int max_group);
  // Subclasses call StartWriter() when ready and Close() in their destructor.
  void StartWriter();

  // Applies `batches` in order as one transaction. Sets (*results)[i] for a batch that could not
  // be applied (it is left out; the others still commit); returns an error when the transaction
  // itself failed (then no batch is committed). Runs on the writer thread only.
  virtual absl::Status CommitGroup(const std::vector<WriteBatch*>& batches,
                                   std::vector<absl::Status>* results) = 0;

 private:
  struct Pending {
    WriteBatch batch;
    std::function<void(absl::Status)> done;
  };
  void WriterLoop();
  bool WorkOrClosing() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || closing_;
  }

  // One committed group's callbacks with their results.
  struct Completion {
    std::vector<std::function<void(absl::Status)>> done;
    std::vector<absl::Status> results;
  };
  void CompleterLoop();
  bool CompletionOrClosing() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(completions_mu_) {
    return !completions_.empty() || completer_closing_;
  }

  const int max_group_;
  mutable absl::Mutex mu_;  // guards the queue, the closing flag and the counter
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const CommitObserver> observer_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;

  absl::Mutex completions_mu_;  // guards completions_ and completer_closing_
  std::deque<Completion> completions_ ABSL_GUARDED_BY(completions_mu_);
  bool completer_closing_ ABSL_GUARDED_BY(completions_mu_) = false;
  std::thread completer_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_GROUP_COMMIT_H_
