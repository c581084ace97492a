// Evaluation on the validation rows of a trial, as in pytorch/examples' test(): under NoGradGuard
// with the model in eval() mode. Internal to worker/trainer (includes torch).
#ifndef HYPERSWEEP_WORKER_TRAINER_EVALUATE_H_
#define HYPERSWEEP_WORKER_TRAINER_EVALUATE_H_

#include "worker/trainer/data.h"
#include "worker/trainer/model.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {

// Evaluates `model` on split.val in chunks (no gradients, eval() mode: dropout off, batch norm
// with running statistics), sets the validation metrics in `out` and puts the model back in
// train() mode before returning. Consumes no random numbers. LibTorch errors are thrown. Sets:
//   val_loss      Loss() over all validation rows, weighted by split.val_loss_w if defined
//   val_accuracy  fraction of rows whose predicted class is the label
//   val_auc       binary tasks: ROC AUC weighted by the raw sample weights; NaN otherwise
//   val_ams       binary tasks with sample weights: best AMS over thresholds; NaN otherwise
void Evaluate(Net& model, const SplitData& split, EpochMetrics* out);

// The same on split.test (the dataset's test split when it is not the validation set), setting
// test_loss, test_accuracy, test_auc and test_ams; nothing when there is no such split. The
// trainer calls it once, on the final model.
void EvaluateTest(Net& model, const SplitData& split, EpochMetrics* out);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_EVALUATE_H_
