// Adaptive (tpe:) sweeps in the scheduler, on the in-memory store and on a SQLite file: a sweep
// runs to completion with exactly `trials` points, never more than `parallel` outstanding; the
// same reports propose the same points, also across a coordinator restart; the objective reaches
// the planner; every kind of end (failure, expired lease, divergence, pruning) proposes the next
// point, cancellation none; and a restart makes up for an end stored without its proposals.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler/scheduler.h"
#include "server/store/trial_fields.h"
#include "tests/server/scheduler_fixture.h"

namespace hypersweep {
namespace {

namespace fs = std::filesystem;

// 10 points, 3 at a time, the model after 4; two params the fake objective depends on.
constexpr char kSpec[] = R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 3
tpe:
  trials: 10
  seed: 7
  startup_trials: 4
  parallel: 3
  params:
    momentum: {uniform: [0, 0.95]}
    weight_decay: {log_uniform: [1e-6, 1e-2]}
)";

double Param(const TrialRecord& t, const std::string& key) {
  for (const auto& [k, v] : t.params) {
    double d = 0;
    if (k == key && absl::SimpleAtod(v, &d)) return d;
  }
  ADD_FAILURE() << "trial " << t.index << " has no param " << key;
  return 0;
}

// The fake objective (val_loss, minimised): best at momentum 0.6, weight_decay 1e-4; each seed
// shifts it a little, so a point's value is a mean.
double Loss(const TrialRecord& t, double sign) {
  const double m = Param(t, "momentum") - 0.6;
  const double w = std::log10(Param(t, "weight_decay")) + 4;
  return sign * (m * m + 0.05 * w * w) + 0.01 * static_cast<double>(t.seed);
}

// The store under test: the in-memory one (false) or a SQLite file (true).
class SchedulerTpeTest : public StoreParamSchedulerFixture {
 protected:
  void SetUp() override {
    options_.lease_ttl_ms = 10'000;
    StoreParamSchedulerFixture::SetUp();
  }
  std::string Submit(const std::string& spec, int32_t max_attempts = 0) {
    auto r = Await<SubmitResult>([&](Callback<SubmitResult> cb) {
      sched_->SubmitSweep(spec, false, max_attempts, std::move(cb));
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->sweep.record.id : "";
  }
  absl::StatusOr<ReportResult> Report(const LeaseRef& l, const std::vector<double>& losses) {
    std::vector<EpochRecord> e;
    for (size_t i = 0; i < losses.size(); ++i) {
      e.push_back(EpochRecord{static_cast<int64_t>(i), {{"val_loss", losses[i]}}});
    }
    return Await<ReportResult>(
        [&](Callback<ReportResult> cb) { sched_->ReportEpochs(l, e, "", std::move(cb)); });
  }
  std::vector<TrialRecord> Trials(const std::string& sweep) {
    EXPECT_TRUE(sched_->Flush().ok());
    TrialQuery q;
    q.sweep_id = sweep;
    q.order_by_index = true;
    q.limit = 1000;
    auto page = sched_->ListTrials(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<TrialRecord> out;
    if (page.ok()) {
      for (const auto& e : page->trials) out.push_back(e.trial);
    }
    std::sort(out.begin(), out.end(),
              [](const TrialRecord& a, const TrialRecord& b) { return a.index < b.index; });
    return out;
  }
  // Queued + leased trials of the sweep now.
  int64_t Open(const std::string& sweep) {
    auto info = sched_->GetSweep(sweep);
    EXPECT_TRUE(info.ok());
    return info->counts.Of(TrialStatus::kQueued) + info->counts.Of(TrialStatus::kLeased);
  }

  // Runs the sweep to its end: leases whatever is queued, then reports 3 epochs of the fake
  // objective (x `sign`) for the held trial of lowest index and finishes it, one at a time.
  // `restart_after`: a coordinator restart after that many finishes (-1: none). Checks at every
  // step that at most `parallel` x `per` trials are open. Returns the points' params by index.
  std::vector<TrialParams> Drive(const std::string& sweep, int64_t per, double sign,
                                 int restart_after = -1, int64_t parallel = 3) {
    const std::string w = Register("w1");
    std::map<int64_t, std::pair<LeaseRef, TrialRecord>> held;
    int finished = 0;
    for (int step = 0; step < 1000; ++step) {
      for (;;) {
        auto a = AcquireNow(w);
        EXPECT_TRUE(a.ok()) << a.status();
        if (!a.ok() || !a->acquired) break;
        held[a->trial.index] = {Ref(*a), a->trial};
      }
      EXPECT_LE(Open(sweep), parallel * per);
      if (held.empty()) break;
      auto [ref, rec] = held.begin()->second;
      held.erase(held.begin());
      const double v = Loss(rec, sign);
      auto r = Report(ref, {v + 0.2, v + 0.1, v});
      EXPECT_TRUE(r.ok()) << r.status();
      auto f = Finish(ref, TrialStatus::kSucceeded);
      EXPECT_TRUE(f.ok()) << f.status();
      if (++finished == restart_after) RestartCoordinator();
    }
    auto info = sched_->GetSweep(sweep);
    EXPECT_TRUE(info.ok());
    EXPECT_EQ(info->state, SweepState::kCompleted);
    std::vector<TrialParams> params;
    for (const auto& t : Trials(sweep)) {
      EXPECT_EQ(t.status, TrialStatus::kSucceeded) << t.index;
      params.push_back(t.params);
    }
    return params;
  }
};

TEST_P(SchedulerTpeTest, SubmitStoresTheFirstPointsAndCountsEveryTrial) {
  const std::string sweep = Submit(kSpec);
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->record.trial_count, 10);
  EXPECT_EQ(info->counts.total, 3);
  EXPECT_EQ(info->counts.Of(TrialStatus::kQueued), 3);
  EXPECT_EQ(info->state, SweepState::kRunning);
  const auto trials = Trials(sweep);
  ASSERT_EQ(trials.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(trials[i].index, i);
}

TEST_P(SchedulerTpeTest, RunsToExactlyTrialsPointsDeterministicallyAcrossARestart) {
  const std::string a = Submit(kSpec);
  const std::vector<TrialParams> first = Drive(a, 1, 1.0);
  ASSERT_EQ(first.size(), 10u);
  EXPECT_EQ(std::set<TrialParams>(first.begin(), first.end()).size(), 10u);
  // The same spec and reports: the same points; with a restart after 5 ends too (leases and the
  // kept objectives come back from the store), and no point twice or missing.
  const std::string b = Submit(kSpec);
  EXPECT_EQ(Drive(b, 1, 1.0, /*restart_after=*/5), first);
}

TEST_P(SchedulerTpeTest, TheObjectiveReachesThePlanner) {
  const std::vector<TrialParams> up = Drive(Submit(kSpec), 1, 1.0);
  const std::vector<TrialParams> down = Drive(Submit(kSpec), 1, -1.0);
  ASSERT_EQ(up.size(), 10u);
  ASSERT_EQ(down.size(), 10u);
  // Startup points are random (the same); the model's points follow the values.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(up[i], down[i]) << i;
  int differ = 0;
  for (int i = 4; i < 10; ++i) differ += up[i] != down[i];
  EXPECT_GT(differ, 0);
}

TEST_P(SchedulerTpeTest, APointIsItsSeedsTrials) {
  std::string spec = kSpec;
  spec.replace(spec.find("epochs: 3"), 9, "epochs: 3\nseeds: [0, 1]");
  const std::string sweep = Submit(spec);
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->record.trial_count, 20);
  EXPECT_EQ(info->counts.total, 6);
  const std::vector<TrialParams> params = Drive(sweep, 2, 1.0, /*restart_after=*/7);
  ASSERT_EQ(params.size(), 20u);
  const auto trials = Trials(sweep);
  // A trial's params without its seed: its point's values.
  auto point = [](TrialParams p) {
    p.erase(std::remove_if(p.begin(), p.end(), [](const auto& kv) { return kv.first == "seed"; }),
            p.end());
    return p;
  };
  std::set<TrialParams> distinct;
  for (size_t p = 0; p < 10; ++p) {
    EXPECT_EQ(trials[2 * p].index, static_cast<int64_t>(2 * p));
    EXPECT_EQ(point(trials[2 * p].params), point(trials[2 * p + 1].params)) << p;
    EXPECT_EQ(trials[2 * p].seed, 0u);
    EXPECT_EQ(trials[2 * p + 1].seed, 1u);
    distinct.insert(point(trials[2 * p].params));
  }
  EXPECT_EQ(distinct.size(), 10u);
}

// One point at a time: each kind of end proposes the next point in the same commit.
TEST_P(SchedulerTpeTest, EveryKindOfEndProposesTheNextPoint) {
  std::string spec = kSpec;
  spec.replace(spec.find("parallel: 3"), 11, "parallel: 1");
  spec.replace(spec.find("trials: 10"), 10, "trials: 4");
  const std::string sweep = Submit(spec, /*max_attempts=*/1);
  const std::string w = Register("w1");
  auto next = [&]() {
    auto a = AcquireNow(w);
    EXPECT_TRUE(a.ok() && a->acquired);
    EXPECT_EQ(Open(sweep), 1);
    return a.ok() ? *a : AcquireResult{};
  };
  // A transient failure out of attempts.
  auto a0 = next();
  ASSERT_TRUE(Finish(Ref(a0), TrialStatus::kFailed, FailureClass::kTransient, "x").ok());
  // A lease that expires, out of attempts.
  auto a1 = next();
  EXPECT_EQ(a1.trial.index, 1);
  clock_.AdvanceMs(options_.lease_ttl_ms + 1);
  sched_->Tick();
  // A divergence.
  auto a2 = next();
  EXPECT_EQ(a2.trial.index, 2);
  ASSERT_TRUE(Finish(Ref(a2), TrialStatus::kDiverged).ok());
  auto a3 = next();
  EXPECT_EQ(a3.trial.index, 3);
  ASSERT_TRUE(Report(Ref(a3), {0.5}).ok());
  ASSERT_TRUE(Finish(Ref(a3), TrialStatus::kSucceeded).ok());
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, SweepState::kCompleted);
  EXPECT_EQ(info->counts.total, 4);
  EXPECT_EQ(info->counts.Of(TrialStatus::kFailed), 2);
  auto none = AcquireNow(w);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->acquired);
}

TEST_P(SchedulerTpeTest, PrunedTrialsProposeTheNextPoints) {
  std::string spec = kSpec;
  spec.replace(spec.find("epochs: 3"), 9,
               "epochs: 3\npruner: {asha: {min_epochs: 1, reduction_factor: 3}}");
  const std::string sweep = Submit(spec);
  const std::string w = Register("w1");
  int pruned = 0, succeeded = 0;
  for (int step = 0; step < 100; ++step) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok());
    if (!a->acquired) break;
    EXPECT_LE(Open(sweep), 3);
    // Later points lose at the first rung against the best so far.
    const double v = 1.0 + static_cast<double>(a->trial.index) * 0.1;
    auto r = Report(Ref(*a), {v});
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->pruned) {
      ++pruned;
      continue;
    }
    auto r3 = Report(Ref(*a), {v, v, v});
    ASSERT_TRUE(r3.ok()) << r3.status();
    if (r3->pruned) {
      ++pruned;
      continue;
    }
    ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
    ++succeeded;
  }
  EXPECT_GT(pruned, 0);
  EXPECT_EQ(pruned + succeeded, 10);
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, SweepState::kCompleted);
  EXPECT_EQ(info->counts.total, 10);
}

