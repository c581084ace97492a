// One conformance suite for every Store implementation (Ray's StoreClientTestBase): each test runs
// against InMemoryStore and SqliteStore.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/group_commit.h"
#include "server/store/sqlite_schema.h"
#include "server/store/store.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::ElementsAre;

// A database path in a fresh scratch directory for `name`, removed when the test binary exits.
std::string TempPath(const std::string& name) {
  static std::vector<std::unique_ptr<test_support::TempDir>> dirs;
  dirs.push_back(std::make_unique<test_support::TempDir>("hs-store-" + name));
  return dirs.back()->File("hs.db");
}

struct Impl {
  const char* name;
  bool persistent;
};

class StoreTest : public ::testing::TestWithParam<Impl> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string n = info->name();
    for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    options_.path = GetParam().persistent ? TempPath(n) : ":memory:";
    Reopen();
  }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  static SweepRecord Sweep(const std::string& id, int64_t trials) {
    SweepRecord s;
    s.id = id;
    s.name = "name-" + id;
    s.spec_text = "dataset: {synthetic: {}}";
    s.objective_metric = "val_loss";
    s.created_ms = 1234;
    s.max_attempts = 4;
    s.trial_count = trials;
    return s;
  }
  static TrialRecord Trial(const std::string& sweep, int64_t index) {
    TrialRecord t;
    t.id = sweep + "-" + std::to_string(index);
    t.sweep_id = sweep;
    t.index = index;
    t.spec_json = R"({"epochs": 3})";
    t.params = {{"batch_size", std::to_string(32 << index)}, {"schedule", "one_cycle"}};
    t.batch_size = 32 << index;
    t.schedule = "one_cycle";
    t.fold = index % 2;
    t.seed = 7;
    return t;
  }
  absl::Status AddSweep(const std::string& id, int n) {
    WriteBatch b;
    b.put_sweeps.push_back(Sweep(id, n));
    for (int i = 0; i < n; ++i) b.insert_trials.push_back(Trial(id, i));
    return store_->Write(std::move(b));
  }
  absl::Status AddEpoch(const std::string& trial, const std::string& sweep, int64_t epoch,
                        std::map<std::string, double> m) {
    WriteBatch b;
    b.add_epochs.push_back(EpochsWrite{trial, sweep, {EpochRecord{epoch, std::move(m)}}});
    return store_->Write(std::move(b));
  }

  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, EmptyStoreLoadsNothing) {
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->sweeps.empty());
  EXPECT_TRUE(st->trials.empty());
  EXPECT_TRUE(st->workers.empty());
}

TEST_P(StoreTest, SweepsAndTrialsRoundTripInOrder) {
  ASSERT_TRUE(AddSweep("b", 3).ok());
  ASSERT_TRUE(AddSweep("a", 2).ok());
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->sweeps.size(), 2u);
  EXPECT_EQ(st->sweeps[0].id, "b");  // creation order, not id order
  EXPECT_EQ(st->sweeps[0].name, "name-b");
  EXPECT_EQ(st->sweeps[0].max_attempts, 4);
  EXPECT_EQ(st->sweeps[0].trial_count, 3);
  ASSERT_EQ(st->trials.size(), 5u);
  EXPECT_EQ(st->trials[0].id, "b-0");
  EXPECT_EQ(st->trials[2].id, "b-2");
  EXPECT_EQ(st->trials[3].id, "a-0");
  const TrialRecord& t = st->trials[1];
  EXPECT_EQ(t.spec_json, R"({"epochs": 3})");
  EXPECT_EQ(t.batch_size, 64);
  EXPECT_EQ(t.params, Trial("b", 1).params);
  EXPECT_EQ(t.status, TrialStatus::kQueued);
  EXPECT_EQ(t.fold, 1);
  EXPECT_EQ(t.seed, 7u);
}

