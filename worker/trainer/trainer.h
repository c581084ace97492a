// The training engine: trains one trial (or runs an LR range test) with LibTorch.
//
// This header is torch-free so that the worker agent and command-line code compile fast; only the
// files of worker/trainer include torch. Training code follows pytorch/examples cpp/mnist: a
// torch::nn::Module, one training step, Evaluate() under NoGradGuard + eval(), with metrics going
// to a MetricsSink instead of being printed. No exception leaves this component: c10::Error is
// turned into an absl::Status.
//
// Where each concept lives in worker/trainer (every header but this one is internal to it):
//   data.h        datasets, splits and standardisation; the dataset cache
//   model.h       the networks (MLP, CNN, TorchScript modules loaded from a file)
//   optimizer.h   SGD and AdamW with a per-step lr and momentum
//   loss.h        the loss, shared by training and evaluation
//   train_step.h  the training step and batch order, shared by TrainTrial and RunLrRangeTest
//   evaluate.h    validation metrics
//   checkpoint.h  what a checkpoint holds; writing and restoring it
//   metrics.h     the JSON form of EpochMetrics (stdout and checkpoints)
//   device.h      device selection
//   trainer.cc    the epoch loop, the LR range test loop, and the exception-to-status boundary
//
// Status codes returned (the worker maps them to failure classes):
//   INVALID_ARGUMENT    user error: bad spec, missing or malformed data, shape mismatch (no retry)
//   RESOURCE_EXHAUSTED  out of memory on the device (the point is infeasible there)
//   INTERNAL / other    everything else (transient; may be retried)
// Divergence is not an error: it is a TrialResult with outcome kDiverged.
#ifndef HYPERSWEEP_WORKER_TRAINER_TRAINER_H_
#define HYPERSWEEP_WORKER_TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/lr_finder.h"
#include "core/metrics.h"
#include "core/trial_spec.h"
#include "nlohmann/json.hpp"
#include "worker/data_paths.h"

namespace hypersweep {

// One epoch's metrics: a name -> value map keyed by core/metrics.h's names (metrics::kTrainLoss,
// ...). The built-in trainer sets every name of MetricRegistry::Builtin() each epoch (val_auc and
// val_ams NaN where they do not apply) except kPartial, which is 1 only for an epoch cut short by
// the wall-clock budget. Nothing below the trainer names a metric it does not interpret.
using EpochMetrics = metrics::EpochMetrics;

nlohmann::json ToJson(const EpochMetrics& m);

// Receives results as they happen. Implementations decide where they go (stdout, the
// coordinator, a test vector). Called from the training thread.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void OnEpoch(const EpochMetrics& metrics) = 0;
  virtual void OnLrPoint(const LrCurvePoint& point) {}
  // Human-readable progress and notices ("resumed from checkpoint at epoch 3").
  virtual void OnLog(const std::string& message) {}
};

class DatasetCache;  // Shared loaded datasets (defined in data.h).
// A cache to share between the trials of one process (e.g. a worker's slots).
std::shared_ptr<DatasetCache> NewDatasetCache();

struct TrainOptions {
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int threads = 0;              // intra-op threads; 0: LibTorch's default
  std::string checkpoint_path;  // empty: no checkpoints
  bool resume = false;          // continue from a checkpoint when it is readable
  std::string resume_path;      // the checkpoint to resume from; empty: checkpoint_path
  // Polled at batch boundaries; returning true stops the trial there (checkpoint written, outcome
  // kStopped). Used for cancellation and graceful preemption.
  std::function<bool()> should_stop;
  // Shared across trials of one process; null: load privately.
  std::shared_ptr<DatasetCache> cache;
  // What loading one dataset may cost (worker/data_paths.h; the worker's --max-data-* flags).
  DataLimits data_limits;
};

enum class TrialOutcome { kSucceeded, kDiverged, kStopped };
const char* TrialOutcomeName(TrialOutcome outcome);  // SUCCEEDED, DIVERGED, STOPPED

struct TrialResult {
  TrialOutcome outcome = TrialOutcome::kSucceeded;
  std::string reason;                // why it diverged or stopped, or "budget reached"
  std::vector<EpochMetrics> epochs;  // every epoch, including those restored from a checkpoint
  int64_t start_epoch = 0;           // first epoch trained by this call (> 0 after a resume)
  std::string device;                // where it ran, e.g. "cpu" or "cuda:0"
};

// Trains one trial to the end (or divergence, budget, stop). Epochs restored from a checkpoint are
// not sent to the sink again.
absl::StatusOr<TrialResult> TrainTrial(const TrialSpec& spec, const TrainOptions& options,
                                       MetricsSink* sink);

struct LrRangeResult {
  std::vector<LrCurvePoint> curve;  // a diverged step has a non-finite loss (and is the last)
  LrSuggestions suggestions;        // every rule's LR or why it has none (core/lr_finder.h)
  int64_t steps_per_epoch = 0;      // full batches per epoch: the range test trains no partial one
};

// Runs an LR range test on the trial's data and model: spec.schedule when it is an lr_range_test,
// else the default range test (1e-7 .. 10, exponential, one epoch). Every step trains a full batch
// (an epoch's partial last batch is left out: its loss is noisier and its gradient scaled
// differently), so an epoch of the test is floor(rows / batch_size) steps; INVALID_ARGUMENT when
// the training split has fewer rows than one batch.
absl::StatusOr<LrRangeResult> RunLrRangeTest(const TrialSpec& spec, const TrainOptions& options,
                                             MetricsSink* sink);

// The version of the LibTorch this binary runs on, e.g. "1.13.0" (defined in device.cc).
std::string LibTorchVersion();
// Whether LibTorch sees a usable CUDA device (what device "auto" would pick; defined in device.cc).
bool CudaAvailable();

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_TRAINER_H_
