// The SQLite C API as the store uses it: errors as absl::Status, prepared statements that clean
// up after themselves, and statements prepared once and reused. Internal to server/store.
#ifndef HYPERSWEEP_SERVER_STORE_SQLITE_STATEMENT_H_
#define HYPERSWEEP_SERVER_STORE_SQLITE_STATEMENT_H_

#include <cstdint>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sqlite3.h"

namespace hypersweep {

// The last error on `db` while doing `what`: UNAVAILABLE when retrying may help (busy, locked,
// I/O error, disk full), INTERNAL otherwise.
absl::Status SqlError(sqlite3* db, const std::string& what);

// Runs `sql` (one or more statements without results) on `db`.
absl::Status Exec(sqlite3* db, const char* sql);

// A prepared statement; binds by 1-based position. A statement that failed to prepare reports
// the error from Step() and Run(). Not thread-safe: confined to the thread that owns its
// connection.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql);
  // Borrows a statement prepared earlier (see CachedStmt): the cache finalizes it, and this
  // object resets it and clears its bindings when it goes away.
  Stmt(sqlite3* db, sqlite3_stmt* borrowed) : db_(db), s_(borrowed), owned_(false) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // SQLITE_ROW: true; SQLITE_DONE: false; else error.
  absl::StatusOr<bool> Step();
  // Steps once, then resets the statement and clears its bindings for the next row to write.
  absl::Status Run();
  int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }
  double Double(int c) const { return sqlite3_column_double(s_, c); }
  bool IsNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string Text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, sqlite3_column_bytes(s_, c)) : std::string();
  }
  const absl::Status& status() const { return status_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  bool owned_ = true;
  absl::Status status_;
};

// Statements prepared once per connection, by SQL text. The owner finalizes every entry before it
// closes the connection.
using StmtCache = std::unordered_map<std::string, sqlite3_stmt*>;

// `sql` from `cache`, prepared (SQLITE_PREPARE_PERSISTENT) and added on first use. The write path
// runs the same few statements for every batch.
Stmt CachedStmt(sqlite3* db, StmtCache& cache, const std::string& sql);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_SQLITE_STATEMENT_H_