TEST_P(StoreTest, UpdateChangesOnlyMutableFields) {
  ASSERT_TRUE(AddSweep("s", 1).ok());
  TrialRecord u = Trial("s", 0);
  u.spec_json = "ignored";
  u.status = TrialStatus::kLeased;
  u.attempt = 2;
  u.attempts_used = 1;
  u.lease_token = "tok";
  u.lease_expiry_ms = 99;
  u.worker_id = "w1";
  u.failure_class = FailureClass::kTransient;
  u.reason = "r";
  u.checkpoint_uri = "file:///ckpt";
  u.epochs_reported = 5;
  WriteBatch b;
  b.update_trials.push_back(u);
  ASSERT_TRUE(store_->Write(std::move(b)).ok());
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok());
  const TrialRecord& t = st->trials[0];
  EXPECT_EQ(t.spec_json, R"({"epochs": 3})");
  EXPECT_EQ(t.status, TrialStatus::kLeased);
  EXPECT_EQ(t.attempt, 2);
  EXPECT_EQ(t.attempts_used, 1);
  EXPECT_EQ(t.lease_token, "tok");
  EXPECT_EQ(t.lease_expiry_ms, 99);
  EXPECT_EQ(t.worker_id, "w1");
  EXPECT_EQ(t.failure_class, FailureClass::kTransient);
  EXPECT_EQ(t.reason, "r");
  EXPECT_EQ(t.checkpoint_uri, "file:///ckpt");
  EXPECT_EQ(t.epochs_reported, 5);
}

TEST_P(StoreTest, ResolveRewritesSpecAndParamsOnly) {
  ASSERT_TRUE(AddSweep("s", 2).ok());
  TrialRecord r = Trial("s", 1);
  r.spec_json = R"({"epochs": 3, "resolved": true})";
  r.params.emplace_back("max_lr", "0.1");
  r.status = TrialStatus::kFailed;  // not a resolve field: ignored
  WriteBatch b;
  b.resolve_trials.push_back(r);
  ASSERT_TRUE(store_->Write(std::move(b)).ok());
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->trials[1].spec_json, r.spec_json);
  EXPECT_EQ(st->trials[1].params, r.params);
  EXPECT_EQ(st->trials[1].status, TrialStatus::kQueued);
  EXPECT_EQ(st->trials[0].spec_json, R"({"epochs": 3})");
  // An unknown trial fails the whole batch.
  WriteBatch bad;
  bad.resolve_trials.push_back(Trial("s", 7));
  EXPECT_FALSE(store_->Write(std::move(bad)).ok());
}

// The role is written with the trial and kept; updates and resolves do not change it.
TEST_P(StoreTest, RoleIsSetOnInsertAndKept) {
  TrialRecord range = Trial("s", 0);
  range.role = TrialRole::kLrRangeTest;
  WriteBatch b;
  b.put_sweeps.push_back(Sweep("s", 2));
  b.insert_trials = {range, Trial("s", 1)};
  ASSERT_TRUE(store_->Write(std::move(b)).ok());
  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto st = store_->LoadState();
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_EQ(st->trials.size(), 2u);
    EXPECT_EQ(st->trials[0].role, TrialRole::kLrRangeTest);
    EXPECT_EQ(st->trials[1].role, TrialRole::kTrain);
    TrialQuery q;
    q.sweep_id = "s";
    auto page = store_->ListTrials(q);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->trials.size(), 2u);
    EXPECT_EQ(page->trials[0].trial.role, TrialRole::kLrRangeTest);
    EXPECT_EQ(page->trials[1].trial.role, TrialRole::kTrain);
  };
  check("inserted");
  TrialRecord done = range;
  done.status = TrialStatus::kSucceeded;
  TrialRecord resolved = Trial("s", 1);
  resolved.params.emplace_back("max_lr", "0.1");
  resolved.role = TrialRole::kLrRangeTest;  // not a resolve field: ignored
  WriteBatch later;
  later.update_trials.push_back(MutableFieldsOf(done));  // role is not a mutable field
  later.resolve_trials.push_back(resolved);
  ASSERT_TRUE(store_->Write(std::move(later)).ok());
  check("updated and resolved");
  if (GetParam().persistent) {
    Reopen();
    check("reopened");
  }
}

