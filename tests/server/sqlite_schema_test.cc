// The SQLite schema across releases: a database file written by an earlier release opens, is
// migrated, and keeps every record. tests/data/db/v<N>.db is a file written through the Store API
// by the release whose schema version is N (DISABLED_WriteFixture below, run at that release).
#include "server/store/sqlite_schema.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "sqlite3.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::ElementsAre;

// A fresh scratch directory for `name`, removed when the test binary exits.
std::string TempDir(const std::string& name) {
  static std::vector<std::unique_ptr<test_support::TempDir>> dirs;
  dirs.push_back(std::make_unique<test_support::TempDir>("hs-schema-" + name));
  return dirs.back()->path();
}

std::string FixturePath(int version) {
  return std::string(HYPERSWEEP_SOURCE_DIR) + "/tests/data/db/v" + std::to_string(version) + ".db";
}

// A copy of the fixture of `version` in a fresh directory (opening migrates the file in place).
std::string CopyOfFixture(int version, const std::string& name) {
  const std::string path = TempDir(name) + "/hs.db";
  std::filesystem::copy_file(FixturePath(version), path);
  return path;
}

// What the fixture holds: two sweeps; an auto-LR range test and the trial it resolved, trials in
// every final status and still queued or leased, epochs, an LR curve and a worker.
struct Fixture {
  std::vector<SweepRecord> sweeps;
  std::vector<TrialRecord> trials;  // in their final state, in sweep order then index
  std::map<std::string, std::vector<EpochRecord>> epochs;
  std::map<std::string, LrCurveRecord> lr_curves;
  std::vector<WorkerRecord> workers;
};

Fixture MakeFixture() {
  Fixture f;
  SweepRecord a;
  a.id = "sw-0000000a";
  a.name = "auto-lr";
  a.spec_text = "name: auto-lr\nepochs: 3\n";
  a.objective_metric = "val_loss";
  a.created_ms = 1700000000000;
  a.max_attempts = 3;
  a.trial_count = 4;
  SweepRecord b = a;
  b.id = "sw-0000000b";
  b.name = "accuracy";
  b.spec_text = "name: accuracy\nepochs: 2\n";
  b.objective_metric = "val_accuracy";
  b.maximize = true;
  b.created_ms = 1700000001000;
  b.cancelled = true;
  b.trial_count = 4;
  f.sweeps = {a, b};

  auto trial = [](const SweepRecord& s, int64_t index, const std::string& schedule) {
    TrialRecord t;
    t.id = s.id + "-" + std::to_string(index);
    t.sweep_id = s.id;
    t.index = index;
    t.spec_json = R"({"epochs":3,"schedule":")" + schedule + R"("})";
    t.params = {{"batch_size", "64"}, {"schedule", schedule}};
    t.batch_size = 64;
    t.schedule = schedule;
    t.fold = -1;
    t.seed = 11 + index;
    t.attempt = 1;
    return t;
  };
  // Sweep a: the range test (index 0) and the trials that waited for it.
  TrialRecord range = trial(a, 0, "lr_range_test");
  range.params = {{"role", "lr_range_test"},  // how the scheduler marked a range test
                  {"batch_size", "64"},
                  {"momentum", "0.9"},
                  {"weight_decay", "0"}};
  range.role = TrialRole::kLrRangeTest;  // a version-2 file has only the parameter
  range.status = TrialStatus::kSucceeded;
  range.attempt = 1;
  range.attempts_used = 1;
  range.worker_id = "w-1";
  range.epochs_reported = 0;
  TrialRecord resolved = trial(a, 1, "one_cycle");
  resolved.params.emplace_back("max_lr", "0.12");  // written by resolve_trials
  resolved.status = TrialStatus::kSucceeded;
  resolved.attempt = 2;
  resolved.attempts_used = 1;
  resolved.worker_id = "w-1";
  resolved.checkpoint_uri = "file:///ckpt/sw-0000000a-1";
  resolved.epochs_reported = 3;
  TrialRecord leased = trial(a, 2, "one_cycle");
  leased.status = TrialStatus::kLeased;
  leased.lease_token = "tok-2";
  leased.lease_expiry_ms = 1700000005000;
  leased.worker_id = "w-1";
  leased.epochs_reported = 1;
  TrialRecord queued = trial(a, 3, "one_cycle");
  // Sweep b: k-fold trials that ended every other way.
  TrialRecord diverged = trial(b, 0, "constant");
  diverged.fold = 0;
  diverged.status = TrialStatus::kDiverged;
  diverged.reason = "loss is nan at epoch 1";
  diverged.epochs_reported = 1;
  TrialRecord failed = trial(b, 1, "constant");
  failed.fold = 1;
  failed.status = TrialStatus::kFailed;
  failed.failure_class = FailureClass::kUserError;
  failed.reason = "cannot read 'missing.csv'";
  TrialRecord cancelled = trial(b, 2, "constant");
  cancelled.fold = 2;
  cancelled.status = TrialStatus::kCancelled;
  TrialRecord pruned = trial(b, 3, "constant");
  pruned.fold = 3;
  pruned.status = TrialStatus::kPruned;
  pruned.failure_class = FailureClass::kPreempted;
  pruned.attempts_used = 2;
  f.trials = {range, resolved, leased, queued, diverged, failed, cancelled, pruned};

  f.epochs[resolved.id] = {
      {0, {{"train_loss", 0.9}, {"val_loss", 0.8}, {"lr", 0.012}}},
      {1, {{"train_loss", 0.5}, {"val_loss", 0.1 + 0.2}, {"lr", 0.12}}},
      {2, {{"train_loss", 0.4}, {"val_loss", 0.35}, {"lr", 0.0012}}},
  };
  f.epochs[leased.id] = {{0, {{"train_loss", 1.1}, {"val_loss", 0.95}}}};
  f.epochs[diverged.id] = {{0, {{"val_accuracy", 0.25}}}};
  LrCurveRecord curve;
  curve.points = {{0, 1e-5, 2.30, 2.30}, {1, 1e-3, 2.10, 2.28}, {2, 0.1, 1.50, 2.20}};
  curve.suggested_lr = 0.012;
  f.lr_curves[range.id] = curve;
  WorkerRecord w;
  w.id = "w-1";
  w.host = "node7";
  w.device = "cpu";
  w.memory_bytes = 1LL << 34;
  w.libtorch_version = "1.13.1";
  w.slots = 2;
  w.registered_ms = 1700000000500;
  w.last_seen_ms = 1700000004000;
  w.max_consecutive_failures = 5;
  f.workers = {w};
  return f;
}

