// Time, injected (LevelDB's Env, Ray's clock): the scheduler reads the time only through a Clock,
// so tests drive lease expiry with FakeClock instead of sleeping.
#ifndef HYPERSWEEP_SERVER_SCHEDULER_CLOCK_H_
#define HYPERSWEEP_SERVER_SCHEDULER_CLOCK_H_

#include <chrono>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hypersweep {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowMs() = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t NowMs() override {
    absl::MutexLock lock(&mu_);
    return now_ms_;
  }
  void AdvanceMs(int64_t ms) {
    absl::MutexLock lock(&mu_);
    now_ms_ += ms;
  }

 private:
  absl::Mutex mu_;  // guards now_ms_
  int64_t now_ms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SCHEDULER_CLOCK_H_
