// Models: an MLP and a small CNN, built from a ModelSpec. Internal to worker/trainer.
#ifndef HYPERSWEEP_WORKER_TRAINER_MODEL_H_
#define HYPERSWEEP_WORKER_TRAINER_MODEL_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/statusor.h"
#include "core/trial_spec.h"

namespace hypersweep {

// A network with `outputs` logits for inputs of shape [N, input_shape...]. Weights are
// initialised from the global torch RNG (seed it first).
absl::StatusOr<torch::nn::Sequential> BuildModel(const ModelSpec& spec,
                                                 const std::vector<int64_t>& input_shape,
                                                 int64_t outputs);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_MODEL_H_
