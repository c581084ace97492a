// The JSON form of EpochMetrics, the one used on stdout by `hypersweep-worker train` and inside
// checkpoints: ToJson() (declared in trainer.h) writes it and EpochFromJson() reads it back.
// Non-finite values are written as null and read back as NaN; `partial` appears only when true.
// Internal to worker/trainer; torch-free.
#ifndef HYPERSWEEP_WORKER_TRAINER_METRICS_H_
#define HYPERSWEEP_WORKER_TRAINER_METRICS_H_

#include "nlohmann/json.hpp"
#include "worker/trainer/trainer.h"

namespace hypersweep {

// The inverse of ToJson(const EpochMetrics&). Throws nlohmann::json::exception when a field other
// than `partial` is missing or has the wrong type (checkpoint loading turns that into DATA_LOSS).
EpochMetrics EpochFromJson(const nlohmann::json& j);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_METRICS_H_
