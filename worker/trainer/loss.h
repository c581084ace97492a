// The training objective. One definition, used by the training step (train_step.h) and by
// evaluation (evaluate.h), so the train_loss and val_loss a trial reports measure the same thing.
// Internal to worker/trainer (includes torch).
#ifndef HYPERSWEEP_WORKER_TRAINER_LOSS_H_
#define HYPERSWEEP_WORKER_TRAINER_LOSS_H_

#include <torch/torch.h>

namespace hypersweep {

// The loss of `logits` against the labels `y` (int64 class indices [N]), as a scalar tensor:
//   binary: binary cross-entropy with logits; `logits` is [N, 1] and y is 0/1
//   else:   cross-entropy; `logits` is [N, classes]
// With `w` defined (float [N] per-row weights) the weighted mean sum(w * loss) / sum(w); with `w`
// undefined the plain mean. Differentiable: call backward() on the result to train.
torch::Tensor Loss(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& w,
                   bool binary);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_LOSS_H_
