// Online backup and restore (server/store/backup.h): a backup taken while the store keeps
// committing holds every write acknowledged before it began and only whole batches (one commit's
// state), passes integrity_check, and is one self-contained file; a restore refuses a database a
// store holds open, an existing file without force, damaged or foreign files (naming them, never
// quoting them) and a newer schema. The last test runs the hypersweepd subcommands themselves.
#include "server/store/backup.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_schema.h"
#include "server/store/store.h"
#include "sqlite3.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr int kTrialsPerSweep = 4;
constexpr int kEpochsPerTrial = 3;
// Put in every damaged or foreign file: no error may quote it.
constexpr char kSecret[] = "SECRET-CONTENT-7f3a";

std::string SweepId(int writer, int n) {
  return "sw-" + std::to_string(writer) + "-" + std::to_string(n);
}
std::string TrialId(const std::string& sweep, int i) { return sweep + "-" + std::to_string(i); }
double Loss(int n, int trial, int epoch) { return n + trial / 10.0 + epoch / 100.0; }

// One sweep with its trials and their epochs: a batch that is in a snapshot whole or not at all.
WriteBatch SweepBatch(const std::string& sweep_id, int n) {
  WriteBatch b;
  SweepRecord s;
  s.id = sweep_id;
  s.name = "backup-" + sweep_id;
  s.spec_text = std::string(600, 'x');  // some bulk, so the file spans many pages
  s.created_ms = 1700000000000 + n;
  s.trial_count = kTrialsPerSweep;
  b.put_sweeps.push_back(s);
  for (int i = 0; i < kTrialsPerSweep; ++i) {
    TrialRecord t;
    t.id = TrialId(sweep_id, i);
    t.sweep_id = sweep_id;
    t.index = i;
    t.spec_json = R"({"epochs": 3})";
    t.params = {{"batch_size", "32"}};
    t.batch_size = 32;
    t.schedule = "constant";
    b.insert_trials.push_back(t);
    EpochsWrite w{t.id, sweep_id, {}};
    for (int e = 0; e < kEpochsPerTrial; ++e) {
      w.epochs.push_back(EpochRecord{e, {{"val_loss", Loss(n, i, e)}}});
    }
    b.add_epochs.push_back(std::move(w));
  }
  return b;
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& path, bool sync = true) {
  StoreOptions o;
  o.path = path;
  o.sync = sync;
  return Store::Open(o);
}

// Runs `sql` on the SQLite file at `path` with the plain C API (not through hypersweep).
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open";
  }
  std::string out;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* o, int, char** v, char**) {
        *static_cast<std::string*>(o) += v[0] ? v[0] : "NULL";
        return 0;
      },
      &out, nullptr);
  sqlite3_close(db);
  return out;
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

class BackupTest : public ::testing::Test {
 protected:
  std::string File(const std::string& name) const { return dir_.File(name); }

  // A closed database with `sweeps` sweeps of writer 0 (sw-0-0 ...).
  std::string MakeDatabase(const std::string& name, int sweeps) {
    const std::string path = File(name);
    auto store = OpenStore(path, /*sync=*/false);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return path;
    for (int n = 0; n < sweeps; ++n) {
      EXPECT_TRUE((*store)->Write(SweepBatch(SweepId(0, n), n)).ok());
    }
    return path;
  }
  // A backup of MakeDatabase(`sweeps`).
  std::string MakeBackup(const std::string& name, int sweeps) {
    const std::string db = MakeDatabase(name + ".src.db", sweeps);
    const std::string out = File(name);
    auto s = BackupDatabase(db, out);
    EXPECT_TRUE(s.ok()) << s.status();
    return out;
  }
  // The store at `path` holds sweeps sw-0-0 .. sw-0-(n-1), each whole.
  void ExpectSweeps(const std::string& path, int n) {
    auto store = OpenStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
    auto state = (*store)->LoadState();
    ASSERT_TRUE(state.ok()) << state.status();
    ASSERT_EQ(state->sweeps.size(), static_cast<size_t>(n));
    EXPECT_EQ(state->trials.size(), static_cast<size_t>(n * kTrialsPerSweep));
    for (int k = 0; k < n; ++k) {
      EXPECT_EQ(state->epoch_numbers[TrialId(SweepId(0, k), 0)], (std::vector<int64_t>{0, 1, 2}));
    }
  }

