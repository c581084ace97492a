#include "server/store/backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/store/sqlite_schema.h"
#include "sqlite3.h"

namespace hypersweep {
namespace {

using Clock = std::chrono::steady_clock;

// A connection that closes itself.
class Db {
 public:
  Db() = default;
  ~Db() { Close().IgnoreError(); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // `flags`: SQLITE_OPEN_READONLY, or READWRITE | CREATE. Errors name `path`.
  absl::Status Open(const std::string& path, int flags) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      absl::Status st = absl::InternalError(
          absl::StrCat("cannot open '", path, "': ", db_ ? sqlite3_errmsg(db_) : "out of memory"));
      sqlite3_close(db_);
      db_ = nullptr;
      return st;
    }
    sqlite3_busy_timeout(db_, 5000);
    return absl::OkStatus();
  }
  // Closes the connection; an error here (e.g. a failed final write) is reported.
  absl::Status Close() {
    if (db_ == nullptr) return absl::OkStatus();
    const int rc = sqlite3_close(db_);
    db_ = nullptr;
    if (rc != SQLITE_OK) return absl::InternalError(absl::StrCat("close: ", sqlite3_errstr(rc)));
    return absl::OkStatus();
  }
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// An error about the SQLite file `path` after a failed call on `db` while doing `what`. A file
// that is not a database, or a damaged one, is bad input (INVALID_ARGUMENT); busy and I/O errors
// may pass (UNAVAILABLE); anything else is INTERNAL. sqlite3_errmsg never quotes the file's data.
absl::Status FileError(sqlite3* db, const std::string& path, const std::string& what) {
  const int code = sqlite3_errcode(db);
  if (code == SQLITE_NOTADB) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a SQLite database (", sqlite3_errmsg(db), ")"));
  }
  const std::string msg = absl::StrCat("'", path, "': ", what, ": ", sqlite3_errmsg(db));
  switch (code) {
    case SQLITE_CORRUPT:
      return absl::InvalidArgumentError(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status ExecOn(sqlite3* db, const std::string& path, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return FileError(db, path, sql);
  }
  return absl::OkStatus();
}

// Runs a query that returns one row of integers and reads its `n` columns into `out`.
absl::Status QueryInts(sqlite3* db, const std::string& path, const char* sql, int64_t* out, int n,
                       bool* null_first = nullptr) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return FileError(db, path, sql);
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    absl::Status st = FileError(db, path, sql);
    sqlite3_finalize(s);
    return st;
  }
  for (int i = 0; i < n; ++i) out[i] = sqlite3_column_int64(s, i);
  if (null_first != nullptr) *null_first = sqlite3_column_type(s, 0) == SQLITE_NULL;
  sqlite3_finalize(s);
  return absl::OkStatus();
}

bool Exists(const std::string& path, struct stat* st = nullptr) {
  struct stat buf;
  return ::stat(path.c_str(), st ? st : &buf) == 0;
}

// True when `a` and `b` name the same existing file.
bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return Exists(a, &sa) && Exists(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

// Removes `path` if it is there.
absl::Status RemoveIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("cannot remove", path);
  return absl::OkStatus();
}

// A SQLite file and the files SQLite may keep next to it.
void RemoveDatabaseFiles(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    RemoveIfPresent(path + suffix).IgnoreError();
  }
}

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// fsync `tmp`, rename it onto `path`, fsync the directory: after a crash `path` is the old file
// or the whole new one.
absl::Status Install(const std::string& tmp, const std::string& path) {
  RETURN_IF_ERROR(FsyncPath(tmp, O_RDONLY));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno)));
  }
  return FsyncPath(DirOf(path), O_RDONLY | O_DIRECTORY);
}

// Opens `path` read-only and starts a read transaction on it: everything read through the
// connection until it ends comes from one commit. `label` ("database", "backup") names the file
// in errors.
absl::Status OpenSnapshot(Db& db, const std::string& path, const std::string& label) {
  RETURN_IF_ERROR(db.Open(path, SQLITE_OPEN_READONLY));
  RETURN_IF_ERROR(ExecOn(db.get(), path, "BEGIN"));
  int64_t tables = 0;
  if (auto st = QueryInts(db.get(), path, "SELECT count(*) FROM sqlite_master", &tables, 1);
      !st.ok()) {
    return absl::Status(st.code(), absl::StrCat(label, " ", st.message()));
  }
  if (sqlite3_txn_state(db.get(), "main") != SQLITE_TXN_READ) {
    return absl::InternalError(absl::StrCat(label, " '", path, "': no read transaction"));
  }
  return absl::OkStatus();
}

