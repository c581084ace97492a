#include "server/service/bounded_executor.h"

#include <algorithm>
#include <utility>

namespace hypersweep {

BoundedExecutor::BoundedExecutor(int threads, size_t max_pending) : max_pending_(max_pending) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { Loop(); });
}

BoundedExecutor::~BoundedExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

bool BoundedExecutor::TrySchedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= max_pending_) return false;
  queue_.push_back(std::move(task));
  return true;
}

void BoundedExecutor::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and every accepted task has run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace hypersweep
