// A Scheduler over an in-memory store and a FakeClock, and synchronous forms of its callback
// calls: what the scheduler's unit tests share (scheduler_test.cc, scheduler_quarantine_test.cc).
#ifndef HYPERSWEEP_TESTS_SERVER_SCHEDULER_FIXTURE_H_
#define HYPERSWEEP_TESTS_SERVER_SCHEDULER_FIXTURE_H_

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/scheduler/scheduler.h"
#include "server/store/store.h"

namespace hypersweep {

// Runs `call` with a callback and waits for its one answer.
template <typename T>
absl::StatusOr<T> Await(std::function<void(Callback<T>)> call) {
  auto p = std::make_shared<std::promise<absl::StatusOr<T>>>();
  auto f = p->get_future();
  call([p](absl::StatusOr<T> r) { p->set_value(std::move(r)); });
  return f.get();
}

// A range test's curve whose smoothed loss bottoms out at `lowest` (steps 0..40, lr
// 10^(-3 + i/10)); its bottom (core/lr_finder.h) is symmetric about it, so `min` reads the step
// nearest to it.
inline LrCurveRecord CurveWithMinimumAt(double lowest) {
  LrCurveRecord c;
  for (int i = 0; i <= 40; ++i) {
    const double lr = std::pow(10.0, -3 + i / 10.0);
    const double loss = 1.0 + std::pow(std::log10(lr) - std::log10(lowest), 2);
    c.points.push_back({i, lr, loss, loss});
  }
  return c;
}

class SchedulerFixture : public ::testing::Test {
 protected:
  // Opens an empty in-memory store and creates the scheduler with options_ (set them first).
  void Start() {
    StoreOptions so;
    so.path = ":memory:";
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    Restart();
  }
  // A new Scheduler over the same store, as after a coordinator restart.
  void Restart() {
    sched_.reset();
    auto s = Scheduler::Create(store_.get(), &clock_, options_);
    ASSERT_TRUE(s.ok()) << s.status();
    sched_ = *std::move(s);
  }
  std::string Register(const std::string& id = "") {
    WorkerRecord w;
    w.id = id;
    w.host = "h";
    w.device = "cpu";
    auto r = Await<WorkerRecord>(
        [&](Callback<WorkerRecord> cb) { sched_->RegisterWorker(w, std::move(cb)); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->id : "";
  }
  // Acquire with no wait.
  absl::StatusOr<AcquireResult> AcquireNow(const std::string& worker) {
    return Await<AcquireResult>([&](Callback<AcquireResult> cb) {
      sched_->Acquire(worker, clock_.NowMs(), std::move(cb));
    });
  }
  static LeaseRef Ref(const AcquireResult& a) {
    return LeaseRef{a.trial.id, a.trial.attempt, a.trial.lease_token};
  }
  absl::StatusOr<TrialStatus> Finish(const LeaseRef& l, TrialStatus s,
                                     FailureClass c = FailureClass::kNone,
                                     const std::string& reason = "") {
    return Await<TrialStatus>(
        [&](Callback<TrialStatus> cb) { sched_->FinishTrial(l, s, c, reason, std::move(cb)); });
  }

  FakeClock clock_;
  SchedulerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> sched_;
};

// SchedulerFixture over the in-memory store (parameter false) or a SQLite file in a temporary
// directory (true), with a coordinator restart that reopens that file.
class StoreParamSchedulerFixture : public SchedulerFixture,
                                   public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) return Start();
    std::string tmpl = (std::filesystem::temp_directory_path() / "hs-sched-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    OpenSqlite();
    Restart();
  }
  void TearDown() override {
    sched_.reset();
    if (!dir_.empty()) {
      store_.reset();
      std::filesystem::remove_all(dir_);
    }
  }
  void OpenSqlite() {
    StoreOptions so;
    so.path = (std::filesystem::path(dir_) / "hs.db").string();
    so.sync = false;
    auto store = Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  // A coordinator restart: a new Scheduler over the same data (the SQLite file reopened).
  void RestartCoordinator() {
    sched_.reset();
    if (!dir_.empty()) {
      store_->Close();
      store_.reset();
      OpenSqlite();
    }
    Restart();
  }

  std::string dir_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_TESTS_SERVER_SCHEDULER_FIXTURE_H_