  test_support::TempDir dir_{"hs-backup"};
};

// The acceptance test at the store level. Four writers commit sweeps (each one batch: a sweep, its
// trials and their epochs) as fast as they can; the backup copies a few pages per step and, after
// its first step, waits until the writers have committed more, so the source changes between
// steps (the case where SQLite's backup restarts unless the snapshot is held). The backup must hold
// every sweep acknowledged before it began, and of each writer a prefix of whole sweeps.
TEST_F(BackupTest, BackupUnderConcurrentWritesHoldsEveryAcknowledgedWrite) {
  const std::string db = File("live.db");
  const std::string out = File("live.backup");
  auto opened = OpenStore(db, /*sync=*/false);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Store> store = *std::move(opened);
  // A few hundred pages before the writers start, so that the copy takes many steps.
  for (int n = 0; n < 150; ++n) ASSERT_TRUE(store->Write(SweepBatch(SweepId(9, n), n)).ok());

  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> acked[kWriters] = {};  // sweeps acknowledged (Write returned OK), per writer
  std::atomic<int64_t> total_acked{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int n = 0; !stop; ++n) {
        if (!store->Write(SweepBatch(SweepId(w, n), n)).ok()) {
          ++errors;
          return;
        }
        acked[w] = n + 1;
        ++total_acked;
      }
    });
  }
  // Let the writers get going, then take the acknowledged counts: the backup begins after this.
  while (total_acked < 40) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int acked_before[kWriters];
  for (int w = 0; w < kWriters; ++w) acked_before[w] = acked[w];

  BackupOptions options;
  options.pages_per_step = 4;
  std::vector<std::pair<int64_t, int64_t>> progress;
  int64_t acked_during = -1;
  options.progress = [&](int64_t copied, int64_t total) {
    if (progress.empty()) {  // the source must change between this step and the next
      const int64_t at = total_acked;
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (total_acked < at + 20 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      acked_during = total_acked - at;
    }
    progress.emplace_back(copied, total);
  };
  auto summary = BackupDatabase(db, out, options);
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(errors, 0);
  EXPECT_GE(acked_during, 20) << "the writers did not commit while the backup ran";

  // Progress: many steps, monotonic, ending with every page.
  ASSERT_GT(progress.size(), 10u);
  for (size_t i = 1; i < progress.size(); ++i) {
    EXPECT_GE(progress[i].first, progress[i - 1].first);
  }
  EXPECT_EQ(progress.back().first, progress.back().second);
  EXPECT_EQ(summary->pages, progress.back().second);

  // One checked, self-contained file: rollback journal mode (header bytes 18 and 19 are 1), no
  // -wal beside it, no .tmp left.
  EXPECT_EQ(IntegrityCheck(out), "ok");
  const std::string bytes = test_support::ReadFile(out);
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_EQ(bytes[18], 1);
  EXPECT_EQ(bytes[19], 1);
  EXPECT_EQ(summary->bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_FALSE(Exists(out + "-wal"));
  EXPECT_FALSE(Exists(out + ".tmp"));
  EXPECT_EQ(summary->schema_version, kSchemaVersion);

  auto backup = OpenStore(out);
  ASSERT_TRUE(backup.ok()) << backup.status();
  auto state = (*backup)->LoadState();
  ASSERT_TRUE(state.ok()) << state.status();
  std::map<std::string, const TrialRecord*> trials;
  for (const auto& t : state->trials) trials[t.id] = &t;
  std::map<int, int> in_backup;  // writer -> sweeps in the backup
  for (const auto& s : state->sweeps) {
    int w = -1, n = -1;
    ASSERT_EQ(std::sscanf(s.id.c_str(), "sw-%d-%d", &w, &n), 2) << s.id;
    if (w < kWriters) ++in_backup[w];
  }
  EXPECT_EQ(summary->sweeps, static_cast<int64_t>(state->sweeps.size()));
  EXPECT_EQ(summary->trials, static_cast<int64_t>(state->trials.size()));
  EXPECT_EQ(summary->epochs, summary->trials * kEpochsPerTrial);
  int64_t checked = 0;
  for (int w = 0; w < kWriters; ++w) {
    // Everything acknowledged before the backup began is there.
    EXPECT_GE(in_backup[w], acked_before[w]) << "writer " << w;
    // And a prefix of whole sweeps: sw-w-0 .. sw-w-(k-1), each with its trials and epochs.
    for (int n = 0; n < in_backup[w]; ++n) {
      const std::string sweep = SweepId(w, n);
      for (int i = 0; i < kTrialsPerSweep; ++i) {
        const std::string id = TrialId(sweep, i);
        ASSERT_TRUE(trials.count(id)) << id << " missing; writer " << w << " has " << in_backup[w];
        auto epochs = (*backup)->GetEpochs(id, {});
        ASSERT_TRUE(epochs.ok()) << epochs.status();
        ASSERT_EQ(epochs->size(), static_cast<size_t>(kEpochsPerTrial)) << id;
        for (int e = 0; e < kEpochsPerTrial; ++e) {
          EXPECT_EQ((*epochs)[e].epoch, e);
          EXPECT_EQ((*epochs)[e].values.at("val_loss"), Loss(n, i, e)) << id;
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 40 * kTrialsPerSweep);
  std::printf(
      "backup under writes: %zu steps, %lld pages, %lld sweeps acknowledged during it, "
      "%lld trials checked\n",
      progress.size(), static_cast<long long>(summary->pages), static_cast<long long>(acked_during),
      static_cast<long long>(checked));
}

TEST_F(BackupTest, RefusesToReplaceAnExistingBackupUnlessForced) {
  const std::string db = MakeDatabase("a.db", 3);
  const std::string out = File("a.backup");
  ASSERT_TRUE(test_support::WriteFile(out, "an older backup"));
  auto refused = BackupDatabase(db, out);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(out));
  EXPECT_EQ(test_support::ReadFile(out), "an older backup");

  BackupOptions force;
  force.force = true;
  auto replaced = BackupDatabase(db, out, force);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ(replaced->sweeps, 3);
  EXPECT_EQ(replaced->trials, 3 * kTrialsPerSweep);
  EXPECT_EQ(replaced->epochs, 3 * kTrialsPerSweep * kEpochsPerTrial);
  EXPECT_EQ(IntegrityCheck(out), "ok");
  ExpectSweeps(out, 3);

  // Not even --force writes over the database itself.
  auto self = BackupDatabase(db, db, force);
  ASSERT_EQ(self.status().code(), absl::StatusCode::kInvalidArgument) << self.status();
  ExpectSweeps(db, 3);
}

TEST_F(BackupTest, BackupOfAMissingOrForeignFileFailsNamingIt) {
  const std::string out = File("x.backup");
  auto missing = BackupDatabase(File("nope.db"), out);
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr(File("nope.db")));

  const std::string junk = File("junk.db");
  std::string text;
  for (int i = 0; i < 200; ++i) text += kSecret + std::string(" not a database\n");
  ASSERT_TRUE(test_support::WriteFile(junk, text));
  auto foreign = BackupDatabase(junk, out);
  ASSERT_EQ(foreign.status().code(), absl::StatusCode::kInvalidArgument) << foreign.status();
  EXPECT_THAT(foreign.status().message(), HasSubstr(junk));
  EXPECT_THAT(foreign.status().message(), Not(HasSubstr(kSecret)));

  // A SQLite file, but not hypersweepd's.
  const std::string other = File("other.db");
  RawExec(other, "CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('" + std::string(kSecret) + "')");
  auto stranger = BackupDatabase(other, out);
  ASSERT_EQ(stranger.status().code(), absl::StatusCode::kInvalidArgument) << stranger.status();
  EXPECT_THAT(stranger.status().message(), HasSubstr(other));
  EXPECT_THAT(stranger.status().message(), HasSubstr("not a hypersweepd database"));
  EXPECT_THAT(stranger.status().message(), Not(HasSubstr(kSecret)));

  EXPECT_FALSE(Exists(out));
  EXPECT_FALSE(Exists(out + ".tmp"));
}

TEST_F(BackupTest, RestoreInstallsTheBackupAndRemovesAStaleWal) {
  const std::string backup = MakeBackup("b.backup", 5);
  const std::string fresh = File("fresh.db");
  auto restored = RestoreDatabase(backup, fresh);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->path, fresh);
  EXPECT_EQ(restored->sweeps, 5);
  EXPECT_FALSE(Exists(fresh + ".restore.tmp"));
  ExpectSweeps(fresh, 5);

  // An existing database is kept unless forced.
  const std::string existing = MakeDatabase("existing.db", 2);
  auto refused = RestoreDatabase(backup, existing);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(existing));
  ExpectSweeps(existing, 2);

  // Forced, over a database with -wal and -shm files left behind: they go, the backup is served.
  ASSERT_TRUE(test_support::WriteFile(existing + "-wal", "a stale write-ahead log"));
  ASSERT_TRUE(test_support::WriteFile(existing + "-shm", "a stale shared-memory index"));
  BackupOptions force;
  force.force = true;
  auto replaced = RestoreDatabase(backup, existing, force);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_FALSE(Exists(existing + "-wal"));
  EXPECT_FALSE(Exists(existing + "-shm"));
  EXPECT_EQ(IntegrityCheck(existing), "ok");
  ExpectSweeps(existing, 5);
}

