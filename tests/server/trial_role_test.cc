// The scheduler marks the LR range tests it adds for `max_lr: auto` with TrialRole::kLrRangeTest,
// in what it returns and in what it stores; every other trial is kTrain.
#include <functional>
#include <future>
#include <memory>

#include "gtest/gtest.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/store/store.h"

namespace hypersweep {
namespace {

TEST(TrialRoleTest, RangeTestsTheSchedulerAddsHaveTheirRole) {
  StoreOptions so;
  so.path = ":memory:";
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock;
  auto sched = Scheduler::Create(store->get(), &clock, SchedulerOptions{});
  ASSERT_TRUE(sched.ok()) << sched.status();
  auto submit = [&](const std::string& spec) {
    auto p = std::make_shared<std::promise<absl::StatusOr<SubmitResult>>>();
    auto f = p->get_future();
    (*sched)->SubmitSweep(spec, /*dry_run=*/false, 0,
                          [p](absl::StatusOr<SubmitResult> r) { p->set_value(std::move(r)); });
    return f.get();
  };
  // Two auto groups (batch sizes), three range tests each (the default auto.range_tests), then the
  // four points.
  auto autolr = submit(R"(
name: auto
dataset: {synthetic: {}}
epochs: 2
grid:
  batch_size: [32, 64]
  schedule:
    - {one_cycle: {max_lr: auto}}
    - {constant: {lr: 0.1}}
)");
  ASSERT_TRUE(autolr.ok()) << autolr.status();
  // A range test the user asked for is a point of the sweep like any other.
  auto user = submit(R"(
name: user
dataset: {synthetic: {}}
epochs: 1
batch_size: 32
schedule: {lr_range_test: {min_lr: 1e-5, max_lr: 10, steps: 20}}
)");
  ASSERT_TRUE(user.ok()) << user.status();

  ASSERT_EQ(autolr->trials.size(), 10u);
  for (const TrialRecord& t : autolr->trials) {
    EXPECT_EQ(t.role, t.index < 6 ? TrialRole::kLrRangeTest : TrialRole::kTrain) << t.index;
    EXPECT_EQ(t.role == TrialRole::kLrRangeTest, t.schedule == "lr_range_test") << t.index;
  }
  ASSERT_EQ(user->trials.size(), 1u);
  EXPECT_EQ(user->trials[0].role, TrialRole::kTrain);

  auto st = (*store)->LoadState();
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->trials.size(), 11u);
  for (const TrialRecord& t : st->trials) {
    const bool range = t.sweep_id == autolr->sweep.record.id && t.index < 6;
    EXPECT_EQ(t.role, range ? TrialRole::kLrRangeTest : TrialRole::kTrain) << t.id;
  }
}

}  // namespace
}  // namespace hypersweep
