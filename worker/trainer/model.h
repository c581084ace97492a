// Models: an MLP and a small CNN, built from a ModelSpec. Internal to worker/trainer.
#ifndef HYPERSWEEP_WORKER_TRAINER_MODEL_H_
#define HYPERSWEEP_WORKER_TRAINER_MODEL_H_

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trial_spec.h"

namespace hypersweep {

// A feed-forward network run as a flat list of steps. Unlike torch::nn::Sequential it calls each
// layer directly (no AnyModule boxing) and applies ReLU in place, which matters at small batch
// sizes where per-op overhead rivals the matrix multiplies.
class NetImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(torch::Tensor x);

  // Registers `module` under the next index and appends a step that calls it.
  template <typename Holder>
  void AddLayer(Holder module) {
    auto m = register_module(std::to_string(next_index_++), module);
    steps_.push_back([m](const torch::Tensor& x) mutable { return m->forward(x); });
  }
  void AddStep(std::function<torch::Tensor(const torch::Tensor&)> step) {
    steps_.push_back(std::move(step));
  }

 private:
  std::vector<std::function<torch::Tensor(const torch::Tensor&)>> steps_;
  int next_index_ = 0;
};
TORCH_MODULE(Net);

// A network with `outputs` logits for inputs of shape [N, input_shape...]. Weights are
// initialised from the global torch RNG (seed it first).
absl::StatusOr<Net> BuildModel(const ModelSpec& spec, const std::vector<int64_t>& input_shape,
                               int64_t outputs);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_MODEL_H_