// Writes `f` the way the coordinator does: sweeps with queued trials, then the resolve, leases,
// epochs and final states in later batches.
absl::Status WriteFixture(Store& store, const Fixture& f) {
  WriteBatch submit;
  submit.put_sweeps = f.sweeps;
  for (const TrialRecord& t : f.trials) {
    TrialRecord q = t;
    q.status = TrialStatus::kQueued;
    q.attempt = 1;
    q.attempts_used = 0;
    q.lease_token.clear();
    q.lease_expiry_ms = 0;
    q.worker_id.clear();
    q.failure_class = FailureClass::kNone;
    q.reason.clear();
    q.checkpoint_uri.clear();
    q.epochs_reported = 0;
    if (t.params.size() > 2 && t.params.back().first == "max_lr") q.params.pop_back();
    submit.insert_trials.push_back(q);
  }
  submit.put_workers = f.workers;
  if (auto st = store.Write(std::move(submit)); !st.ok()) return st;
  WriteBatch resolve;
  for (const TrialRecord& t : f.trials) {
    if (t.params.back().first == "max_lr") resolve.resolve_trials.push_back(t);
  }
  for (const auto& [id, c] : f.lr_curves) resolve.put_lr_curves.emplace_back(id, c);
  if (auto st = store.Write(std::move(resolve)); !st.ok()) return st;
  WriteBatch report;
  for (const auto& [id, epochs] : f.epochs) {
    const std::string sweep = id.substr(0, id.rfind('-'));
    report.add_epochs.push_back(EpochsWrite{id, sweep, epochs});
  }
  if (auto st = store.Write(std::move(report)); !st.ok()) return st;
  WriteBatch end;
  for (const TrialRecord& t : f.trials) end.update_trials.push_back(MutableFieldsOf(t));
  return store.Write(std::move(end));
}