// Copies every page of `src` (in a read transaction, which the copy keeps: it never restarts)
// into the new file `dest_path`, reporting progress after each step.
absl::Status CopyPages(sqlite3* src, const std::string& src_path, Db& dest,
                       const std::string& dest_path, const BackupOptions& options, int64_t* pages) {
  RETURN_IF_ERROR(dest.Open(dest_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", src, "main");
  if (b == nullptr) return FileError(dest.get(), dest_path, "backup init");
  const int step = options.pages_per_step > 0 ? options.pages_per_step : -1;
  int64_t last_remaining = -1;
  auto busy_since = Clock::now();
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(b, step);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      if (Clock::now() - busy_since > std::chrono::seconds(10)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    busy_since = Clock::now();
    if (rc != SQLITE_OK && rc != SQLITE_DONE) break;
    const int64_t total = sqlite3_backup_pagecount(b);
    const int64_t remaining = sqlite3_backup_remaining(b);
    // The source's read transaction pins its snapshot, so the copy never starts over.
    if (last_remaining >= 0 && remaining > last_remaining) {
      sqlite3_backup_finish(b);
      return absl::InternalError(
          absl::StrCat("backup of '", src_path, "' restarted: its snapshot was not held"));
    }
    last_remaining = remaining;
    if (options.progress) options.progress(total - remaining, total);
    *pages = total;
    if (rc == SQLITE_DONE) break;
  }
  sqlite3_backup_finish(b);
  if (rc == SQLITE_DONE) return absl::OkStatus();
  const std::string msg =
      absl::StrCat("copying '", src_path, "' to '", dest_path, "': ", sqlite3_errstr(rc));
  switch (rc) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::InvalidArgumentError(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// The schema version of the hypersweepd database open on `db`. INVALID_ARGUMENT naming `path`
// when it has none (not a hypersweepd database).
absl::StatusOr<int> SchemaVersion(sqlite3* db, const std::string& path) {
  int64_t has_table = 0;
  RETURN_IF_ERROR(QueryInts(
      db, path,
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
      &has_table, 1));
  int64_t version = 0;
  bool null = true;
  if (has_table) {
    RETURN_IF_ERROR(
        QueryInts(db, path, "SELECT MAX(version) FROM schema_version", &version, 1, &null));
  }
  if (!has_table || null || version < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' has no schema version (no schema_version row): not a hypersweepd database"));
  }
  return static_cast<int>(version);
}

// Checks the copy open on `db` at `path` (PRAGMA integrity_check, its schema version) and counts
// what it holds.
absl::Status CheckCopy(sqlite3* db, const std::string& path, BackupSummary* summary) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) != SQLITE_OK) {
    return FileError(db, path, "PRAGMA integrity_check");
  }
  // The problems themselves are not echoed (they can quote names from the file); the count is.
  int64_t problems = 0;
  bool ok = false;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    if (text != nullptr && std::strcmp(text, "ok") == 0) {
      ok = true;
    } else {
      ++problems;
    }
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return FileError(db, path, "PRAGMA integrity_check");
  if (!ok || problems > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("fails PRAGMA integrity_check (", problems,
                     " problems; `sqlite3 FILE 'PRAGMA integrity_check'` lists them)"));
  }
  ASSIGN_OR_RETURN(summary->schema_version, SchemaVersion(db, path));
  int64_t counts[3] = {0, 0, 0};
  if (auto st = QueryInts(db, path,
                          "SELECT (SELECT count(*) FROM sweeps), (SELECT count(*) FROM trials), "
                          "(SELECT count(*) FROM epochs)",
                          counts, 3);
      !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("lacks the sweeps, trials or epochs table: ", st.message()));
  }
  summary->sweeps = counts[0];
  summary->trials = counts[1];
  summary->epochs = counts[2];
  return absl::OkStatus();
}

// An exclusive flock on <db>.lock, as SqliteStore::Init takes it; released on destruction.
class DbLock {
 public:
  ~DbLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Acquire(const std::string& db_path) {
    const std::string lock_path = db_path + ".lock";
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoError("cannot open lock file", lock_path);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return absl::UnavailableError(
          absl::StrCat("database '", db_path, "' is in use by a running hypersweepd (", lock_path,
                       " is locked); stop it before restoring"));
    }
    return absl::OkStatus();
  }

 private:
  int fd_ = -1;
};