TEST_P(StoreTest, BadBatchChangesNothingAndOthersCommit) {
  ASSERT_TRUE(AddSweep("s", 1).ok());
  WriteBatch dup;
  dup.put_sweeps.push_back(Sweep("other", 0));
  dup.insert_trials.push_back(Trial("s", 0));  // exists
  EXPECT_EQ(store_->Write(std::move(dup)).code(), absl::StatusCode::kAlreadyExists);
  WriteBatch missing;
  missing.update_trials.push_back(Trial("s", 9));
  EXPECT_EQ(store_->Write(std::move(missing)).code(), absl::StatusCode::kNotFound);
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->sweeps.size(), 1u);  // "other" was rolled back with its batch
  EXPECT_EQ(st->trials.size(), 1u);
}

// Many batches queued at once share transactions; a bad one among them is left out alone (the
// SQLite store first tries the group without savepoints and redoes it with them on a failure).
TEST_P(StoreTest, BadBatchInsideAGroupLeavesTheOthersCommitted) {
  ASSERT_TRUE(AddSweep("s", 1).ok());
  constexpr int kBatches = 60, kBad = 30;
  absl::Mutex mu;
  int pending = kBatches;
  std::vector<absl::Status> got(kBatches);
  for (int i = 0; i < kBatches; ++i) {
    WriteBatch b;
    b.put_sweeps.push_back(Sweep("g" + std::to_string(i), 1));
    b.insert_trials.push_back(i == kBad ? Trial("s", 0)  // exists: AlreadyExists
                                        : Trial("g" + std::to_string(i), 0));
    store_->WriteAsync(std::move(b), [&, i](absl::Status st) {
      absl::MutexLock lock(&mu);
      got[i] = st;
      --pending;
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return pending == 0; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30)));
  }
  for (int i = 0; i < kBatches; ++i) {
    if (i == kBad) {
      EXPECT_EQ(got[i].code(), absl::StatusCode::kAlreadyExists) << got[i];
    } else {
      EXPECT_TRUE(got[i].ok()) << i << ": " << got[i];
    }
  }
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->sweeps.size(), 1u + kBatches - 1);  // "g30" went with its batch
  EXPECT_EQ(st->trials.size(), 1u + kBatches - 1);
  for (const auto& sw : st->sweeps) EXPECT_NE(sw.id, "g" + std::to_string(kBad));
}

TEST_P(StoreTest, EpochsAreIdempotentAndFiltered) {
  ASSERT_TRUE(AddSweep("s", 1).ok());
  ASSERT_TRUE(AddEpoch("s-0", "s", 0, {{"val_loss", 0.9}, {"lr", 0.1}}).ok());
  ASSERT_TRUE(AddEpoch("s-0", "s", 1, {{"val_loss", 0.5}, {"lr", 0.2}}).ok());
  ASSERT_TRUE(AddEpoch("s-0", "s", 1, {{"val_loss", 123.0}, {"lr", 9.0}}).ok());  // repeat: no-op
  auto all = store_->GetEpochs("s-0", {});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].epoch, 1);
  EXPECT_DOUBLE_EQ((*all)[1].values.at("val_loss"), 0.5);
  EXPECT_EQ((*all)[1].values.size(), 2u);
  auto some = store_->GetEpochs("s-0", {"lr"});
  ASSERT_TRUE(some.ok());
  EXPECT_EQ((*some)[0].values.size(), 1u);
  EXPECT_DOUBLE_EQ((*some)[0].values.at("lr"), 0.1);
  auto none = store_->GetEpochs("nope", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok());
  EXPECT_THAT(st->epoch_numbers["s-0"], ElementsAre(0, 1));
  // The repeat did not change the summary either.
  TrialQuery q;
  q.sweep_id = "s";
  q.sort_metric = "val_loss";
  q.maximize = true;
  auto page = store_->ListTrials(q);
  ASSERT_TRUE(page.ok());
  EXPECT_DOUBLE_EQ(*page->trials[0].best_value, 0.9);
  EXPECT_DOUBLE_EQ(*page->trials[0].final_value, 0.5);
}

