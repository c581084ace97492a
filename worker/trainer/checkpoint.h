// Checkpoints: everything needed to continue a trial exactly where it stopped (model, optimizer,
// training progress, the global CPU RNG state and the epochs reported so far), in one file per
// trial attempt. Internal to worker/trainer (includes torch).
#ifndef HYPERSWEEP_WORKER_TRAINER_CHECKPOINT_H_
#define HYPERSWEEP_WORKER_TRAINER_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optimizer.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {

// Everything that evolves during training and is checkpointed.
struct Progress {
  int64_t epoch = 0;         // epoch in progress (or next to start)
  int64_t batch = 0;         // next batch within `epoch`; 0: the epoch has not started
  int64_t step = 0;          // optimizer steps taken
  double elapsed = 0;        // training seconds before this epoch
  double epoch_seconds = 0;  // training seconds of `epoch` so far
  double loss_sum = 0;       // sum of batch loss x batch rows in `epoch`
  int64_t samples = 0;       // rows trained in `epoch`
  double first_loss = 0;     // the trial's first batch loss (divergence reference in epoch 0)
  std::vector<EpochMetrics> epochs;

  // The progress at the start of the next epoch, once `epoch` has ended and been recorded.
  Progress NextEpoch() const {
    Progress next = *this;
    next.elapsed += next.epoch_seconds;
    next.epoch_seconds = 0;
    next.loss_sum = 0;
    next.samples = 0;
    next.batch = 0;
    ++next.epoch;
    return next;
  }
};

// Writes and reads the checkpoints of one trial. A checkpoint records the trial's canonical spec
// (`spec_json`) and is only restored into the same spec. Confined to the training thread: Save
// and Load read and write the process-wide default CPU generator.
class Checkpointer {
 public:
  // `path` empty: checkpoints are disabled and Save() does nothing.
  Checkpointer(std::string path, std::string spec_json)
      : path_(std::move(path)), spec_json_(std::move(spec_json)) {}

  bool enabled() const { return !path_.empty(); }

  // Writes model, optimizer, `p` and the default CPU generator's state to the checkpoint path,
  // atomically: a temporary file, fsync, then rename over the old checkpoint, so a reader sees the
  // old checkpoint or the new one, never a torn file. Creates the parent directory. LibTorch and
  // filesystem errors are thrown, not returned (the trainer's boundary turns them into a status).
  absl::Status Save(Net& model, Optimizer& opt, const Progress& p);

  // Restores model, optimizer, progress and the default CPU generator from `path` (which may differ
  // from the path Save() writes, e.g. a previous attempt's file), mapping tensors onto `device`.
  // NOT_FOUND when there is no checkpoint at `path`; DATA_LOSS when it is unreadable or belongs to
  // another trial spec. After DATA_LOSS `model`, `opt` and `p` may be partly overwritten: the
  // caller must rebuild them before training from scratch.
  absl::Status Load(const std::string& path, Net& model, Optimizer& opt, Progress& p,
                    const torch::Device& device);

 private:
  std::string path_;
  std::string spec_json_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_CHECKPOINT_H_