void ExpectSameTrial(const TrialRecord& got, const TrialRecord& want) {
  SCOPED_TRACE(want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.sweep_id, want.sweep_id);
  EXPECT_EQ(got.index, want.index);
  EXPECT_EQ(got.spec_json, want.spec_json);
  EXPECT_EQ(got.params, want.params);
  EXPECT_EQ(got.batch_size, want.batch_size);
  EXPECT_EQ(got.schedule, want.schedule);
  EXPECT_EQ(got.fold, want.fold);
  EXPECT_EQ(got.seed, want.seed);
  EXPECT_EQ(got.role, want.role);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.attempt, want.attempt);
  EXPECT_EQ(got.attempts_used, want.attempts_used);
  EXPECT_EQ(got.lease_token, want.lease_token);
  EXPECT_EQ(got.lease_expiry_ms, want.lease_expiry_ms);
  EXPECT_EQ(got.worker_id, want.worker_id);
  EXPECT_EQ(got.failure_class, want.failure_class);
  EXPECT_EQ(got.reason, want.reason);
  EXPECT_EQ(got.checkpoint_uri, want.checkpoint_uri);
  EXPECT_EQ(got.epochs_reported, want.epochs_reported);
}

// Everything in `f` is in `store`, read back through every read of the Store API.
void ExpectFixture(Store& store, const Fixture& f) {
  auto st = store.LoadState();
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->sweeps.size(), f.sweeps.size());
  for (size_t i = 0; i < f.sweeps.size(); ++i) {
    const SweepRecord& got = st->sweeps[i];
    const SweepRecord& want = f.sweeps[i];
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.spec_text, want.spec_text);
    EXPECT_EQ(got.objective_metric, want.objective_metric);
    EXPECT_EQ(got.maximize, want.maximize);
    EXPECT_EQ(got.created_ms, want.created_ms);
    EXPECT_EQ(got.max_attempts, want.max_attempts);
    EXPECT_EQ(got.cancelled, want.cancelled);
    EXPECT_EQ(got.trial_count, want.trial_count);
  }
  ASSERT_EQ(st->trials.size(), f.trials.size());
  for (size_t i = 0; i < f.trials.size(); ++i) ExpectSameTrial(st->trials[i], f.trials[i]);
  ASSERT_EQ(st->workers.size(), 1u);
  EXPECT_EQ(st->workers[0].host, "node7");
  EXPECT_EQ(st->workers[0].memory_bytes, 1LL << 34);
  EXPECT_EQ(st->workers[0].last_seen_ms, 1700000004000);
  EXPECT_EQ(st->workers[0].max_consecutive_failures, 5);
  EXPECT_EQ(st->epoch_numbers.size(), f.epochs.size());
  EXPECT_THAT(st->epoch_numbers["sw-0000000a-1"], ElementsAre(0, 1, 2));

  for (const auto& [id, want] : f.epochs) {
    auto got = store.GetEpochs(id, {});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want.size()) << id;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].epoch, want[i].epoch);
      EXPECT_EQ((*got)[i].values, want[i].values) << id << " epoch " << want[i].epoch;
    }
  }
  for (const auto& [id, want] : f.lr_curves) {
    auto got = store.GetLrCurve(id);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->points.size(), want.points.size());
    EXPECT_EQ(got->points[2].step, 2);
    EXPECT_EQ(got->points[2].lr, 0.1);
    EXPECT_EQ(got->points[2].smoothed_loss, 2.20);
    EXPECT_EQ(got->suggested_lr, want.suggested_lr);
  }

  // The summaries written when trials became final, and the live ones of the leased trial.
  TrialQuery q;
  q.sweep_id = "sw-0000000a";
  q.sort_metric = "val_loss";
  auto page = store.ListTrials(q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 4);
  ASSERT_EQ(page->trials.size(), 4u);
  EXPECT_EQ(page->trials[0].trial.id, "sw-0000000a-1");
  EXPECT_EQ(page->trials[0].trial.epochs_reported, 3);
  EXPECT_EQ(*page->trials[0].best_value, 0.1 + 0.2);
  EXPECT_EQ(*page->trials[0].final_value, 0.35);
  EXPECT_EQ(page->trials[0].trial.role, TrialRole::kTrain);
  EXPECT_EQ(page->trials[1].trial.id, "sw-0000000a-2");
  EXPECT_EQ(page->trials[1].trial.epochs_reported, 1);
  EXPECT_EQ(*page->trials[1].best_value, 0.95);
  q.sweep_id = "sw-0000000b";
  q.sort_metric.clear();
  q.statuses = {TrialStatus::kFailed, TrialStatus::kPruned};
  page = store.ListTrials(q);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->trials.size(), 2u);
  EXPECT_EQ(page->trials[0].trial.reason, "cannot read 'missing.csv'");
  EXPECT_EQ(page->trials[1].trial.failure_class, FailureClass::kPreempted);
  q.sweep_id = "sw-0000000a";
  q.statuses = {TrialStatus::kSucceeded};
  page = store.ListTrials(q);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->trials.size(), 2u);
  EXPECT_EQ(page->trials[0].trial.role, TrialRole::kLrRangeTest);
  EXPECT_EQ(page->trials[1].trial.role, TrialRole::kTrain);
}

