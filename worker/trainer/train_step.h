// The training step and the order in which batches are drawn: one definition, used by the epoch
// loop (TrainTrial) and the LR range test (RunLrRangeTest), so a range test trains exactly as the
// trials that use its suggestion will. Internal to worker/trainer (includes torch).
//
// Reproducibility contract: an epoch's batch order and dropout masks are functions of the trial
// seed and the epoch number only, so any epoch can be reproduced without replaying the ones before
// it (a resumed trial continues bit for bit). Confined to the training thread: SeedEpoch() and
// TrainStep() use the process-wide default torch RNG.
#ifndef HYPERSWEEP_WORKER_TRAINER_TRAIN_STEP_H_
#define HYPERSWEEP_WORKER_TRAINER_TRAIN_STEP_H_

#include <torch/torch.h>

#include <cstdint>

#include "worker/trainer/data.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optimizer.h"

namespace hypersweep {

// Seeds the default torch RNG (dropout masks) for the start of `epoch` of the trial seeded `seed`.
// A trial resumed in the middle of an epoch must not call it: the checkpoint restored the RNG.
void SeedEpoch(uint64_t seed, int64_t epoch);

// The order in which `epoch` visits the training rows: a permutation of 0 .. rows-1 (int64, on
// `device`), drawn from its own generator; the default RNG is neither read nor advanced.
torch::Tensor EpochOrder(uint64_t seed, int64_t epoch, int64_t rows, const torch::Device& device);

// The indices of batch `batch` (0-based) in `order`: `batch_size` of them starting at
// batch * batch_size, fewer for the last batch of an epoch. `batch` must be below
// ceil(order.size(0) / batch_size).
torch::Tensor BatchRows(const torch::Tensor& order, int64_t batch, int64_t batch_size);

// One optimizer step at learning rate `lr` and momentum `momentum` (beta1 for AdamW) on the
// training rows `rows` (indices into split.train; split.train_loss_w weighs the loss when defined).
// The model must be in train() mode. Returns the batch's Loss() before the step. When that loss is
// not finite no backward pass and no step are taken, so the parameters are unchanged; the caller
// decides whether that ends the run. LibTorch errors are thrown.
double TrainStep(Net& model, Optimizer& optimizer, const SplitData& split,
                 const torch::Tensor& rows, double lr, double momentum);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_TRAIN_STEP_H_
