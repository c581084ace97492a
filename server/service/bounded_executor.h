// A few threads and a bounded queue for slow work that must not run on gRPC's callback threads
// (parsing and expanding a submitted spec): when the queue is full the caller refuses the call
// at once instead of letting the backlog grow. Thread-safe.
#ifndef HYPERSWEEP_SERVER_SERVICE_BOUNDED_EXECUTOR_H_
#define HYPERSWEEP_SERVER_SERVICE_BOUNDED_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hypersweep {

class BoundedExecutor {
 public:
  // `threads` >= 1 run the tasks; at most `max_pending` wait (not counting running ones).
  BoundedExecutor(int threads, size_t max_pending);
  // Runs every task already accepted, then joins the threads.
  ~BoundedExecutor();

  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`; false (and `task` is dropped unrun) when max_pending tasks already wait.
  bool TrySchedule(std::function<void()> task);
  size_t max_pending() const { return max_pending_; }

 private:
  void Loop();

  const size_t max_pending_;
  absl::Mutex mu_;  // guards queue_ and stopping_
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_BOUNDED_EXECUTOR_H_