// Freezes the current schema's fixture: run it (--gtest_also_run_disabled_tests) at the release
// that introduced kSchemaVersion, then VACUUM the file and commit it as tests/data/db/v<N>.db.
TEST(SqliteSchemaTest, DISABLED_WriteFixture) {
  StoreOptions o;
  o.path = TempDir("write") + "/v" + std::to_string(kSchemaVersion) + ".db";
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(WriteFixture(**store, MakeFixture()).ok());
  store->reset();
  std::filesystem::remove(o.path + ".lock");
  // The scratch directory goes at exit: the file is copied where the fixtures live.
  const std::string out = FixturePath(kSchemaVersion);
  ASSERT_FALSE(std::filesystem::exists(out)) << out << " exists: never rewrite a released fixture";
  std::filesystem::copy_file(o.path, out);
  std::printf("wrote %s\n", out.c_str());
}

TEST(SqliteSchemaTest, TheFixtureWriterWritesTheFixture) {
  StoreOptions o;
  o.path = TempDir("roundtrip") + "/hs.db";
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  const Fixture f = MakeFixture();
  ASSERT_TRUE(WriteFixture(**store, f).ok());
  ExpectFixture(**store, f);
}

// Every committed fixture (tests/data/db/README.md): v2 from before the role column, v3 from the
// release before kTrialFields derived the trials columns, v4 from the release before issue 19.
TEST(SqliteSchemaTest, OpensEveryReleasedFixture) {
  for (int version : {2, 3, 4}) {
    SCOPED_TRACE("fixture v" + std::to_string(version));
    StoreOptions o;
    o.path = CopyOfFixture(version, "v" + std::to_string(version));
    auto store = Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    ExpectFixture(**store, MakeFixture());
  }
}