TEST_F(BackupTest, RestoreRefusesWhileAStoreHoldsTheDatabase) {
  const std::string backup = MakeBackup("c.backup", 4);
  const std::string db = MakeDatabase("served.db", 1);
  auto store = OpenStore(db);  // holds served.db.lock, as a running hypersweepd does
  ASSERT_TRUE(store.ok()) << store.status();
  BackupOptions force;
  force.force = true;
  auto refused = RestoreDatabase(backup, db, force);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(db + ".lock"));
  auto state = (*store)->LoadState();  // the served database is untouched
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->sweeps.size(), 1u);
  store->reset();
  // Once it is closed, the same restore goes through.
  ASSERT_TRUE(RestoreDatabase(backup, db, force).ok());
  ExpectSweeps(db, 4);
}

TEST_F(BackupTest, RestoreOfADamagedOrForeignFileFailsNamingItWithoutQuotingIt) {
  const std::string db = File("target.db");
  auto missing = RestoreDatabase(File("nope.backup"), db);
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr(File("nope.backup")));

  const std::string junk = File("junk.backup");
  std::string text;
  for (int i = 0; i < 200; ++i) text += kSecret + std::string(" not a database\n");
  ASSERT_TRUE(test_support::WriteFile(junk, text));
  auto foreign = RestoreDatabase(junk, db);
  ASSERT_EQ(foreign.status().code(), absl::StatusCode::kInvalidArgument) << foreign.status();
  EXPECT_THAT(foreign.status().message(), HasSubstr(junk));
  EXPECT_THAT(foreign.status().message(), Not(HasSubstr(kSecret)));

  // A real backup with the page headers of its later pages overwritten (an invalid page type or
  // page number: integrity_check must see it) and the marker in each; the file header is intact,
  // so SQLite opens it.
  const std::string damaged = MakeBackup("damaged.backup", 100);
  std::string bytes = test_support::ReadFile(damaged);
  ASSERT_GT(bytes.size(), 16u * 4096);
  for (size_t i = 4 * 4096; i < bytes.size() - 4096; i += 4096) {
    bytes.replace(i, 8, std::string(8, '\x7f'));
    bytes.replace(i + 100, sizeof(kSecret) - 1, kSecret);
  }
  ASSERT_TRUE(test_support::WriteFile(damaged, bytes));
  auto bad = RestoreDatabase(damaged, db);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr(damaged));
  EXPECT_THAT(bad.status().message(), Not(HasSubstr(kSecret)));

  EXPECT_FALSE(Exists(db));
  EXPECT_FALSE(Exists(db + ".restore.tmp"));
}

