// Online backup and restore of the coordinator's SQLite file (`hypersweepd backup|restore`,
// docs/OPERATIONS.md).
//
// BackupDatabase copies the database with SQLite's online backup API from its own read-only
// connection while hypersweepd keeps serving (WAL mode: a reader never blocks the writer, and the
// coordinator's <db>.lock is not taken). The whole copy runs inside one read transaction on the
// source, so the snapshot is the database as of one commit, the latest one committed when the
// backup began: every write acknowledged before BackupDatabase was called is in it, and nothing
// of a transaction that was not committed. Holding that transaction also keeps the copy from
// restarting when the coordinator commits meanwhile (the backup API restarts a copy whose source
// changed between steps), so a backup finishes under any write load.
//
// RestoreDatabase installs a checked backup as a coordinator's database file, while no hypersweepd
// holds it. Neither function ever puts file contents in an error; errors name the file.
#ifndef HYPERSWEEP_SERVER_STORE_BACKUP_H_
#define HYPERSWEEP_SERVER_STORE_BACKUP_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace hypersweep {

struct BackupOptions {
  // Replace an existing output file (the backup's --out, the restore's --db).
  bool force = false;
  // Pages copied per sqlite3_backup_step; the progress callback runs after each step.
  int pages_per_step = 1024;
  // Called after each step with the pages copied so far and the total.
  using ProgressFn = std::function<void(int64_t copied, int64_t total)>;
  ProgressFn progress;
};

// What a backup or a restore wrote: the file, its size, and what the snapshot holds.
struct BackupSummary {
  std::string path;  // the file written (the backup, or the restored database)
  int64_t bytes = 0;
  int64_t pages = 0;
  int schema_version = 0;
  int64_t sweeps = 0;
  int64_t trials = 0;
  int64_t epochs = 0;
  double seconds = 0;  // wall time of the copy
};

// Writes a consistent snapshot of the hypersweepd database `db_path` to `out_path`: the copy goes
// to `out_path`.tmp, must pass PRAGMA integrity_check and have a schema_version table, is fsynced
// and renamed onto `out_path` (so `out_path` is either absent or a whole, checked backup). The
// backup is one self-contained file (rollback journal mode, no -wal). Errors:
//   NOT_FOUND         `db_path` does not exist
//   INVALID_ARGUMENT  `db_path` is not a SQLite file or not a hypersweepd database, or
//                     `out_path` is the database itself
//   ALREADY_EXISTS    `out_path` exists and options.force is false
//   DATA_LOSS         the copy fails PRAGMA integrity_check: the database itself is damaged
//   UNAVAILABLE/INTERNAL  reading, writing or renaming failed
// On any error `out_path` is untouched and the .tmp file is removed.
absl::StatusOr<BackupSummary> BackupDatabase(const std::string& db_path,
                                             const std::string& out_path,
                                             const BackupOptions& options = {});

// Installs the backup `backup_path` as the database `db_path`. The backup is copied to
// `db_path`.restore.tmp and checked there (PRAGMA integrity_check, a schema_version not newer than
// this binary's kSchemaVersion); then stale `db_path`-wal and -shm files are removed and the copy
// is fsynced and renamed onto `db_path`. Holds `db_path`.lock (the flock every hypersweepd takes
// on its database) throughout, so no coordinator can open the file meanwhile. An older schema is
// fine: the coordinator migrates it when it opens the file. Errors:
//   NOT_FOUND         `backup_path` does not exist
//   INVALID_ARGUMENT  the backup is not a SQLite file, fails its integrity check, is not a
//                     hypersweepd database, has a newer schema, or is `db_path` itself
//   ALREADY_EXISTS    `db_path` exists and options.force is false
//   UNAVAILABLE       a hypersweepd holds `db_path`.lock
//   INTERNAL          copying, writing or renaming failed (the .tmp file is removed)
absl::StatusOr<BackupSummary> RestoreDatabase(const std::string& backup_path,
                                              const std::string& db_path,
                                              const BackupOptions& options = {});

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_BACKUP_H_
