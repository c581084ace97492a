// Limits on what one submission may ask of the coordinator: the spec's size (checked before any
// parsing) and the number of trials it expands to (counted before any expansion). The defaults
// are hypersweepd's (--max-spec-bytes, --max-sweep-trials); docs/SECURITY.md lists them.
#ifndef HYPERSWEEP_CORE_SPEC_LIMITS_H_
#define HYPERSWEEP_CORE_SPEC_LIMITS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/sweep_spec.h"

namespace hypersweep {

inline constexpr int64_t kDefaultMaxSpecBytes = int64_t{1} << 20;  // 1 MiB
inline constexpr int64_t kDefaultMaxSweepTrials = 100'000;

struct SpecLimits {
  int64_t max_spec_bytes = kDefaultMaxSpecBytes;
  int64_t max_sweep_trials = kDefaultMaxSweepTrials;  // at most kMaxTrialsPerSweep
};

// ParseSweepSpec within `limits`: RESOURCE_EXHAUSTED naming the limit for a spec longer than
// max_spec_bytes (the text is not parsed) or one that expands to more than max_sweep_trials
// trials (nothing is expanded); otherwise ParseSweepSpec's result.
absl::StatusOr<SweepSpec> ParseSweepSpecWithin(const std::string& text, const SpecLimits& limits);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_SPEC_LIMITS_H_
