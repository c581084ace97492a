// The two entry points of trainer.h, each a loop over TrainStep() (train_step.h): TrainTrial's
// epoch loop (budget, stop, checkpoint, evaluation, divergence) and RunLrRangeTest. This file is
// also the component's boundary: no exception leaves it (FromException maps them to a status).
#include "worker/trainer/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/metrics.h"
#include "core/schedule.h"
#include "core/spec_limits.h"
#include "core/status_macros.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/data.h"
#include "worker/trainer/device.h"
#include "worker/trainer/evaluate.h"
#include "worker/trainer/metrics.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optimizer.h"
#include "worker/trainer/packed_trainer.h"
#include "worker/trainer/train_step.h"

namespace hypersweep {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Maps a LibTorch exception onto our status codes (see trainer.h).
absl::Status FromException(const std::exception& e, const std::string& what) {
  const std::string msg = e.what();
  const std::string first_line = msg.substr(0, msg.find('\n'));
  if (absl::StrContains(msg, "out of memory") ||
      absl::StrContains(msg, "DefaultCPUAllocator: can't allocate")) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory: ", first_line));
  }
  if (absl::StrContains(msg, "shape") || absl::StrContains(msg, "size mismatch") ||
      absl::StrContains(msg, "Expected input")) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": shape mismatch: ", first_line));
  }
  return absl::InternalError(absl::StrCat(what, ": ", first_line));
}

// One trial's data, model and optimizer on a device.
struct Session {
  torch::Device device = torch::kCPU;
  std::shared_ptr<const LoadedData> data;
  SplitData split;
  Net model{nullptr};
  std::unique_ptr<Optimizer> optimizer;
  int64_t steps_per_epoch = 0;
};

// Loads and splits the data, builds the model (seeded with spec.seed) and the optimizer, and moves
// the training and validation rows and the model to the device.
absl::StatusOr<Session> Prepare(const TrialSpec& spec, const TrainOptions& options) {
  Session s;
  ASSIGN_OR_RETURN(s.device, PickDevice(options.device));
  if (options.threads > 0) torch::set_num_threads(options.threads);
  const DataLoadOptions load{options.data_limits, options.should_stop};
  if (options.cache) {
    ASSIGN_OR_RETURN(s.data, options.cache->Get(spec.dataset, load));
  } else {
    ASSIGN_OR_RETURN(s.data, LoadData(spec.dataset, load));
  }
  ASSIGN_OR_RETURN(s.split, MakeSplit(*s.data, spec));
  const int64_t n = s.split.train.rows();
  s.steps_per_epoch = (n + spec.batch_size - 1) / spec.batch_size;
  torch::manual_seed(spec.seed);
  std::vector<int64_t> shape(s.split.train.x.sizes().begin() + 1, s.split.train.x.sizes().end());
  RETURN_IF_ERROR(CheckModelSize(spec.model, shape, s.split.binary ? 1 : s.split.num_classes));
  ASSIGN_OR_RETURN(s.model, BuildModel(spec.model, shape, s.split.binary ? 1 : s.split.num_classes,
                                       options.data_limits));
  s.model->to(s.device);
  // Only x and y move: the raw sample weights (Table::w) stay on the CPU for AUC and AMS.
  for (Table* t : {&s.split.train, &s.split.val, &s.split.test}) {
    if (!t->x.defined()) continue;
    t->x = t->x.to(s.device);
    t->y = t->y.to(s.device);
  }
  if (s.split.train_loss_w.defined()) s.split.train_loss_w = s.split.train_loss_w.to(s.device);
  if (s.split.val_loss_w.defined()) s.split.val_loss_w = s.split.val_loss_w.to(s.device);
  if (s.split.test_loss_w.defined()) s.split.test_loss_w = s.split.test_loss_w.to(s.device);
  s.optimizer = std::make_unique<Optimizer>(spec.optimizer, s.model->parameters(), spec.momentum,
                                            spec.weight_decay);
  return s;
}