TEST_P(StoreTest, ListTrialsSortsFiltersAndPages) {
  ASSERT_TRUE(AddSweep("s", 5).ok());
  ASSERT_TRUE(AddSweep("t", 2).ok());
  // best (min) val_loss: s-0 0.3, s-1 0.1, s-2 0.2 (final 0.6), s-3 none, s-4 0.4.
  ASSERT_TRUE(AddEpoch("s-0", "s", 0, {{"val_loss", 0.3}}).ok());
  ASSERT_TRUE(AddEpoch("s-1", "s", 0, {{"val_loss", 0.1}}).ok());
  ASSERT_TRUE(AddEpoch("s-2", "s", 0, {{"val_loss", 0.2}}).ok());
  ASSERT_TRUE(AddEpoch("s-2", "s", 1, {{"val_loss", 0.6}}).ok());
  ASSERT_TRUE(AddEpoch("s-4", "s", 3, {{"val_loss", 0.4}}).ok());
  ASSERT_TRUE(AddEpoch("t-0", "t", 0, {{"val_loss", 0.0}}).ok());
  auto ids = [](const TrialPage& p) {
    std::vector<std::string> v;
    for (const auto& e : p.trials) v.push_back(e.trial.id);
    return v;
  };
  TrialQuery q;
  q.sweep_id = "s";
  auto byindex = store_->ListTrials(q);
  ASSERT_TRUE(byindex.ok()) << byindex.status();
  EXPECT_THAT(ids(*byindex), ElementsAre("s-0", "s-1", "s-2", "s-3", "s-4"));
  EXPECT_EQ(byindex->total, 5);
  q.sort_metric = "val_loss";
  auto best = store_->ListTrials(q);
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_THAT(ids(*best), ElementsAre("s-1", "s-2", "s-0", "s-4", "s-3"));  // no value: last
  EXPECT_DOUBLE_EQ(*best->trials[1].best_value, 0.2);
  EXPECT_DOUBLE_EQ(*best->trials[1].final_value, 0.6);
  EXPECT_FALSE(best->trials[4].best_value.has_value());
  q.sort_by_final = true;
  auto fin = store_->ListTrials(q);
  ASSERT_TRUE(fin.ok());
  EXPECT_THAT(ids(*fin), ElementsAre("s-1", "s-0", "s-4", "s-2", "s-3"));
  q.sort_by_final = false;
  // Index order, with each trial's values of the metric still reported.
  q.order_by_index = true;
  auto indexed = store_->ListTrials(q);
  ASSERT_TRUE(indexed.ok());
  EXPECT_THAT(ids(*indexed), ElementsAre("s-0", "s-1", "s-2", "s-3", "s-4"));
  EXPECT_DOUBLE_EQ(*indexed->trials[2].best_value, 0.2);
  EXPECT_DOUBLE_EQ(*indexed->trials[2].final_value, 0.6);
  EXPECT_FALSE(indexed->trials[3].best_value.has_value());
  q.order_by_index = false;
  q.maximize = true;
  auto max = store_->ListTrials(q);
  ASSERT_TRUE(max.ok());
  EXPECT_THAT(ids(*max), ElementsAre("s-2", "s-4", "s-0", "s-1", "s-3"));
  q.maximize = false;
  q.offset = 1;
  q.limit = 2;
  auto page = store_->ListTrials(q);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(ids(*page), ElementsAre("s-2", "s-0"));
  EXPECT_EQ(page->total, 5);
  // Status filter.
  TrialRecord u = Trial("s", 2);
  u.status = TrialStatus::kSucceeded;
  WriteBatch b;
  b.update_trials.push_back(u);
  ASSERT_TRUE(store_->Write(std::move(b)).ok());
  TrialQuery f;
  f.sweep_id = "s";
  f.statuses = {TrialStatus::kSucceeded};
  auto done = store_->ListTrials(f);
  ASSERT_TRUE(done.ok());
  EXPECT_THAT(ids(*done), ElementsAre("s-2"));
  EXPECT_EQ(done->total, 1);
  f.sweep_id = "unknown";
  auto empty = store_->ListTrials(f);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->total, 0);
}

