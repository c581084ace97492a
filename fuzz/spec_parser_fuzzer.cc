// libFuzzer target for the sweep spec parser (the part of the coordinator that reads untrusted
// input first). Build and run: make fuzz (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/sweep_spec.h"
#include "core/trial_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto sweep = hypersweep::ParseSweepSpec(text);
  if (sweep.ok() && hypersweep::CountTrials(*sweep) <= 1000) {
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
