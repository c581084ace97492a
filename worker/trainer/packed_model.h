// The packed MLP and its optimizers: K trials' copies of one MLP architecture stacked into one set
// of tensors (weights [K, in, out], biases [K, 1, out]) and trained with batched matmuls
// (torch::baddbmm). Every op is per slice, so trial k's numbers depend on trial k's slice only.
// Internal to worker/trainer (includes torch); see packed_trainer.h and docs/PACKING.md.
#ifndef HYPERSWEEP_WORKER_TRAINER_PACKED_MODEL_H_
#define HYPERSWEEP_WORKER_TRAINER_PACKED_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/trial_spec.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optimizer.h"

namespace hypersweep {

// One trial's hyperparameters for one optimizer step (what Optimizer::Set and the constructor
// take in the unpacked trainer).
struct SlotStep {
  double lr = 0;
  double momentum = 0;  // beta1 for AdamW
  double weight_decay = 0;
};

// Parameters and optimizer state of K trials. Slot k is the k-th trial of the pack; Keep() drops
// slots (a trial that diverged, stopped or finished) and renumbers the rest in order.
//
// The unpacked twin of a slot is the Net that BuildModel makes for that trial (only Linear layers
// and activation steps: an MLP without dropout or batch norm) with its Optimizer; the packed state
// is built from the twins (so each trial starts exactly as it would alone, including a restored
// checkpoint) and copied back into a twin for evaluation and checkpoints (the unpacked format).
class PackedMlp {
 public:
  // Stacks the twins' parameters and optimizer state. All twins must have the same architecture.
  PackedMlp(const std::vector<Net>& nets, const std::vector<Optimizer*>& optimizers,
            const OptimizerSpec& optimizer, Activation activation);

  int64_t size() const { return params_.empty() ? 0 : params_[0].size(0); }

  // x [K, B, ...features] (flattened here) -> logits [K, B, outputs].
  torch::Tensor Forward(const torch::Tensor& x) const;

  // Drops the gradients (as Optimizer::ZeroGrad does: the next backward assigns).
  void ZeroGrad();
  // One optimizer step, slot k with steps[k]: the unpacked Optimizer's update with per-slot lr,
  // momentum/beta1 and weight decay tensors.
  void Step(const std::vector<SlotStep>& steps);

  // Writes slot k's parameters and optimizer state into its twin (for Evaluate and checkpoints).
  void CopyToTwin(int64_t slot, Net& net, Optimizer& optimizer) const;

  // Keeps the slots `keep` (ascending), in that order.
  void Keep(const std::vector<int64_t>& keep);

 private:
  bool adamw_;
  bool nesterov_;
  double beta2_, eps_;
  Activation activation_;
  std::vector<torch::Tensor> params_;  // w0, b0, w1, b1, ... in the twin's parameter order
  std::vector<torch::Tensor> buf_;     // SGD momentum buffers (zeros before the first step)
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;  // AdamW moments
  std::vector<int64_t> adam_steps_;                  // AdamW steps taken, per slot
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_PACKED_MODEL_H_