TEST_F(BackupTest, RestoreRefusesANewerSchemaAndTakesAnOlderOne) {
  const std::string newer = MakeBackup("newer.backup", 2);
  RawExec(newer, "UPDATE schema_version SET version = " + std::to_string(kSchemaVersion + 1));
  const std::string db = File("target.db");
  auto refused = RestoreDatabase(newer, db);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(newer));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("schema version " + std::to_string(kSchemaVersion + 1)));
  EXPECT_FALSE(Exists(db));

  // A file of an older release (tests/data/db/v2.db): restored as it is, migrated when opened.
  const std::string v2 = std::string(HYPERSWEEP_SOURCE_DIR) + "/tests/data/db/v2.db";
  auto old = RestoreDatabase(v2, db);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->schema_version, 2);
  auto store = OpenStore(db);
  ASSERT_TRUE(store.ok()) << store.status();
  auto state = (*store)->LoadState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(static_cast<int64_t>(state->trials.size()), old->trials);
  EXPECT_GT(old->trials, 0);
}

// The subcommands of the real binary: exit status, progress and summary, errors that name files.
TEST_F(BackupTest, HypersweepdBackupAndRestoreCommands) {
  using test_support::RunProgram;
  const std::string db = MakeDatabase("cli.db", 3);
  const std::string out = File("cli.backup");
  auto help = RunProgram({HYPERSWEEPD_BIN, "backup", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--out"));
  auto usage = RunProgram({HYPERSWEEPD_BIN, "backup", "--db", db});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  EXPECT_THAT(usage.err, HasSubstr("--out"));

  auto ok = RunProgram({HYPERSWEEPD_BIN, "backup", "--db", db, "--out", out});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("backup '" + out + "' from '" + db + "'"));
  EXPECT_THAT(ok.out, HasSubstr("3 sweeps, 12 trials, 36 epochs"));
  EXPECT_THAT(ok.err, HasSubstr("pages (100%)"));
  auto again = RunProgram({HYPERSWEEPD_BIN, "backup", "--db", db, "--out", out});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("pass --force"));
  EXPECT_EQ(RunProgram({HYPERSWEEPD_BIN, "backup", "--db", db, "--out", out, "--force"}).exit_code,
            0);

  const std::string junk = File("junk.backup");
  ASSERT_TRUE(test_support::WriteFile(junk, std::string(kSecret) + std::string(5000, 'z')));
  auto foreign = RunProgram({HYPERSWEEPD_BIN, "restore", "--from", junk, "--db", File("j.db")});
  EXPECT_EQ(foreign.exit_code, 2);
  EXPECT_THAT(foreign.err, HasSubstr(junk));
  EXPECT_THAT(foreign.err, Not(HasSubstr(kSecret)));

  {
    auto store = OpenStore(db);  // a running coordinator's lock
    ASSERT_TRUE(store.ok()) << store.status();
    auto busy = RunProgram({HYPERSWEEPD_BIN, "restore", "--from", out, "--db", db, "--force"});
    EXPECT_EQ(busy.exit_code, 1);
    EXPECT_THAT(busy.err, HasSubstr("in use by a running hypersweepd"));
  }
  const std::string restored = File("cli-restored.db");
  auto restore = RunProgram({HYPERSWEEPD_BIN, "restore", "--from", out, "--db", restored});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_THAT(restore.out, HasSubstr("restored '" + restored + "'"));
  EXPECT_THAT(restore.err, HasSubstr("hypersweepd --db " + restored));
  ExpectSweeps(restored, 3);

  // The coordinator's own flags are as before.
  auto plain = RunProgram({HYPERSWEEPD_BIN, "--help"});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_THAT(plain.out, HasSubstr("--listen"));
}

}  // namespace
}  // namespace hypersweep
