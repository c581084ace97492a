// Models: an MLP and a small CNN built from a ModelSpec, or a TorchScript module loaded from a
// file. Internal to worker/trainer.
#ifndef HYPERSWEEP_WORKER_TRAINER_MODEL_H_
#define HYPERSWEEP_WORKER_TRAINER_MODEL_H_

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trial_spec.h"
#include "worker/data_paths.h"

namespace hypersweep {

// A feed-forward network run as a flat list of steps. Unlike torch::nn::Sequential it calls each
// layer directly (no AnyModule boxing) and applies ReLU in place, which matters at small batch
// sizes where per-op overhead rivals the matrix multiplies.
//
// A TorchScript model is one step that calls the scripted module; the module's parameters and
// buffers are registered here as well (the same tensors, so optimizers, to(device), save and load
// act on what the module computes with), and train()/eval() reach it through a hook.
class NetImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(torch::Tensor x);

  // Sets this module's mode and, through the hook, that of anything its steps call.
  void train(bool on = true) override;
  void SetTrainHook(std::function<void(bool)> hook) { train_hook_ = std::move(hook); }

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
  std::function<void(bool)> train_hook_;
  int next_index_ = 0;
};
TORCH_MODULE(Net);

// A network with `outputs` logits for inputs of shape [N, input_shape...]. Weights are
// initialised from the global torch RNG (seed it first); a TorchScript model keeps the file's
// weights unless spec.script_init asks for new ones.
//
// A TorchScript model (spec.script_path, a regular file of at most limits.max_bytes) must load
// with torch::jit::load, have at least one trainable parameter (and at most kMaxModelParams), and
// map a [2, input_shape...] float batch (in eval mode) to [2, outputs] logits, or to [2] when
// outputs is 1 (binary; such output is given to the loss as [N, 1]). Anything else is
// INVALID_ARGUMENT naming model.torchscript and why, never the file's content. The model is
// returned in training mode.
absl::StatusOr<Net> BuildModel(const ModelSpec& spec, const std::vector<int64_t>& input_shape,
                               int64_t outputs, const DataLimits& limits = {});

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_MODEL_H_
