// How the CLI names a sweep's values: the text of v1 enums and timestamps, and the sweep as one
// JSON document (`submit`, `cancel` and `export` in JSON). Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_SWEEP_VIEW_H_
#define HYPERSWEEP_CLIENT_SWEEP_VIEW_H_

#include <cstdint>
#include <string>

#include "client/output.h"
#include "hypersweep/v1/sweep.pb.h"
#include "nlohmann/json.hpp"

namespace hypersweep {

// "SUCCEEDED", "QUEUED", ...; "UNKNOWN" for a value this client does not know.
std::string StatusName(v1::TrialStatus status);
// "RUNNING", "COMPLETED", "CANCELLED"; "UNKNOWN" otherwise.
std::string StateName(v1::SweepState state);
// "maximize" or "minimize".
std::string GoalName(v1::Goal goal);
// ISO 8601 UTC ("2026-12-05T19:30:00Z"); "" for a non-positive time.
std::string TimeText(int64_t unix_ms);

// The status name, green for SUCCEEDED, red for FAILED and DIVERGED, yellow for CANCELLED.
std::string ColouredStatus(const Style& style, v1::TrialStatus status);

// {"id", "name", "state", "objective": {"metric", "goal"}, "counts": {queued, leased, succeeded,
// diverged, failed, cancelled, pruned, total, done}, "created", "created_unix_ms",
// "max_attempts"}.
nlohmann::json SweepJson(const v1::Sweep& sweep);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_SWEEP_VIEW_H_
