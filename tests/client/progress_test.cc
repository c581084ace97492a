// Progress and ETA of a sweep, with the time passed in.
#include "client/progress.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

v1::Sweep RunningSweep(int64_t done, int64_t total, absl::Time created) {
  v1::Sweep s;
  s.set_state(v1::SWEEP_RUNNING);
  s.set_created_unix_ms(absl::ToUnixMillis(created));
  s.mutable_counts()->set_succeeded(done);
  s.mutable_counts()->set_finished(done);
  s.mutable_counts()->set_queued(total - done);
  s.mutable_counts()->set_total(total);
  s.set_registered_workers(1);
  s.set_healthy_workers(1);
  return s;
}

TEST(ProgressTest, EtaAtTheRateSoFar) {
  const absl::Time created = absl::FromUnixSeconds(1'000'000);
  const v1::Sweep s = RunningSweep(5, 20, created);
  EXPECT_DOUBLE_EQ(DoneFraction(s.counts()), 0.25);
  // 5 trials in 100 s: 15 more take 300 s.
  EXPECT_DOUBLE_EQ(EtaSeconds(s, created + absl::Seconds(100)), 300);
  EXPECT_EQ(ProgressLine(s, created + absl::Seconds(100)),
            "[########......................]  25%  5/20  RUNNING  ETA 5m00s");
}

TEST(ProgressTest, NoHealthyWorkerOrAPauseReplacesTheEta) {
  const absl::Time created = absl::FromUnixSeconds(1'000'000);
  v1::Sweep s = RunningSweep(4, 6, created);
  s.set_healthy_workers(0);
  s.set_quarantined_workers(1);
  EXPECT_EQ(WaitReason(s), "no healthy worker: 1 registered, 1 quarantined; queued trials wait");
  EXPECT_TRUE(std::isnan(EtaSeconds(s, created + absl::Seconds(3))));
  EXPECT_EQ(ProgressLine(s, created + absl::Seconds(3)),
            "[####################..........]  66%  4/6  RUNNING  no healthy worker: 1 "
            "registered, 1 quarantined; queued trials wait");
  s.set_state(v1::SWEEP_PAUSED);
  s.set_id("sw-1");
  s.set_paused_reason("2 trials failed with the same user error: data file not found");
  EXPECT_EQ(WaitReason(s),
            "paused: 2 trials failed with the same user error: data file not found; fix it, "
            "then `hypersweep resume sw-1`");
  s.set_state(v1::SWEEP_COMPLETED);
  EXPECT_EQ(WaitReason(s), "");
}

TEST(ProgressTest, EtaUnknownBeforeTheFirstTrialAndZeroOnceEnded) {
  const absl::Time created = absl::FromUnixSeconds(1'000'000);
  v1::Sweep s = RunningSweep(0, 4, created);
  EXPECT_TRUE(std::isnan(EtaSeconds(s, created + absl::Seconds(10))));
  s.set_state(v1::SWEEP_COMPLETED);
  EXPECT_EQ(EtaSeconds(s, created + absl::Seconds(10)), 0);
  EXPECT_EQ(DoneFraction(v1::TrialCounts()), 0);
}

TEST(ProgressTest, DoneIsTheCoordinatorsFinishedCount) {
  v1::TrialCounts c;
  c.set_finished(15);
  c.set_succeeded(1);
  c.set_diverged(2);
  c.set_failed(3);
  c.set_cancelled(4);
  c.set_pruned(5);
  c.set_leased(6);
  c.set_queued(7);
  EXPECT_EQ(DoneTrials(c), 15);
  EXPECT_EQ(CountsLine(c),
            "queued 7  leased 6  succeeded 1  diverged 2  failed 3  cancelled 4  pruned 5");
}

}  // namespace
}  // namespace hypersweep
