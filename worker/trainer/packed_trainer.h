// Trial packing: trains K compatible trials of one sweep as one batched model (docs/PACKING.md).
//
// Torch-free, like trainer.h. Each member of a pack gets the result, the epoch reports (through
// its own sink) and the checkpoints (in TrainTrial's format, so any worker can resume it alone)
// that TrainTrial would give it alone, up to float reassociation in the batched matmuls. A member
// that diverges, stops (should_stop) or ends (fewer epochs) leaves the pack; the others go on.
#ifndef HYPERSWEEP_WORKER_TRAINER_PACKED_TRAINER_H_
#define HYPERSWEEP_WORKER_TRAINER_PACKED_TRAINER_H_

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/packing.h"
#include "core/trial_spec.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {

// Which trials pack together: WhyUnpackable and PackingKey (core/packing.h).

// One trial of a pack: its spec and what TrainOptions says for it alone.
struct PackMember {
  TrialSpec spec;
  std::string checkpoint_path;  // empty: no checkpoints
  bool resume = false;
  std::string resume_path;            // empty: checkpoint_path
  std::function<bool()> should_stop;  // polled at batch boundaries, as TrainOptions::should_stop
  MetricsSink* sink = nullptr;        // required
  // Optional: called (on TrainPack's thread) the moment the member leaves the pack with its
  // result (diverged, stopped, its last epoch done), while its pack-mates may train on, so the
  // caller can report it at once. The same result is also TrainPack's for it.
  std::function<void(const absl::StatusOr<TrialResult>&)> on_done;
};

// What the members share (the rest of TrainOptions).
struct PackOptions {
  std::string device = "auto";
  int threads = 0;
  std::shared_ptr<DatasetCache> cache;
  DataLimits data_limits;
};

// Trains the members, one result per member in order. Members that cannot join the pack (an
// unpackable spec, a key other than the first packable member's, or a checkpoint that resumes
// mid-epoch at another batch than the pack's) are trained alone with TrainTrial after the pack.
// A data or model error that concerns the whole pack is every packed member's status.
std::vector<absl::StatusOr<TrialResult>> TrainPack(const std::vector<PackMember>& members,
                                                   const PackOptions& options);

// The trainer's mapping of a LibTorch exception onto a status (trainer.h; defined in trainer.cc).
absl::Status TrainerStatusFromException(const std::exception& e, const std::string& what);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_PACKED_TRAINER_H_