absl::StatusOr<TrialResult> TrainImpl(const TrialSpec& spec, const TrainOptions& options,
                                      MetricsSink* sink) {
  ASSIGN_OR_RETURN(Session s, Prepare(spec, options));
  ASSIGN_OR_RETURN(Schedule sched, Schedule::Create(spec.schedule, {s.steps_per_epoch, spec.epochs,
                                                                    spec.momentum}));
  TrialResult result;
  result.device = s.device.str();
  Checkpointer ckpt(options.checkpoint_path, ToJson(spec).dump());
  Progress p;
  if (options.resume) {
    const std::string from =
        options.resume_path.empty() ? options.checkpoint_path : options.resume_path;
    absl::Status st = ckpt.Load(from, s.model, *s.optimizer, p, s.device);
    if (st.ok()) {
      sink->OnLog(absl::StrFormat("resumed from checkpoint %s at epoch %d batch %d (step %d)", from,
                                  p.epoch, p.batch, p.step));
    } else if (!absl::IsNotFound(st)) {
      sink->OnLog(absl::StrCat(st.message(), "; restarting the trial from epoch 0"));
      // Rebuild a fresh model and optimizer: Load may have partly overwritten them.
      ASSIGN_OR_RETURN(s, Prepare(spec, options));
      p = Progress();
    } else {
      sink->OnLog("no checkpoint to resume from; starting at epoch 0");
    }
  }
  result.start_epoch = p.epoch;
  result.epochs = p.epochs;
  s.model->train();
  const int64_t n = s.split.train.rows();
  const bool budgeted = spec.budget_seconds > 0;
  auto diverged = [&](const std::string& why) {
    result.outcome = TrialOutcome::kDiverged;
    result.reason = why;
    return result;
  };
  while (p.epoch < spec.epochs) {
    if (p.batch == 0) SeedEpoch(spec.seed, p.epoch);  // mid-epoch: the checkpoint restored the RNG
    const torch::Tensor order = EpochOrder(spec.seed, p.epoch, n, s.device);
    double lr = 0, momentum = 0;
    bool cut_by_budget = false;
    for (; p.batch < s.steps_per_epoch; ++p.batch) {
      if (budgeted && p.elapsed + p.epoch_seconds >= spec.budget_seconds) {
        cut_by_budget = true;
        break;
      }
      if (options.should_stop && options.should_stop()) {
        RETURN_IF_ERROR(ckpt.Save(s.model, *s.optimizer, p));
        result.outcome = TrialOutcome::kStopped;
        result.reason = absl::StrFormat("stopped at epoch %d batch %d", p.epoch, p.batch);
        result.epochs = p.epochs;
        return result;
      }
      const auto t0 = Clock::now();
      const torch::Tensor rows = BatchRows(order, p.batch, spec.batch_size);
      lr = sched.Lr(p.step);
      momentum = sched.Momentum(p.step);
      const double lv = TrainStep(s.model, *s.optimizer, s.split, rows, lr, momentum);
      p.epoch_seconds += SecondsSince(t0);
      ++p.step;
      if (p.step == 1) p.first_loss = lv;
      if (!std::isfinite(lv)) {
        return diverged(absl::StrFormat("non-finite training loss at epoch %d step %d (lr %g)",
                                        p.epoch, p.step - 1, lr));
      }
      const int64_t len = rows.size(0);
      p.loss_sum += lv * static_cast<double>(len);
      p.samples += len;
    }
    if (p.samples == 0) {  // the budget ran out exactly at an epoch boundary
      result.reason =
          absl::StrFormat("budget of %gs reached after %d epochs", spec.budget_seconds, p.epoch);
      break;
    }
    // The epoch's metrics: the training ones here, the validation ones in Evaluate().
    EpochMetrics m;
    m.epoch = p.epoch;
    const double train_loss = p.loss_sum / static_cast<double>(p.samples);
    m.Set(metrics::kTrainLoss, train_loss);
    m.Set(metrics::kLr, lr);
    m.Set(metrics::kMomentum, momentum);
    m.Set(metrics::kSeconds, p.epoch_seconds);
    m.Set(metrics::kSamplesPerSecond,
          static_cast<double>(p.samples) / std::max(p.epoch_seconds, 1e-9));
    m.Set(metrics::kElapsedSeconds, p.elapsed + p.epoch_seconds);
    m.Set(metrics::kSteps, static_cast<double>(p.step));
    if (cut_by_budget) m.Set(metrics::kPartial, 1);
    Evaluate(s.model, s.split, &m);
    // The final model, and only it, meets the test split: with the run's last epoch (or the one
    // the budget cut short).
    if (cut_by_budget || p.epoch + 1 == spec.epochs) EvaluateTest(s.model, s.split, &m);
    p.epochs.push_back(m);
    result.epochs.push_back(m);
    // Checkpoint before reporting: an epoch that was reported is never trained again on resume.
    Progress next = p.NextEpoch();
    RETURN_IF_ERROR(ckpt.Save(s.model, *s.optimizer, next));
    sink->OnEpoch(m);
    const double reference = p.epoch > 0 && p.epochs.front().epoch == 0
                                 ? p.epochs.front().Get(metrics::kTrainLoss)
                                 : p.first_loss;
    if (!std::isfinite(m.Get(metrics::kValLoss))) {
      return diverged(absl::StrFormat("non-finite validation loss at epoch %d", p.epoch));
    }
    if (train_loss > 4 * reference) {
      return diverged(absl::StrFormat("training loss %.4g at epoch %d exceeds 4x the %s (%.4g)",
                                      train_loss, p.epoch,
                                      p.epoch == 0 ? "initial loss" : "first epoch's", reference));
    }
    if (cut_by_budget) {
      result.reason =
          absl::StrFormat("budget of %gs reached in epoch %d", spec.budget_seconds, p.epoch);
      break;
    }
    p = std::move(next);
  }
  result.outcome = TrialOutcome::kSucceeded;
  return result;
}

