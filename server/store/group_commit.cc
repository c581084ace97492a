#include "server/store/group_commit.h"

#include <chrono>
#include <future>

#include "server/store/in_memory_store.h"
#include "server/store/sqlite_store.h"

namespace hypersweep {

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.path == ":memory:") return InMemoryStore::Open(options);
  return SqliteStore::Open(options);
}

absl::Status Store::Write(WriteBatch batch) {
  std::promise<absl::Status> p;
  auto f = p.get_future();
  WriteAsync(std::move(batch), [&p](absl::Status s) { p.set_value(std::move(s)); });
  return f.get();
}

const char* TrialStatusName(TrialStatus s) {
  switch (s) {
    case TrialStatus::kQueued:
      return "QUEUED";
    case TrialStatus::kLeased:
      return "LEASED";
    case TrialStatus::kSucceeded:
      return "SUCCEEDED";
    case TrialStatus::kDiverged:
      return "DIVERGED";
    case TrialStatus::kFailed:
      return "FAILED";
    case TrialStatus::kCancelled:
      return "CANCELLED";
    case TrialStatus::kPruned:
      return "PRUNED";
  }
  return "?";
}

GroupCommitStore::GroupCommitStore(int max_group) : max_group_(max_group < 1 ? 1 : max_group) {}

void GroupCommitStore::StartWriter() {
  completer_ = std::thread([this] { CompleterLoop(); });
  writer_ = std::thread([this] { WriterLoop(); });
}

void GroupCommitStore::WriteAsync(WriteBatch batch, std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      queue_.push_back(Pending{std::move(batch), std::move(done)});
      return;
    }
  }
  done(absl::UnavailableError("store is closed"));
}

void GroupCommitStore::Close() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  if (writer_.joinable()) writer_.join();
  {
    absl::MutexLock lock(&completions_mu_);
    completer_closing_ = true;
  }
  if (completer_.joinable()) completer_.join();  // after every queued callback has run
}

void GroupCommitStore::SetCommitObserver(CommitObserver observer) {
  auto shared = observer ? std::make_shared<const CommitObserver>(std::move(observer)) : nullptr;
  absl::MutexLock lock(&mu_);
  observer_ = std::move(shared);
}

int64_t GroupCommitStore::TEST_commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

void GroupCommitStore::WriterLoop() {
  for (;;) {
    std::vector<Pending> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &GroupCommitStore::WorkOrClosing));
      if (queue_.empty()) return;  // closing, and everything queued is committed
      while (!queue_.empty() && static_cast<int>(group.size()) < max_group_) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<WriteBatch*> batches;
    for (auto& p : group) batches.push_back(&p.batch);
    std::vector<absl::Status> results(group.size());
    const auto start = std::chrono::steady_clock::now();
    absl::Status txn = CommitGroup(batches, &results);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    std::shared_ptr<const CommitObserver> observer;
    {
      absl::MutexLock lock(&mu_);
      ++commits_;
      observer = observer_;
    }
    if (observer) {
      std::vector<absl::Status> outcome(group.size());
      for (size_t i = 0; i < group.size(); ++i) outcome[i] = txn.ok() ? results[i] : txn;
      (*observer)(
          CommitObservation{batches, outcome, txn,
                            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()});
    }
    Completion c;
    c.done.reserve(group.size());
    c.results.reserve(group.size());
    for (size_t i = 0; i < group.size(); ++i) {
      c.done.push_back(std::move(group[i].done));
      c.results.push_back(txn.ok() ? results[i] : txn);
    }
    absl::MutexLock lock(&completions_mu_);
    completions_.push_back(std::move(c));
  }
}

void GroupCommitStore::CompleterLoop() {
  for (;;) {
    Completion c;
    {
      absl::MutexLock lock(&completions_mu_);
      completions_mu_.Await(absl::Condition(this, &GroupCommitStore::CompletionOrClosing));
      if (completions_.empty()) return;  // closing, and every callback has run
      c = std::move(completions_.front());
      completions_.pop_front();
    }
    for (size_t i = 0; i < c.done.size(); ++i) {
      if (c.done[i]) c.done[i](std::move(c.results[i]));
    }
  }
}

}  // namespace hypersweep
