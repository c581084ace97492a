// What "final" means for a trial has one definition (kFinalStatuses in server/store/records.h);
// these tests pin it to the lifecycle in DESIGN.md and check that its SQL form agrees.
#include <string>

#include "gtest/gtest.h"
#include "server/store/records.h"
#include "sqlite3.h"

namespace hypersweep {
namespace {

// QUEUED -> LEASED -> SUCCEEDED | DIVERGED | FAILED | CANCELLED | PRUNED.
static_assert(!IsFinal(TrialStatus::kQueued));
static_assert(!IsFinal(TrialStatus::kLeased));
static_assert(IsFinal(TrialStatus::kSucceeded));
static_assert(IsFinal(TrialStatus::kDiverged));
static_assert(IsFinal(TrialStatus::kFailed));
static_assert(IsFinal(TrialStatus::kCancelled));
static_assert(IsFinal(TrialStatus::kPruned));

TEST(TrialStatusTest, SqlFormAgreesWithIsFinalForEveryStoredCode) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  const std::string sql = "SELECT ?1 IN " + FinalStatusesSql();
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  // Every code a status column can hold, and one past each end.
  for (int code = static_cast<int>(TrialStatus::kQueued) - 1;
       code <= static_cast<int>(TrialStatus::kPruned) + 1; ++code) {
    sqlite3_bind_int(stmt, 1, code);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0) != 0, IsFinal(static_cast<TrialStatus>(code)))
        << "status code " << code << ", " << sql;
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace
}  // namespace hypersweep