// SqliteStore summarizes a trial's metrics when it becomes final and computes a running trial's
// from its epochs; either way ListTrials must give the same answers, bit-exact, and a running
// trial's epochs_reported is its stored epochs (the scheduler does not rewrite it per report).
TEST_P(StoreTest, SummariesAreTheSameForRunningFinishedAndReopenedTrials) {
  ASSERT_TRUE(AddSweep("s", 3).ok());
  const double inexact = 0.1 + 0.2;  // 0.30000000000000004: must come back as written
  TrialRecord leased = Trial("s", 0);
  leased.status = TrialStatus::kLeased;
  WriteBatch lease;
  lease.update_trials.push_back(leased);
  ASSERT_TRUE(store_->Write(std::move(lease)).ok());
  ASSERT_TRUE(AddEpoch("s-0", "s", 0, {{"val_loss", 0.5}, {"acc", 0.1}}).ok());
  ASSERT_TRUE(AddEpoch("s-0", "s", 1, {{"val_loss", inexact}}).ok());
  ASSERT_TRUE(AddEpoch("s-0", "s", 2, {{"val_loss", 0.4}, {"acc", 0.2}}).ok());
  // s-1 ends in the same batch as its last epoch; s-2 never reports.
  ASSERT_TRUE(AddEpoch("s-1", "s", 0, {{"val_loss", 0.2}}).ok());
  TrialRecord done = Trial("s", 1);
  done.status = TrialStatus::kSucceeded;
  done.epochs_reported = 2;
  WriteBatch finish;
  finish.update_trials.push_back(done);
  finish.add_epochs.push_back(EpochsWrite{"s-1", "s", {EpochRecord{1, {{"val_loss", 0.7}}}}});
  ASSERT_TRUE(store_->Write(std::move(finish)).ok());

  auto list = [&](const std::string& metric, bool by_final, bool maximize) {
    TrialQuery q;
    q.sweep_id = "s";
    q.sort_metric = metric;
    q.sort_by_final = by_final;
    q.maximize = maximize;
    auto page = store_->ListTrials(q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    for (const auto& e : page->trials) {
      std::ostringstream line;
      line.precision(17);
      line << e.trial.id << " n=" << e.trial.epochs_reported;
      if (e.best_value) line << " best=" << *e.best_value;
      if (e.final_value) line << " final=" << *e.final_value;
      out.push_back(line.str());
    }
    return out;
  };
  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    EXPECT_THAT(
        list("val_loss", false, false),
        ElementsAre("s-1 n=2 best=0.20000000000000001 final=0.69999999999999996",
                    "s-0 n=3 best=0.30000000000000004 final=0.40000000000000002", "s-2 n=0"));
    EXPECT_THAT(
        list("val_loss", true, false),
        ElementsAre("s-0 n=3 best=0.30000000000000004 final=0.40000000000000002",
                    "s-1 n=2 best=0.20000000000000001 final=0.69999999999999996", "s-2 n=0"));
    EXPECT_THAT(list("val_loss", false, true),
                ElementsAre("s-1 n=2 best=0.69999999999999996 final=0.69999999999999996",
                            "s-0 n=3 best=0.5 final=0.40000000000000002", "s-2 n=0"));
    // A metric missing from some epochs: the final value is the last epoch that has it.
    EXPECT_THAT(list("acc", true, true),
                ElementsAre("s-0 n=3 best=0.20000000000000001 final=0.20000000000000001", "s-1 n=2",
                            "s-2 n=0"));
  };
  check("s-0 running");
  TrialRecord finished = leased;
  finished.status = TrialStatus::kSucceeded;
  finished.epochs_reported = 3;
  WriteBatch last;
  last.update_trials.push_back(finished);
  ASSERT_TRUE(store_->Write(std::move(last)).ok());
  check("s-0 finished");
  if (GetParam().persistent) {
    Reopen();
    check("reopened");
  }
}

TEST_P(StoreTest, LrCurves) {
  ASSERT_TRUE(AddSweep("s", 1).ok());
  EXPECT_EQ(store_->GetLrCurve("s-0").status().code(), absl::StatusCode::kNotFound);
  LrCurveRecord c;
  c.points = {{0, 1e-5, 2.3, 2.3}, {1, 1e-4, 2.1, 2.2}, {2, 1e-3, 0, 0, /*diverged=*/true}};
  c.suggested_lr = 0.03;
  WriteBatch b;
  b.put_lr_curves.emplace_back("s-0", c);
  ASSERT_TRUE(store_->Write(std::move(b)).ok());
  auto got = store_->GetLrCurve("s-0");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->points.size(), 3u);
  EXPECT_EQ(got->points[1].step, 1);
  EXPECT_DOUBLE_EQ(got->points[1].smoothed_loss, 2.2);
  EXPECT_FALSE(got->points[1].diverged);
  // A diverged step stays a divergence, not a number.
  EXPECT_TRUE(got->points[2].diverged);
  EXPECT_DOUBLE_EQ(got->points[2].lr, 1e-3);
  EXPECT_DOUBLE_EQ(*got->suggested_lr, 0.03);
}

