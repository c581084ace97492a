// The one place the SQLite schema lives: every migration, in order. The database records the
// version it is at (schema_version); opening a file applies the migrations it lacks, in one
// transaction, and refuses a file written by a newer version.
#ifndef HYPERSWEEP_SERVER_STORE_SQLITE_SCHEMA_H_
#define HYPERSWEEP_SERVER_STORE_SQLITE_SCHEMA_H_

#include "absl/status/status.h"
#include "sqlite3.h"

namespace hypersweep {

inline constexpr int kSchemaVersion = 2;

// Brings `db` to kSchemaVersion. FAILED_PRECONDITION for a newer file.
absl::Status MigrateSchema(sqlite3* db);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_SQLITE_SCHEMA_H_
