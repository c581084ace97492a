// The trials table as SQL, derived from kTrialFields (records.h): the column list, reading a row,
// the INSERT and UPDATE statements and their bindings, and the column declarations that a
// migration adds. Internal to SqliteStore and its schema.
#ifndef HYPERSWEEP_SERVER_STORE_SQLITE_TRIALS_H_
#define HYPERSWEEP_SERVER_STORE_SQLITE_TRIALS_H_

#include <string>

#include "server/store/records.h"
#include "server/store/sqlite_statement.h"

namespace hypersweep {

// "t.id, t.sweep_id, ...": every trials column in kTrialFields order, for `FROM trials t`.
const std::string& TrialColumnsSql();

// The TrialRecord of a row whose first kTrialFieldCount result columns are TrialColumnsSql().
TrialRecord ReadTrial(const Stmt& s);

// INSERT of every column, parameters ?1.. in kTrialFields order (BindTrial with kInsert).
const std::string& InsertTrialSql();
// UPDATE of the columns a write of kind `write` (kResolve or kUpdate) rewrites, WHERE id = ?1,
// then those columns' parameters from ?2 (BindTrial with the same `write`).
const std::string& UpdateTrialSql(TrialField::Write write);

// Binds `t`'s fields for InsertTrialSql() (write kInsert: every field, from ?1) or
// UpdateTrialSql(write) (t.id as ?1, then that write's fields).
void BindTrial(Stmt& s, const TrialRecord& t, TrialField::Write write);

// "ALTER TABLE trials ADD COLUMN ...;" for each kTrialFields column that schema version `version`
// adds (none for version 1, whose CREATE TABLE has the original columns). Strings and integers are
// NOT NULL with an empty or zero default; an optional value is a nullable column.
std::string AddTrialColumnsSql(int version);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_SQLITE_TRIALS_H_
