// libFuzzer target for the sweep spec parser (the part of the coordinator that reads untrusted
// input first), with the coordinator's size and trial-count bounds (core/spec_limits.h). Build and
// run: make fuzz (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/spec_limits.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The coordinator's submit path: the size bound before parsing, the trial bound before
  // expansion. Small limits, so that the fuzzer crosses both often.
  hypersweep::SpecLimits limits;
  limits.max_spec_bytes = 1024;  // libFuzzer grows inputs to 4096 bytes by default
  limits.max_sweep_trials = 1000;
  auto sweep = hypersweep::ParseSweepSpecWithin(text, limits);
  if (static_cast<int64_t>(size) > limits.max_spec_bytes &&
      !absl::IsResourceExhausted(sweep.status())) {
    __builtin_trap();  // an oversized spec must be refused before it is parsed
  }
  if (sweep.ok() && hypersweep::CountTrials(*sweep) > limits.max_sweep_trials) __builtin_trap();
  if (sweep.ok()) {
    auto trials = hypersweep::ExpandSweep(*sweep);
    if (trials.ok()) {
      for (const auto& t : *trials) {
        // Canonical JSON must parse back (the coordinator ships trials this way).
        auto again = hypersweep::ParseTrialSpec(hypersweep::ToJson(t.spec).dump(), {true});
        if (!again.ok()) __builtin_trap();
      }
    }
  }
  hypersweep::ParseTrialSpec(text).IgnoreError();
  return 0;
}
