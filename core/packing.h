// Trial packing's compatibility rule (docs/PACKING.md): which trials a worker may train together as
// one batched model. Torch-free, so the scheduler (which picks packable trials for one acquire)
// and the worker's packed trainer (worker/trainer/packed_trainer.h) share one definition.
#ifndef HYPERSWEEP_CORE_PACKING_H_
#define HYPERSWEEP_CORE_PACKING_H_

#include <string>

#include "core/trial_spec.h"

namespace hypersweep {

// The most trials one acquire hands a worker slot (AcquireTrialRequest.max_trials is cut to it)
// and the largest --pack a worker accepts.
inline constexpr int kMaxPackTrials = 64;

// Why `spec` can never be packed ("model.cnn is not packed", ...); empty when it can. Packed: the
// built-in MLP without dropout or batch norm and without a wall-clock budget.
std::string WhyUnpackable(const TrialSpec& spec);

// Trials with equal keys (and an empty WhyUnpackable) may share a pack: the canonical spec
// without the fields a pack lets differ (name, schedule, momentum, weight_decay, seed, epochs).
// So packed trials share dataset (with its split, fold and data seed), model, optimizer kind and
// its constants, loss (fixed by the dataset) and batch size.
std::string PackingKey(const TrialSpec& spec);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_PACKING_H_
