// The JSON form of EpochMetrics, the one used on stdout by `hypersweep-worker train` and inside
// checkpoints: ToJson() (declared in trainer.h) writes it and EpochFromJson() reads it back.
// One object: "epoch" (an integer) and one key per metric in the map, written as the metric's
// ValueKind in MetricRegistry::Builtin() says: real numbers (non-finite ones as null, read back as
// NaN), counts as integers, flags (`partial`) as true and only when set. Both directions loop over
// the map, so a new metric needs no code here. Internal to worker/trainer; torch-free.
#ifndef HYPERSWEEP_WORKER_TRAINER_METRICS_H_
#define HYPERSWEEP_WORKER_TRAINER_METRICS_H_

#include "nlohmann/json.hpp"
#include "worker/trainer/trainer.h"

namespace hypersweep {

// The inverse of ToJson(const EpochMetrics&). Every key but "epoch" becomes a metric, so JSON
// written before a metric existed still reads (the metric is absent). Throws
// nlohmann::json::exception when `j` is not an object, "epoch" is missing or not a number, or a
// metric is not a number, null or boolean (checkpoint loading turns that into DATA_LOSS).
EpochMetrics EpochFromJson(const nlohmann::json& j);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_METRICS_H_