absl::StatusOr<LrRangeResult> RangeTestImpl(const TrialSpec& spec, const TrainOptions& options,
                                            MetricsSink* sink) {
  ASSIGN_OR_RETURN(Session s, Prepare(spec, options));
  ScheduleSpec range;
  if (std::holds_alternative<LrRangeTestSchedule>(spec.schedule.kind)) {
    range = spec.schedule;
  } else {
    range.kind = LrRangeTestSchedule{};
  }
  const int64_t n = s.split.train.rows();
  const int64_t full_batches = n / spec.batch_size;  // the partial last batch is not trained
  if (full_batches == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("LR range test: the training split has %d rows, fewer than one batch (%d)",
                        n, spec.batch_size));
  }
  ASSIGN_OR_RETURN(Schedule sched, Schedule::Create(range, {full_batches, 1, spec.momentum}));
  LrRangeTracker tracker;
  s.model->train();
  int64_t step = 0;
  for (int64_t epoch = 0; step < sched.total_steps(); ++epoch) {
    SeedEpoch(spec.seed, epoch);
    const torch::Tensor order = EpochOrder(spec.seed, epoch, n, s.device);
    bool stop = false;
    for (int64_t b = 0; b < full_batches && step < sched.total_steps() && !stop; ++b, ++step) {
      if (options.should_stop && options.should_stop())
        return absl::CancelledError("range test stopped");
      const double lr = sched.Lr(step);
      // A non-finite loss takes no step; the tracker records it and stops the test.
      const double lv = TrainStep(s.model, *s.optimizer, s.split,
                                  BatchRows(order, b, spec.batch_size), lr, spec.momentum);
      stop = tracker.Add(lr, lv);
      sink->OnLrPoint(tracker.curve().back());
    }
    if (stop) break;
  }
  LrRangeResult r;
  r.curve = tracker.curve();
  r.suggestions = SuggestLr(r.curve);
  r.steps_per_epoch = full_batches;
  return r;
}

}  // namespace

const char* TrialOutcomeName(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kSucceeded:
      return "SUCCEEDED";
    case TrialOutcome::kDiverged:
      return "DIVERGED";
    case TrialOutcome::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

absl::StatusOr<TrialResult> TrainTrial(const TrialSpec& spec, const TrainOptions& options,
                                       MetricsSink* sink) {
  RETURN_IF_ERROR(ValidateTrialSpec(spec));
  try {
    return TrainImpl(spec, options, sink);
  } catch (const std::exception& e) {
    return FromException(e, "training");
  }
}

absl::StatusOr<LrRangeResult> RunLrRangeTest(const TrialSpec& spec, const TrainOptions& options,
                                             MetricsSink* sink) {
  RETURN_IF_ERROR(ValidateTrialSpec(spec));
  try {
    return RangeTestImpl(spec, options, sink);
  } catch (const std::exception& e) {
    return FromException(e, "LR range test");
  }
}

absl::Status TrainerStatusFromException(const std::exception& e, const std::string& what) {
  return FromException(e, what);
}

std::shared_ptr<DatasetCache> NewDatasetCache() { return std::make_shared<DatasetCache>(); }

}  // namespace hypersweep
