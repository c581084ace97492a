// The one place the SQLite schema lives: every migration, in order. The database records the
// version it is at (schema_version); opening a file applies the migrations it lacks, in one
// transaction, and refuses a file written by a newer version.
#ifndef HYPERSWEEP_SERVER_STORE_SQLITE_SCHEMA_H_
#define HYPERSWEEP_SERVER_STORE_SQLITE_SCHEMA_H_

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "server/store/records.h"
#include "sqlite3.h"

namespace hypersweep {

// The version of the last explicit migration (kMigrations in sqlite_schema.cc): statements other
// than adding a trials column.
inline constexpr int kLastMigrationVersion = 3;

// The newest schema version a kTrialFields column was added in.
constexpr int TrialFieldsSchemaVersion() {
  int v = 1;
  for (const TrialField& f : kTrialFields) v = std::max(v, f.schema_version);
  return v;
}

// The schema this hypersweepd writes: a new trial field with the next version number raises it,
// and the migration to that version adds the column.
inline constexpr int kSchemaVersion = std::max(kLastMigrationVersion, TrialFieldsSchemaVersion());

// Brings `db`, the database file at `path` (named in errors), to kSchemaVersion: an empty file gets
// the whole schema, an older one the migrations it lacks, all in one transaction, so on any error
// the file is left as it was. FAILED_PRECONDITION, naming the file and both versions, when the file
// was written by a newer hypersweepd (its version is above kSchemaVersion); INTERNAL when a
// migration fails.
absl::Status MigrateSchema(sqlite3* db, const std::string& path);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_SQLITE_SCHEMA_H_
