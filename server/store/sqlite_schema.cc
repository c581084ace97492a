#include "server/store/sqlite_schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/store/records.h"
#include "server/store/sqlite_trials.h"

namespace hypersweep {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: never edit a migration that has shipped; add the next one.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE sweeps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  spec_text TEXT NOT NULL,
  objective_metric TEXT NOT NULL,
  maximize INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  cancelled INTEGER NOT NULL,
  trial_count INTEGER NOT NULL
);
CREATE TABLE trials (
  id TEXT PRIMARY KEY,
  sweep_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  spec_json TEXT NOT NULL,
  params_json TEXT NOT NULL,
  batch_size INTEGER NOT NULL,
  schedule TEXT NOT NULL,
  fold INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  status INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  attempts_used INTEGER NOT NULL,
  lease_token TEXT NOT NULL,
  lease_expiry_ms INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  failure_class INTEGER NOT NULL,
  reason TEXT NOT NULL,
  checkpoint_uri TEXT NOT NULL,
  epochs_reported INTEGER NOT NULL
);
-- ListTrials by index, and filtered by status.
CREATE UNIQUE INDEX trials_by_sweep ON trials (sweep_id, idx);
CREATE INDEX trials_by_status ON trials (sweep_id, status, idx);
CREATE TABLE epochs (
  trial_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  metrics_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, epoch)
) WITHOUT ROWID;
-- Per (trial, metric): best and final values, kept current on every epoch insert so that
-- "sort by best val_loss" joins one row per trial (by this primary key) instead of aggregating
-- every epoch. No secondary indexes: ListTrials starts from trials_by_sweep, and each would cost
-- an index update per metric per epoch.
CREATE TABLE trial_metrics (
  trial_id TEXT NOT NULL,
  name TEXT NOT NULL,
  sweep_id TEXT NOT NULL,
  min_value REAL NOT NULL,
  max_value REAL NOT NULL,
  final_epoch INTEGER NOT NULL,
  final_value REAL NOT NULL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;
CREATE TABLE lr_curves (
  trial_id TEXT PRIMARY KEY,
  points_json TEXT NOT NULL,
  suggested_lr REAL
);
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  device TEXT NOT NULL,
  memory_bytes INTEGER NOT NULL,
  libtorch_version TEXT NOT NULL,
  slots INTEGER NOT NULL,
  registered_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  consecutive_failures INTEGER NOT NULL,
  quarantined INTEGER NOT NULL
);
)sql"},
    // The worker's own quarantine threshold (hypersweep-worker --max-consecutive-failures);
    // 0: the coordinator's default.
    {2, R"sql(
ALTER TABLE workers ADD COLUMN max_failures INTEGER NOT NULL DEFAULT 0;
)sql"},
    // The trial's role (TrialRole: 0 train, 1 LR range test; the column is added from
    // kTrialFields). Up to version 2 a range test was marked only by the parameter
    // ["role", "lr_range_test"] in params_json; existing rows take their role from it.
    {3, R"sql(
UPDATE trials SET role = 1 WHERE EXISTS (
  SELECT 1 FROM json_each(CASE WHEN json_valid(trials.params_json) THEN trials.params_json
                                ELSE '[]' END) p
  WHERE json_extract(p.value, '$[0]') = 'role' AND json_extract(p.value, '$[1]') = 'lr_range_test');
)sql"},
};

static_assert(static_cast<int>(TrialRole::kLrRangeTest) == 1, "migration 3 stores it as 1");

// kMigrations holds versions 1, 2, ..., kLastMigrationVersion in order: bumping one without the
// other does not compile. Versions after it may come from kTrialFields alone.
constexpr bool MigrationsRunUpTo(int version) {
  int next = 1;
  for (const Migration& m : kMigrations) {
    if (m.version != next++) return false;
  }
  return next - 1 == version;
}
static_assert(MigrationsRunUpTo(kLastMigrationVersion),
              "kMigrations must end at kLastMigrationVersion");

// The explicit statements of migration `version` ("" when it only adds trials columns).
std::string MigrationSql(int version) {
  for (const Migration& m : kMigrations) {
    if (m.version == version) return m.sql;
  }
  return "";
}

absl::Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status st = absl::InternalError(absl::StrCat("sqlite: ", err ? err : "?"));
    sqlite3_free(err);
    return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MigrateSchema(sqlite3* db, const std::string& path) {
  if (auto st = Exec(db, "BEGIN IMMEDIATE"); !st.ok()) return st;
  auto fail = [db](absl::Status st) {
    Exec(db, "ROLLBACK").IgnoreError();
    return st;
  };
  if (auto st = Exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      !st.ok()) {
    return fail(st);
  }
  int current = 0;  // an empty schema_version table: a new file
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return fail(absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db))));
  }
  if (sqlite3_step(stmt) == SQLITE_ROW) current = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  if (current > kSchemaVersion) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "database '", path, "' has schema version ", current, ", newer than this hypersweepd's ",
        kSchemaVersion, "; open it with the hypersweepd that wrote it, or a newer one")));
  }
  for (int version = current + 1; version <= kSchemaVersion; ++version) {
    // The trials columns this version adds (kTrialFields), then the migration's own statements.
    absl::Status st = Exec(db, AddTrialColumnsSql(version) + MigrationSql(version));
    if (st.ok()) {
      st = Exec(db, absl::StrCat("DELETE FROM schema_version; INSERT INTO schema_version VALUES (",
                                 version, ")"));
    }
    if (!st.ok()) {
      return fail(absl::InternalError(absl::StrCat(
          "migrating database '", path, "' to schema version ", version, ": ", st.message())));
    }
  }
  if (auto st = Exec(db, "COMMIT"); !st.ok()) return fail(st);
  return absl::OkStatus();
}

}  // namespace hypersweep
