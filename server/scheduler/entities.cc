#include "server/scheduler/entities.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "core/trial_spec.h"

namespace hypersweep {

TrialRecord NewTrialRecord(const ExpandedTrial& e, int64_t index, TrialRole role) {
  TrialRecord t;
  t.index = index;
  t.spec_json = ToJson(e.spec).dump();
  t.params = e.params;
  t.role = role;
  t.batch_size = e.spec.batch_size;
  t.schedule = ScheduleName(e.spec.schedule);
  t.fold = e.spec.validation.kind == ValidationSpec::Kind::kKFold ? e.spec.validation.fold : -1;
  t.seed = e.spec.seed;
  t.attempt = 1;
  return t;
}

SweepState StateOf(const SweepEntry& s) {
  const bool open = s.counts.Of(TrialStatus::kQueued) + s.counts.Of(TrialStatus::kLeased) > 0;
  if (s.rec.cancelled) return SweepState::kCancelled;
  if (open && !s.paused_reason.empty()) return SweepState::kPaused;
  return open ? SweepState::kRunning : SweepState::kCompleted;
}

SweepInfo InfoOf(const SweepEntry& s) {
  SweepInfo info;
  info.record = s.rec;
  info.counts = s.counts;
  info.state = StateOf(s);
  if (info.state == SweepState::kPaused) info.paused_reason = s.paused_reason;
  return info;
}

std::string PauseReason(const std::vector<const TrialRecord*>& trials) {
  std::map<std::string, int> by_reason;
  for (const TrialRecord* t : trials) {
    // A trial that ran to the end shows the spec works: failures are then the points' own.
    if (t->status == TrialStatus::kSucceeded || t->status == TrialStatus::kDiverged) return "";
  }
  for (const TrialRecord* t : trials) {
    if (t->status != TrialStatus::kFailed || t->failure_class != FailureClass::kUserError ||
        t->worker_id.empty()) {
      continue;
    }
    if (++by_reason[t->reason] >= kPauseAfterUserErrors) {
      return absl::StrCat(by_reason[t->reason],
                          " trials failed with the same user error: ", t->reason);
    }
  }
  return "";
}

}  // namespace hypersweep
