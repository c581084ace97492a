#include "server/scheduler/entities.h"

namespace hypersweep {

SweepInfo InfoOf(const SweepEntry& s) {
  SweepInfo info;
  info.record = s.rec;
  info.counts = s.counts;
  if (s.rec.cancelled) {
    info.state = SweepState::kCancelled;
  } else if (s.counts.Of(TrialStatus::kQueued) + s.counts.Of(TrialStatus::kLeased) > 0) {
    info.state = SweepState::kRunning;
  } else {
    info.state = SweepState::kCompleted;
  }
  return info;
}

}  // namespace hypersweep
