// Evaluation on the validation rows of a trial, as in pytorch/examples' test(): under NoGradGuard
// with the model in eval() mode. Internal to worker/trainer (includes torch).
#ifndef HYPERSWEEP_WORKER_TRAINER_EVALUATE_H_
#define HYPERSWEEP_WORKER_TRAINER_EVALUATE_H_

#include "worker/trainer/data.h"
#include "worker/trainer/model.h"

namespace hypersweep {

// The validation fields of an EpochMetrics.
struct ValidationMetrics {
  double loss = 0;      // Loss() over all validation rows, weighted by split.val_loss_w if defined
  double accuracy = 0;  // fraction of rows whose predicted class is the label
  double auc = 0;       // binary tasks: ROC AUC weighted by the raw sample weights; NaN otherwise
  double ams = 0;       // binary tasks with sample weights: best AMS over thresholds; NaN otherwise
};

// Evaluates `model` on split.val in chunks (no gradients, eval() mode: dropout off, batch norm
// with running statistics) and puts the model back in train() mode before returning. Consumes no
// random numbers. LibTorch errors are thrown.
ValidationMetrics Evaluate(Net& model, const SplitData& split);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_EVALUATE_H_
