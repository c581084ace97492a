// The name of a trial's checkpoint file, and the check that a reported checkpoint reference is
// one of the trial's own. The coordinator stores only such references (ReportEpochs); a worker
// resolves one only inside its --checkpoint-dir. A reference is a bare file name, never a path:
// "<trial_id>.attempt<N>.pt" with 1 <= N <= the trial's current attempt.
#ifndef HYPERSWEEP_CORE_CHECKPOINT_REF_H_
#define HYPERSWEEP_CORE_CHECKPOINT_REF_H_

#include <cstdint>
#include <string>

namespace hypersweep {

inline std::string CheckpointFileName(const std::string& trial_id, int64_t attempt) {
  return trial_id + ".attempt" + std::to_string(attempt) + ".pt";
}

// True when `ref` is exactly CheckpointFileName(trial_id, n) for some n in [1, max_attempt].
inline bool IsOwnCheckpointRef(const std::string& ref, const std::string& trial_id,
                               int64_t max_attempt) {
  if (trial_id.empty() || trial_id.find('/') != std::string::npos || trial_id == "." ||
      trial_id == "..") {
    return false;
  }
  const std::string prefix = trial_id + ".attempt", suffix = ".pt";
  if (ref.size() <= prefix.size() + suffix.size() || ref.compare(0, prefix.size(), prefix) != 0 ||
      ref.compare(ref.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const std::string digits = ref.substr(prefix.size(), ref.size() - prefix.size() - suffix.size());
  if (digits.size() > 9 || digits.front() == '0') return false;
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  return n >= 1 && n <= max_attempt;
}

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_CHECKPOINT_REF_H_