TEST_P(SchedulerTpeTest, ACancelledSweepProposesNothingMore) {
  const std::string sweep = Submit(kSpec);
  const std::string w = Register("w1");
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok() && a->acquired);
  ASSERT_TRUE(Await<SweepInfo>([&](Callback<SweepInfo> cb) {
                sched_->CancelSweep(sweep, std::move(cb));
              }).ok());
  ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kCancelled).ok());
  RestartCoordinator();
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, SweepState::kCancelled);
  EXPECT_EQ(info->counts.total, 3);
}

// A coordinator that stored a point's end but died before its proposals (as one without this
// wiring would): the restart proposes them, once.
TEST_P(SchedulerTpeTest, ARestartMakesUpForAnEndStoredWithoutItsProposals) {
  const std::string sweep = Submit(kSpec);
  const std::string w = Register("w1");
  auto a = AcquireNow(w);
  ASSERT_TRUE(a.ok() && a->acquired);
  ASSERT_TRUE(Report(Ref(*a), {0.3}).ok());
  ASSERT_TRUE(sched_->Flush().ok());
  TrialRecord ended = a->trial;
  ended.status = TrialStatus::kSucceeded;
  ended.epochs_reported = 1;
  WriteBatch batch;
  batch.update_trials.push_back(MutableFieldsOf(ended));
  ASSERT_TRUE(store_->Write(std::move(batch)).ok());
  RestartCoordinator();
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counts.total, 4);
  EXPECT_EQ(info->counts.Of(TrialStatus::kQueued), 3);
  RestartCoordinator();
  info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counts.total, 4);
  const auto trials = Trials(sweep);
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[3].index, 3);
}

