// A sweep's progress: how many trials are done, the fraction, the ETA at the rate so far, and the
// one-line summaries `status`, `watch` and `submit --wait` show. Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_PROGRESS_H_
#define HYPERSWEEP_CLIENT_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "hypersweep/v1/sweep.pb.h"

namespace hypersweep {

// Trials in a final state, as the coordinator counts them (TrialCounts.finished).
int64_t DoneTrials(const v1::TrialCounts& counts);

// DoneTrials / total, in [0, 1]; 0 for a sweep without trials.
double DoneFraction(const v1::TrialCounts& counts);

// Why the sweep's queued trials are not being run, or "" when nothing stops them:
// "paused: <reason>; fix it, then `hypersweep resume ID`" for a PAUSED sweep, or "no healthy
// worker: 1 registered, 1 quarantined; queued trials wait" for a RUNNING one with queued trials
// and no healthy worker (Sweep.healthy_workers).
std::string WaitReason(const v1::Sweep& sweep);

// Seconds until the sweep ends at the rate since it was created: 0 when it is no longer running,
// NaN when unknown (nothing done yet, no creation time, or WaitReason says its trials wait).
double EtaSeconds(const v1::Sweep& sweep, absl::Time now);

// "[####....]  45%  9/20  RUNNING  ETA 1m05s"; WaitReason instead of the ETA when there is one.
std::string ProgressLine(const v1::Sweep& sweep, absl::Time now);

// "queued 1  leased 2  succeeded 3  diverged 0  failed 0  cancelled 0  pruned 0".
std::string CountsLine(const v1::TrialCounts& counts);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_PROGRESS_H_