TEST_P(StoreTest, Workers) {
  WorkerRecord w;
  w.id = "w1";
  w.host = "node7";
  w.device = "cuda:0";
  w.memory_bytes = 80LL << 30;
  w.libtorch_version = "2.1";
  w.slots = 2;
  w.consecutive_failures = 3;
  w.quarantined = true;
  WriteBatch b;
  b.put_workers.push_back(w);
  ASSERT_TRUE(store_->Write(std::move(b)).ok());
  w.slots = 4;
  WriteBatch b2;
  b2.put_workers.push_back(w);
  ASSERT_TRUE(store_->Write(std::move(b2)).ok());
  auto st = store_->LoadState();
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->workers.size(), 1u);
  EXPECT_EQ(st->workers[0].host, "node7");
  EXPECT_EQ(st->workers[0].memory_bytes, 80LL << 30);
  EXPECT_EQ(st->workers[0].slots, 4);
  EXPECT_TRUE(st->workers[0].quarantined);
}

TEST_P(StoreTest, ConcurrentWritersAreAllAcknowledgedAfterCommitAndGrouped) {
  ASSERT_TRUE(AddSweep("s", 16).ok());
  constexpr int kThreads = 16, kEpochs = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string id = "s-" + std::to_string(i);
      for (int e = 0; e < kEpochs; ++e) {
        if (!AddEpoch(id, "s", e, {{"val_loss", 1.0 / (e + 1)}}).ok()) ++failures;
        // Acknowledged means visible to a reader.
        auto got = store_->GetEpochs(id, {});
        if (!got.ok() || static_cast<int>(got->size()) != e + 1) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto* g = dynamic_cast<GroupCommitStore*>(store_.get());
  ASSERT_NE(g, nullptr);
  EXPECT_LT(g->TEST_commits(), kThreads * kEpochs + 1) << "no two writes shared a transaction";
  if (GetParam().persistent) {
    Reopen();
    for (int i = 0; i < kThreads; ++i) {
      auto got = store_->GetEpochs("s-" + std::to_string(i), {});
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->size(), static_cast<size_t>(kEpochs));
    }
  }
}

TEST_P(StoreTest, WritesAfterCloseAreUnavailable) {
  store_->Close();
  WriteBatch b;
  b.put_sweeps.push_back(Sweep("x", 0));
  EXPECT_EQ(store_->Write(std::move(b)).code(), absl::StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(All, StoreTest,
                         ::testing::Values(Impl{"InMemory", false}, Impl{"Sqlite", true}),
                         [](const ::testing::TestParamInfo<Impl>& i) { return i.param.name; });

// SQLite-only: what the file keeps.
TEST(SqliteStoreTest, SurvivesReopenAndRecordsTheSchemaVersion) {
  StoreOptions o;
  o.path = TempPath("reopen");
  {
    auto s = Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    WriteBatch b;
    SweepRecord w;
    w.id = "s";
    b.put_sweeps.push_back(w);
    ASSERT_TRUE((*s)->Write(std::move(b)).ok());
  }
  auto s = Store::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  auto st = (*s)->LoadState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->sweeps.size(), 1u);
  s->reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  // A file from a newer hypersweepd is refused, not silently used.
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 999", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto newer = Store::Open(o);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SqliteStoreTest, OneStorePerFile) {
  StoreOptions o;
  o.path = TempPath("exclusive");
  auto first = Store::Open(o);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Store::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(second.status().message()).find("in use by another hypersweepd"),
            std::string::npos);
  first->reset();
  EXPECT_TRUE(Store::Open(o).ok());  // released on close
}

TEST(SqliteStoreTest, UnopenablePathIsUnavailable) {
  StoreOptions o;
  o.path = "/nonexistent-dir/x/hs.db";
  auto s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace hypersweep
