#include "server/store/sqlite_statement.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace hypersweep {

absl::Status SqlError(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  std::string msg = absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db));
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR || code == SQLITE_FULL) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqlError(db, sql);
  return absl::OkStatus();
}

Stmt::Stmt(sqlite3* db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK) {
    status_ = SqlError(db, "prepare");
  }
}

Stmt::~Stmt() {
  if (owned_) {
    sqlite3_finalize(s_);
  } else {  // a cached statement goes back ready for its next user
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

absl::StatusOr<bool> Stmt::Step() {
  RETURN_IF_ERROR(status_);
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlError(db_, "step");
}

absl::Status Stmt::Run() {
  auto r = Step();
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  return r.status();
}

Stmt CachedStmt(sqlite3* db, StmtCache& cache, const std::string& sql) {
  auto it = cache.find(sql);
  if (it == cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
        SQLITE_OK) {
      return Stmt(db, sql);  // reports the prepare error
    }
    it = cache.emplace(sql, stmt).first;
  }
  return Stmt(db, it->second);
}

}  // namespace hypersweep
