// Field-by-field operations on TrialRecord, derived from kTrialFields (records.h), so that a new
// trial field needs no code here or in the stores.
#ifndef HYPERSWEEP_SERVER_STORE_TRIAL_FIELDS_H_
#define HYPERSWEEP_SERVER_STORE_TRIAL_FIELDS_H_

#include "server/store/records.h"

namespace hypersweep {

// Copies into `to` every field of `from` whose stored value a write of kind `write` rewrites:
// kResolve fields for WriteBatch::resolve_trials, kUpdate fields for WriteBatch::update_trials.
void CopyTrialFields(const TrialRecord& from, TrialField::Write write, TrialRecord* to);

// The part of `t` that update_trials writes (id and the kUpdate fields): what the scheduler
// queues on every report, without copying the spec and parameters each time.
TrialRecord MutableFieldsOf(const TrialRecord& t);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_TRIAL_FIELDS_H_
