// What core/sweep_spec.cc (parsing) and core/sweep_expand.cc (expansion) share; not for other
// callers.
#ifndef HYPERSWEEP_CORE_SWEEP_SPEC_INTERNAL_H_
#define HYPERSWEEP_CORE_SWEEP_SPEC_INTERNAL_H_

#include <string>

namespace hypersweep::sweep_internal {

// A swept key that sets a top-level trial field (momentum, weight_decay, batch_size, epochs)
// rather than one inside a section (schedule.*, model.*, optimizer.*).
bool IsScalarKey(const std::string& key);

}  // namespace hypersweep::sweep_internal

#endif  // HYPERSWEEP_CORE_SWEEP_SPEC_INTERNAL_H_
