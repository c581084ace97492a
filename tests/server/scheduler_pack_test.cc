// Trial packing's acquire (server/scheduler/scheduler_leases.cc, docs/PACKING.md), on the
// in-memory store and on a SQLite file: an acquire with max_trials > 1 leases the first queued
// trial and up to max_trials - 1 queued trials of its sweep with the same packing key, each with
// its own lease that is heartbeaten, reported and finished on its own; trials that differ in the
// key (batch size), unpackable trials (CNN, LR range tests) and acquires of one (old workers) get
// one trial; a long-poll gets a whole pack; an on-demand sweep packs across its batches, each
// trial leased once, in index order, across a restart.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/scheduler/scheduler.h"
#include "tests/server/scheduler_fixture.h"

namespace hypersweep {
namespace {

constexpr char kHeader[] = "dataset: {synthetic: {}}\nepochs: 2\n";
constexpr char kMlp[] = "model: {mlp: {hidden: [8]}}\nschedule: {constant: {lr: 0.1}}\n";

class SchedulerPackTest : public StoreParamSchedulerFixture {
 protected:
  std::string Submit(const std::string& body) {
    auto r = Await<SubmitResult>([&](Callback<SubmitResult> cb) {
      sched_->SubmitSweep(absl::StrCat(kHeader, body), false, 0, std::move(cb));
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->sweep.record.id : "";
  }
  absl::StatusOr<AcquireResult> AcquirePack(const std::string& worker, int max_trials) {
    return Await<AcquireResult>([&](Callback<AcquireResult> cb) {
      sched_->Acquire(worker, clock_.NowMs(), max_trials, std::move(cb));
    });
  }
  // Every trial of an acquire, the first one first.
  static std::vector<TrialRecord> All(const AcquireResult& a) {
    std::vector<TrialRecord> all{a.trial};
    all.insert(all.end(), a.pack.begin(), a.pack.end());
    return all;
  }
  static LeaseRef RefOf(const TrialRecord& t) { return LeaseRef{t.id, t.attempt, t.lease_token}; }
  TrialCounts Counts(const std::string& sweep) {
    auto info = sched_->GetSweep(sweep);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->counts : TrialCounts{};
  }
};

TEST_P(SchedulerPackTest, PacksTrialsOfOneKeyEachWithItsOwnLease) {
  const std::string sweep =
      Submit(absl::StrCat(kMlp, "seeds: [1, 2]\ngrid:\n  momentum: [0.8, 0.85, 0.9, 0.95]\n"));
  const std::string w = Register("w1");
  auto a = AcquirePack(w, 5);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->acquired);
  const std::vector<TrialRecord> pack = All(*a);
  ASSERT_EQ(pack.size(), 5u);
  std::set<std::string> ids, tokens;
  for (size_t i = 0; i < pack.size(); ++i) {
    EXPECT_EQ(pack[i].index, static_cast<int64_t>(i)) << "lease order";
    EXPECT_EQ(pack[i].status, TrialStatus::kLeased);
    EXPECT_EQ(pack[i].worker_id, w);
    ids.insert(pack[i].id);
    tokens.insert(pack[i].lease_token);
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(tokens.size(), 5u) << "each trial has its own lease";
  EXPECT_EQ(Counts(sweep).Of(TrialStatus::kLeased), 5);

  // Each lease lives on its own: reports and finishes of one leave the others leased.
  auto hb = sched_->Heartbeat(w, RefOf(pack[1]));
  ASSERT_TRUE(hb.ok()) << hb.status();
  auto rep = Await<ReportResult>([&](Callback<ReportResult> cb) {
    sched_->ReportEpochs(RefOf(pack[2]), {EpochRecord{0, {{"train_loss", 0.5}}}}, "",
                         std::move(cb));
  });
  ASSERT_TRUE(rep.ok()) << rep.status();
  EXPECT_EQ(*Finish(RefOf(pack[0]), TrialStatus::kDiverged), TrialStatus::kDiverged);
  EXPECT_EQ(*Finish(RefOf(pack[3]), TrialStatus::kSucceeded), TrialStatus::kSucceeded);
  const TrialCounts c = Counts(sweep);
  EXPECT_EQ(c.Of(TrialStatus::kLeased), 3);
  EXPECT_EQ(c.Of(TrialStatus::kDiverged), 1);
  EXPECT_EQ(c.Of(TrialStatus::kSucceeded), 1);
  EXPECT_EQ(c.Of(TrialStatus::kQueued), 3);

  // A worker that asks for one (as workers before packing do) gets one.
  auto one = AcquireNow(Register("w2"));
  ASSERT_TRUE(one.ok() && one->acquired);
  EXPECT_TRUE(one->pack.empty());
  EXPECT_EQ(one->trial.index, 5);
}

TEST_P(SchedulerPackTest, TrialsThatDifferInTheKeyArePackedApart) {
  // batch_size is part of the packing key: two packs of 3, whatever the grid's axis order.
  Submit(absl::StrCat(kMlp, "grid:\n  batch_size: [16, 32]\n  momentum: [0.8, 0.9, 0.95]\n"));
  const std::string w = Register("w1");
  std::set<int64_t> seen;
  for (int k = 0; k < 2; ++k) {
    auto a = AcquirePack(w, 8);
    ASSERT_TRUE(a.ok() && a->acquired);
    const std::vector<TrialRecord> pack = All(*a);
    ASSERT_EQ(pack.size(), 3u);
    for (const TrialRecord& t : pack) {
      EXPECT_NE(t.spec_json.find(absl::StrCat("\"batch_size\":", k == 0 ? 16 : 32)),
                std::string::npos)
          << t.spec_json;
      EXPECT_TRUE(seen.insert(t.index).second);
    }
  }
  auto none = AcquirePack(w, 8);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->acquired);
}

TEST_P(SchedulerPackTest, APackTakesAFairShareOfTheWorkersSlots) {
  // Two workers of one slot and 12 trials: each pack takes 6, not 8 and 4.
  Submit(absl::StrCat(kMlp, "seeds: [1, 2, 3]\ngrid:\n  momentum: [0.8, 0.85, 0.9, 0.95]\n"));
  const std::string w1 = Register("w1"), w2 = Register("w2");
  auto a = AcquirePack(w1, 8);
  auto b = AcquirePack(w2, 8);
  ASSERT_TRUE(a.ok() && a->acquired && b.ok() && b->acquired);
  EXPECT_EQ(All(*a).size(), 6u);
  EXPECT_EQ(All(*b).size(), 6u);
}

TEST_P(SchedulerPackTest, UnpackableTrialsAreLeasedAlone) {
  Submit(
      "model: {cnn: {}}\nschedule: {constant: {lr: 0.1}}\ngrid:\n  momentum: [0.8, 0.9, 0.95]\n");
  const std::string w = Register("w1");
  for (int i = 0; i < 3; ++i) {
    auto a = AcquirePack(w, 8);
    ASSERT_TRUE(a.ok() && a->acquired);
    EXPECT_TRUE(a->pack.empty()) << "a CNN is not packed";
  }
}

TEST_P(SchedulerPackTest, RangeTestsOfAutoLrAreLeasedAlone) {
  Submit(
      "model: {mlp: {hidden: [8]}}\nschedule: {one_cycle: {max_lr: auto}}\n"
      "auto: {range_tests: 3}\n"
      "grid:\n  momentum: [0.8, 0.9]\n");
  const std::string w = Register("w1");
  for (int i = 0; i < 3; ++i) {
    auto a = AcquirePack(w, 8);
    ASSERT_TRUE(a.ok() && a->acquired);
    EXPECT_EQ(a->trial.role, TrialRole::kLrRangeTest);
    EXPECT_TRUE(a->pack.empty()) << "an LR range test is not packed";
  }
}

TEST_P(SchedulerPackTest, ALongPollGetsAWholePack) {
  const std::string w = Register("w1");
  auto p = std::make_shared<std::promise<absl::StatusOr<AcquireResult>>>();
  auto f = p->get_future();
  sched_->Acquire(w, clock_.NowMs() + 60'000, 4,
                  [p](absl::StatusOr<AcquireResult> r) { p->set_value(std::move(r)); });
  Submit(absl::StrCat(kMlp, "grid:\n  momentum: [0.8, 0.85, 0.9, 0.95, 0.99]\n"));
  auto a = f.get();
  ASSERT_TRUE(a.ok() && a->acquired);
  EXPECT_EQ(All(*a).size(), 4u);
}

TEST_P(SchedulerPackTest, AnOnDemandSweepPacksAcrossItsBatchesEachTrialOnce) {
  // 1100 trials: a batch of kTrialBatch made at submit, the rest as packs reach them.
  std::string decays;
  for (int i = 0; i < 1100; ++i) absl::StrAppend(&decays, i ? ", " : "", 1e-6 * (i + 1));
  const std::string sweep = Submit(absl::StrCat(kMlp, "grid:\n  weight_decay: [", decays, "]\n"));
  const std::string w = Register("w1");
  std::vector<int64_t> got;
  auto lease_packs = [&](int packs) {
    for (int i = 0; i < packs; ++i) {
      auto a = AcquirePack(w, 64);
      ASSERT_TRUE(a.ok()) << a.status();
      if (!a->acquired) return;
      for (const TrialRecord& t : All(*a)) got.push_back(t.index);
    }
  };
  lease_packs(10);
  RestartCoordinator();
  lease_packs(100);
  ASSERT_EQ(got.size(), 1100u);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], static_cast<int64_t>(i));
  EXPECT_EQ(Counts(sweep).Of(TrialStatus::kLeased), 1100);
}

INSTANTIATE_TEST_SUITE_P(Stores, SchedulerPackTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Sqlite" : "Memory"; });

}  // namespace
}  // namespace hypersweep