int StoredVersion(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int version = -1;
  if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &stmt, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

void ExecOn(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(SqliteSchemaTest, AnOlderFileIsMigratedToTheCurrentVersion) {
  StoreOptions o;
  o.path = CopyOfFixture(2, "migrated");
  ASSERT_EQ(StoredVersion(o.path), 2);
  {
    auto store = Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  EXPECT_EQ(StoredVersion(o.path), kSchemaVersion);
  auto again = Store::Open(o);  // a current file opens as it is
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectFixture(**again, MakeFixture());
}

TEST(SqliteSchemaTest, ANewerFileIsRefusedAndLeftAlone) {
  StoreOptions o;
  o.path = CopyOfFixture(2, "newer");
  {
    auto store = Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  const int newer = kSchemaVersion + 1;
  ExecOn(o.path, "UPDATE schema_version SET version = " + std::to_string(newer));
  auto store = Store::Open(o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(store.status().message());
  EXPECT_NE(msg.find("'" + o.path + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("schema version " + std::to_string(newer)), std::string::npos) << msg;
  EXPECT_NE(msg.find("hypersweepd's " + std::to_string(kSchemaVersion)), std::string::npos) << msg;
  EXPECT_EQ(StoredVersion(o.path), newer);
}

// Migration 3 gives a trial the range-test role only for the exact parameter the scheduler wrote.
TEST(SqliteSchemaTest, MigrationTakesTheRoleFromTheRoleParameterOnly) {
  StoreOptions o;
  o.path = CopyOfFixture(2, "backfill");
  auto row = [](const std::string& id, int64_t index, const std::string& schedule,
                const std::string& params) {
    return "INSERT INTO trials SELECT '" + id + "', sweep_id, " + std::to_string(index) +
           ", spec_json, '" + params + "', batch_size, '" + schedule +
           "', fold, seed, 1, 0, 0, '', 0, '', 0, '', '', 0 FROM trials WHERE id = "
           "'sw-0000000b-0';";
  };
  ExecOn(
      o.path,
      row("x-role-other", 10, "lr_range_test", R"([["role","train"]])") +
          // A range test the user asked for in the grid is an ordinary point of the sweep.
          row("x-user-range", 11, "lr_range_test", R"([["schedule","lr_range_test"]])") +
          row("x-value-only", 12, "constant", R"([["kind","lr_range_test"],["role","x"]])") +
          row("x-not-json", 13, "constant", "not json") +
          row("x-second", 14, "lr_range_test", R"([["batch_size","8"],["role","lr_range_test"]])"));
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  auto st = (*store)->LoadState();
  ASSERT_TRUE(st.ok()) << st.status();
  std::map<std::string, TrialRole> roles;
  for (const TrialRecord& t : st->trials) roles[t.id] = t.role;
  EXPECT_EQ(roles.at("sw-0000000a-0"), TrialRole::kLrRangeTest);
  EXPECT_EQ(roles.at("sw-0000000a-1"), TrialRole::kTrain);
  EXPECT_EQ(roles.at("x-role-other"), TrialRole::kTrain);
  EXPECT_EQ(roles.at("x-user-range"), TrialRole::kTrain);
  EXPECT_EQ(roles.at("x-value-only"), TrialRole::kTrain);
  EXPECT_EQ(roles.at("x-not-json"), TrialRole::kTrain);
  EXPECT_EQ(roles.at("x-second"), TrialRole::kLrRangeTest);
}

// Releases before LrCurvePoint.diverged stored a diverged range-test step's loss as 1e30; such a
// curve reads back with the step marked diverged, not as a loss of 1e30.
TEST(SqliteSchemaTest, AnOldCurvesDivergedStepReadsAsDiverged) {
  StoreOptions o;
  o.path = CopyOfFixture(2, "legacy-diverged");
  ExecOn(o.path,
         "INSERT OR REPLACE INTO lr_curves (trial_id, points_json, suggested_lr) VALUES "
         "('sw-0000000a-0', '[[0,1e-5,2.3,2.3],[1,1e-4,2.0,2.1],[2,1e-3,1e+30,1e+30]]', NULL);");
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  auto curve = (*store)->GetLrCurve("sw-0000000a-0");
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_EQ(curve->points.size(), 3u);
  EXPECT_FALSE(curve->points[1].diverged);
  EXPECT_DOUBLE_EQ(curve->points[1].loss, 2.0);
  EXPECT_TRUE(curve->points[2].diverged);
  EXPECT_EQ(curve->points[2].loss, 0);
}

// The migrations run in one transaction: one that fails leaves the file as it was.
TEST(SqliteSchemaTest, AFailedMigrationLeavesTheFileAsItWas) {
  StoreOptions o;
  o.path = CopyOfFixture(2, "failed");
  ExecOn(o.path, "CREATE TABLE clash (x); ALTER TABLE trials ADD COLUMN role TEXT;");
  auto store = Store::Open(o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInternal);
  const std::string msg(store.status().message());
  EXPECT_NE(msg.find("'" + o.path + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("schema version 3"), std::string::npos) << msg;
  EXPECT_EQ(StoredVersion(o.path), 2);
  // Drop what broke it: the untouched version-2 file then migrates.
  ExecOn(o.path, "ALTER TABLE trials DROP COLUMN role;");
  auto retry = Store::Open(o);
  ASSERT_TRUE(retry.ok()) << retry.status();
  ExpectFixture(**retry, MakeFixture());
}

}  // namespace
}  // namespace hypersweep