// With `auto` LR each proposed point runs its own range tests first (indexes after every point's
// trials); the point's trials wait for them, get the LR the sweep's rule reads off their curves,
// and then run; the search goes on as points end, also across a coordinator restart that finds
// trials held.
TEST_P(SchedulerTpeTest, AutoLrRunsEachPointsRangeTestsFirst) {
  const std::string sweep = Submit(R"(
dataset: {synthetic: {}}
schedule: {one_cycle: {max_lr: auto}}
epochs: 3
auto: {rule: min, range_tests: 2}
tpe:
  trials: 4
  seed: 3
  startup_trials: 2
  parallel: 2
  params:
    momentum: {uniform: [0, 0.95]}
    weight_decay: {log_uniform: [1e-6, 1e-2]}
)");
  auto info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->record.trial_count, 4 + 4 * 2);
  EXPECT_EQ(info->counts.total, 2 * 3);  // the first two points, each with two range tests
  const std::string w = Register("w1");
  std::vector<AcquireResult> ranges;
  for (int i = 0; i < 5; ++i) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok()) << a.status();
    if (!a->acquired) break;
    EXPECT_EQ(a->trial.schedule, "lr_range_test") << a->trial.index;
    EXPECT_GE(a->trial.index, 4);
    ranges.push_back(*a);
  }
  ASSERT_EQ(ranges.size(), 4u);  // the points' trials are held
  RestartCoordinator();
  for (const auto& r : ranges) {
    ASSERT_TRUE(Await<bool>([&](Callback<bool> cb) {
                  sched_->ReportLrCurve(Ref(r), CurveWithMinimumAt(0.5), std::move(cb));
                }).ok());
    ASSERT_TRUE(Finish(Ref(r), TrialStatus::kSucceeded).ok());
  }
  // Run the rest: range tests report curves, points report the fake objective.
  int trained = 0;
  for (int step = 0; step < 50; ++step) {
    auto a = AcquireNow(w);
    ASSERT_TRUE(a.ok()) << a.status();
    if (!a->acquired) break;
    if (a->trial.schedule == "lr_range_test") {
      ASSERT_TRUE(Await<bool>([&](Callback<bool> cb) {
                    sched_->ReportLrCurve(Ref(*a), CurveWithMinimumAt(0.5), std::move(cb));
                  }).ok());
    } else {
      ++trained;
      EXPECT_LT(a->trial.index, 4);
      auto spec = ParseTrialSpec(a->trial.spec_json);
      ASSERT_TRUE(spec.ok()) << spec.status();  // resolved: no auto field left
      EXPECT_NEAR(std::get<OneCycleSchedule>(spec->schedule.kind).max_lr,
                  std::pow(10.0, -3 + 27 / 10.0), 1e-9);
      const double v = Loss(a->trial, 1);
      ASSERT_TRUE(Report(Ref(*a), {v + 0.1, v}).ok());
    }
    ASSERT_TRUE(Finish(Ref(*a), TrialStatus::kSucceeded).ok());
  }
  EXPECT_EQ(trained, 4);
  info = sched_->GetSweep(sweep);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, SweepState::kCompleted);
  EXPECT_EQ(info->counts.Of(TrialStatus::kSucceeded), 12);
}

INSTANTIATE_TEST_SUITE_P(Stores, SchedulerTpeTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Sqlite") : std::string("InMemory");
                         });

}  // namespace
}  // namespace hypersweep
