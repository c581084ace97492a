#include "core/spec_limits.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hypersweep {

absl::StatusOr<SweepSpec> ParseSweepSpecWithin(const std::string& text, const SpecLimits& limits) {
  const int64_t bytes = static_cast<int64_t>(text.size());
  if (bytes > limits.max_spec_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("spec: ", bytes, " bytes, above the coordinator's limit of ",
                     limits.max_spec_bytes, " bytes (hypersweepd --max-spec-bytes)"));
  }
  absl::StatusOr<SweepSpec> spec = ParseSweepSpec(text);
  if (!spec.ok()) return spec;
  const int64_t trials = CountTrials(*spec);
  if (trials > limits.max_sweep_trials) {
    return absl::ResourceExhaustedError(
        absl::StrCat("spec: the sweep expands to ", trials, " trials, above the coordinator's limit of ",
                     limits.max_sweep_trials, " per sweep (hypersweepd --max-sweep-trials)"));
  }
  return spec;
}

}  // namespace hypersweep