// Removes a .tmp file (and SQLite's files beside it) unless Release()d.
class TmpFile {
 public:
  explicit TmpFile(std::string path) : path_(std::move(path)) {}
  ~TmpFile() {
    if (!path_.empty()) RemoveDatabaseFiles(path_);
  }
  const std::string& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

// Puts the copy in rollback-journal mode (one self-contained file, no -wal), checks it, closes it.
// Errors start with `name`, the file the copy was made from.
absl::Status FinishCopy(Db& dest, const std::string& tmp, const std::string& name,
                        BackupSummary* summary) {
  absl::Status st = ExecOn(dest.get(), tmp, "PRAGMA journal_mode=DELETE");
  if (st.ok()) st = CheckCopy(dest.get(), tmp, summary);
  if (st.ok()) st = dest.Close();
  if (st.ok()) return st;
  return absl::Status(st.code(),
                      absl::StrCat(name, " (checked in its copy '", tmp, "'): ", st.message()));
}

}  // namespace

absl::StatusOr<BackupSummary> BackupDatabase(const std::string& db_path,
                                             const std::string& out_path,
                                             const BackupOptions& options) {
  const auto start = Clock::now();
  if (!Exists(db_path)) {
    return absl::NotFoundError(absl::StrCat("database '", db_path, "' does not exist"));
  }
  if (SameFile(db_path, out_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup '", out_path, "' is the database '", db_path, "' itself"));
  }
  if (Exists(out_path) && !options.force) {
    return absl::AlreadyExistsError(
        absl::StrCat("backup '", out_path, "' exists; pass --force to replace it"));
  }
  BackupSummary summary;
  summary.path = out_path;
  {
    // The snapshot: the source's read transaction lasts until `src` closes, right after the copy,
    // so the coordinator's WAL can be checkpointed again while the copy is being checked.
    Db src;
    RETURN_IF_ERROR(OpenSnapshot(src, db_path, "database"));
    RETURN_IF_ERROR(SchemaVersion(src.get(), db_path).status());  // fail early on a stranger
    TmpFile tmp(out_path + ".tmp");
    RemoveDatabaseFiles(tmp.path());  // left behind by a backup that was killed
    Db dest;
    RETURN_IF_ERROR(CopyPages(src.get(), db_path, dest, tmp.path(), options, &summary.pages));
    RETURN_IF_ERROR(src.Close());
    if (auto st = FinishCopy(dest, tmp.path(), absl::StrCat("database '", db_path, "'"), &summary);
        !st.ok()) {
      // The copy of a database that passed its own reads fails its check: the source is damaged.
      if (absl::IsInvalidArgument(st)) return absl::DataLossError(st.message());
      return st;
    }
    RETURN_IF_ERROR(Install(tmp.path(), out_path));
    tmp.Release();
  }
  struct stat st;
  if (::stat(out_path.c_str(), &st) != 0) return ErrnoError("cannot stat", out_path);
  summary.bytes = st.st_size;
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

absl::StatusOr<BackupSummary> RestoreDatabase(const std::string& backup_path,
                                              const std::string& db_path,
                                              const BackupOptions& options) {
  const auto start = Clock::now();
  if (!Exists(backup_path)) {
    return absl::NotFoundError(absl::StrCat("backup '", backup_path, "' does not exist"));
  }
  if (SameFile(backup_path, db_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup '", backup_path, "' is the database '", db_path, "' itself"));
  }
  // Held until the restored file is in place: no hypersweepd can open the database meanwhile.
  DbLock lock;
  RETURN_IF_ERROR(lock.Acquire(db_path));
  if (Exists(db_path) && !options.force) {
    return absl::AlreadyExistsError(
        absl::StrCat("database '", db_path, "' exists; pass --force to replace it"));
  }
  BackupSummary summary;
  summary.path = db_path;
  const std::string name = absl::StrCat("backup '", backup_path, "'");
  {
    Db src;
    RETURN_IF_ERROR(OpenSnapshot(src, backup_path, "backup"));
    ASSIGN_OR_RETURN(int version, SchemaVersion(src.get(), backup_path));
    if (version > kSchemaVersion) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " has schema version ", version, ", newer than this hypersweepd's ", kSchemaVersion,
          "; restore it with the hypersweepd that wrote it, or a newer one"));
    }
    TmpFile tmp(db_path + ".restore.tmp");
    RemoveDatabaseFiles(tmp.path());
    Db dest;
    RETURN_IF_ERROR(CopyPages(src.get(), backup_path, dest, tmp.path(), options, &summary.pages));
    RETURN_IF_ERROR(src.Close());
    RETURN_IF_ERROR(FinishCopy(dest, tmp.path(), name, &summary));
    // A -wal left by the replaced database would be replayed onto the restored one: remove it
    // (and its -shm) before the new file takes the name.
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      RETURN_IF_ERROR(RemoveIfPresent(db_path + suffix));
    }
    RETURN_IF_ERROR(Install(tmp.path(), db_path));
    tmp.Release();
  }
  struct stat st;
  if (::stat(db_path.c_str(), &st) != 0) return ErrnoError("cannot stat", db_path);
  summary.bytes = st.st_size;
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace hypersweep
