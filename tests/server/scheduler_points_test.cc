// Points on demand (server/scheduler/scheduler_points.cc), on the in-memory store and on a SQLite
// file: a grid sweep larger than kTrialBatch stores its first batch at submit and counts every
// trial; leases hand its trials out in index order across the batches, each made once; listing
// shows the trials not made yet (the same trial that is made later) with the right totals,
// filters and pages; cancelling counts them cancelled at once; and a coordinator restart goes on
// from the stored trials without duplicating or losing one.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler/scheduler.h"
#include "tests/server/scheduler_fixture.h"

namespace hypersweep {
namespace {

// 50 momenta x 60 weight decays: 3000 trials, about three batches.
std::string Spec() {
  std::string momenta, decays;
  for (int i = 0; i < 50; ++i) absl::StrAppend(&momenta, i ? ", " : "", 0.01 * i);
  for (int i = 0; i < 60; ++i) absl::StrAppend(&decays, i ? ", " : "", 1e-5 * (i + 1));
  return absl::StrCat(
      "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n"
      "grid:\n  momentum: [",
      momenta, "]\n  weight_decay: [", decays, "]\n");
}
constexpr int64_t kTrials = 3000;

class SchedulerPointsTest : public StoreParamSchedulerFixture {
 protected:
  std::string Submit() {
    auto r = Await<SubmitResult>(
        [&](Callback<SubmitResult> cb) { sched_->SubmitSweep(Spec(), false, 0, std::move(cb)); });
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->trials.size(), static_cast<size_t>(kTrialBatch));
    return r->sweep.record.id;
  }
  // Trials stored now (made), over every sweep.
  int64_t Stored() {
    EXPECT_TRUE(sched_->Flush().ok());
    auto st = store_->LoadState();
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? static_cast<int64_t>(st->trials.size()) : -1;
  }
  TrialPage List(const std::string& sweep, int64_t offset, int64_t limit,
                 std::set<TrialStatus> statuses = {}) {
    TrialQuery q;
    q.sweep_id = sweep;
    q.offset = offset;
    q.limit = limit;
    q.statuses = std::move(statuses);
    auto page = sched_->ListTrials(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : TrialPage{};
  }
  // Leases `n` trials and returns their indexes in lease order.
  std::vector<int64_t> Lease(const std::string& worker, int n) {
    std::vector<int64_t> out;
    for (int i = 0; i < n; ++i) {
      auto a = AcquireNow(worker);
      EXPECT_TRUE(a.ok()) << a.status();
      if (!a.ok() || !a->acquired) break;
      out.push_back(a->trial.index);
    }
    return out;
  }
  TrialCounts Counts(const std::string& sweep) {
    auto info = sched_->GetSweep(sweep);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->counts : TrialCounts{};
  }
};

TEST_P(SchedulerPointsTest, SubmitStoresTheFirstBatchAndCountsEveryTrial) {
  const std::string sweep = Submit();
  const TrialCounts c = Counts(sweep);
  EXPECT_EQ(c.total, kTrials);
  EXPECT_EQ(c.Of(TrialStatus::kQueued), kTrials);
  EXPECT_EQ(Stored(), kTrialBatch);
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->record.trial_count, kTrials);
  EXPECT_EQ(info->state, SweepState::kRunning);
}

TEST_P(SchedulerPointsTest, LeasesInIndexOrderAcrossBatchesAndAcrossARestart) {
  const std::string sweep = Submit();
  const std::string w = Register("w1");
  std::vector<int64_t> got = Lease(w, static_cast<int>(kTrialBatch) + 10);
  // The lease of the batch's last trial made the next batch, in its commit.
  EXPECT_EQ(Stored(), 2 * kTrialBatch);
  RestartCoordinator();
  const TrialCounts c = Counts(sweep);
  EXPECT_EQ(c.total, kTrials);
  EXPECT_EQ(c.Of(TrialStatus::kLeased), kTrialBatch + 10);
  EXPECT_EQ(c.Of(TrialStatus::kQueued), kTrials - kTrialBatch - 10);
  for (int64_t i : Lease(w, static_cast<int>(kTrials))) got.push_back(i);
  ASSERT_EQ(static_cast<int64_t>(got.size()), kTrials);
  for (int64_t i = 0; i < kTrials; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], i);
  EXPECT_EQ(Stored(), kTrials);
  EXPECT_EQ(Counts(sweep).Of(TrialStatus::kLeased), kTrials);
}

TEST_P(SchedulerPointsTest, ListsTheTrialsNotMadeYetAsTheyWillBe) {
  const std::string sweep = Submit();
  // A page across the boundary between made and not made.
  TrialPage page = List(sweep, kTrialBatch - 5, 10);
  EXPECT_EQ(page.total, kTrials);
  ASSERT_EQ(page.trials.size(), 10u);
  std::vector<TrialRecord> before;
  for (size_t i = 0; i < page.trials.size(); ++i) {
    const TrialRecord& t = page.trials[i].trial;
    EXPECT_EQ(t.index, kTrialBatch - 5 + static_cast<int64_t>(i));
    EXPECT_EQ(t.id, absl::StrCat(sweep, "-", t.index));
    EXPECT_EQ(t.status, TrialStatus::kQueued);
    EXPECT_EQ(t.params.size(), 2u);
    before.push_back(t);
  }
  // The last page, and past the end.
  EXPECT_EQ(List(sweep, kTrials - 3, 100).trials.size(), 3u);
  EXPECT_TRUE(List(sweep, kTrials + 1, 100).trials.empty());
  // Filters count the trials not made yet where their status matches.
  EXPECT_EQ(List(sweep, 0, 1, {TrialStatus::kQueued}).total, kTrials);
  EXPECT_EQ(List(sweep, 0, 1, {TrialStatus::kSucceeded}).total, 0);
  // Once made (by leasing up to them), they are the trials that were listed.
  const std::string w = Register("w1");
  ASSERT_EQ(Lease(w, static_cast<int>(kTrialBatch) + 5).size(),
            static_cast<size_t>(kTrialBatch + 5));
  page = List(sweep, kTrialBatch - 5, 10);
  EXPECT_EQ(page.total, kTrials);
  ASSERT_EQ(page.trials.size(), 10u);
  for (size_t i = 0; i < page.trials.size(); ++i) {
    const TrialRecord& t = page.trials[i].trial;
    EXPECT_EQ(t.index, before[i].index);
    EXPECT_EQ(t.params, before[i].params);
    EXPECT_EQ(t.spec_json, before[i].spec_json);
    EXPECT_EQ(t.status, TrialStatus::kLeased);
  }
}

TEST_P(SchedulerPointsTest, CancelCountsEveryTrialNotMadeCancelledAtOnce) {
  const std::string sweep = Submit();
  const std::string w = Register("w1");
  ASSERT_EQ(Lease(w, 3).size(), 3u);
  auto info =
      Await<SweepInfo>([&](Callback<SweepInfo> cb) { sched_->CancelSweep(sweep, std::move(cb)); });
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->state, SweepState::kCancelled);
  EXPECT_EQ(info->counts.Of(TrialStatus::kCancelled), kTrials - 3);
  EXPECT_EQ(info->counts.Of(TrialStatus::kQueued), 0);
  EXPECT_FALSE(AcquireNow(w)->acquired);
  EXPECT_EQ(Stored(), kTrialBatch);  // nothing made for the cancel
  // Cancelling again changes nothing.
  auto again =
      Await<SweepInfo>([&](Callback<SweepInfo> cb) { sched_->CancelSweep(sweep, std::move(cb)); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->counts.Of(TrialStatus::kCancelled), kTrials - 3);
  EXPECT_EQ(again->counts.Of(TrialStatus::kQueued), 0);
  TrialPage page = List(sweep, kTrials - 2, 10, {TrialStatus::kCancelled});
  EXPECT_EQ(page.total, kTrials - 3);
  RestartCoordinator();
  EXPECT_EQ(Counts(sweep).Of(TrialStatus::kCancelled), kTrials - 3);
  EXPECT_EQ(Counts(sweep).Of(TrialStatus::kQueued), 0);
  page = List(sweep, kTrials - 2, 10);
  ASSERT_EQ(page.trials.size(), 2u);
  EXPECT_EQ(page.trials[0].trial.status, TrialStatus::kCancelled);
  EXPECT_FALSE(AcquireNow(w)->acquired);
}

TEST_P(SchedulerPointsTest, TheQueueQuotaCountsMadeTrialsOnly) {
  options_.max_queued_trials = 2 * kTrialBatch;
  RestartCoordinator();
  Submit();
  Submit();  // 6000 trials, 2048 made: within the quota
  auto third = Await<SubmitResult>(
      [&](Callback<SubmitResult> cb) { sched_->SubmitSweep(Spec(), false, 0, std::move(cb)); });
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
}

// A sweep with `auto` LR anywhere (here in one grid schedule) is made whole at submit: its range
// tests and the trials held for them are planned together.
TEST_P(SchedulerPointsTest, AnAutoLrSweepIsMadeWhole) {
  std::string momenta;
  for (int i = 0; i < 600; ++i) absl::StrAppend(&momenta, i ? ", " : "", 0.001 * i);
  const std::string spec = absl::StrCat(
      "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n"
      "grid:\n  momentum: [",
      momenta, "]\n  schedule: [{constant: {lr: 0.1}}, {one_cycle: {max_lr: auto}}]\n");
  auto r = Await<SubmitResult>(
      [&](Callback<SubmitResult> cb) { sched_->SubmitSweep(spec, false, 0, std::move(cb)); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->trials.size(), 1200u);  // every point, and range tests
  EXPECT_EQ(Stored(), static_cast<int64_t>(r->trials.size()));
  EXPECT_EQ(Counts(r->sweep.record.id).total, static_cast<int64_t>(r->trials.size()));
}

INSTANTIATE_TEST_SUITE_P(Stores, SchedulerPointsTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sqlite" : "Memory"; });

}  // namespace
}  // namespace hypersweep
