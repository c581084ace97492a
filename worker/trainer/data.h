// Datasets as in-memory tensors: idx (MNIST, Fashion-MNIST; gzip or plain), CSV (the ATLAS Higgs
// challenge layout among others), HDF5 (plain or LUMIN fold files, read by worker/hdf5_data.h)
// and a deterministic synthetic generator; plus splitting (test split, stratified holdout, k-fold
// or a fold file's own folds) and standardisation fitted on the training part.
// Internal to worker/trainer (includes torch).
#ifndef HYPERSWEEP_WORKER_TRAINER_DATA_H_
#define HYPERSWEEP_WORKER_TRAINER_DATA_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/trial_spec.h"
#include "worker/data_paths.h"

namespace hypersweep {

// Rows of one table. x: float [N, ...features]; y: int64 class index [N]; w: float [N] raw sample
// weights or undefined; missing: bool [N, F] marks of missing values or undefined; fold: int64 [N]
// the fold a LUMIN fold file puts each row in, or undefined.
struct Table {
  torch::Tensor x, y, w, missing, fold;
  int64_t rows() const { return x.size(0); }
};

// A loaded dataset, immutable once built (shared by trials and threads).
struct LoadedData {
  Table train;
  Table test;  // undefined tensors when the dataset has no test split
  int64_t num_classes = 0;
  bool is_image = false;                   // idx data: x is [N, 1, 28, 28]
  std::vector<std::string> feature_names;  // csv
  int64_t file_folds = 0;  // a LUMIN fold file's number of folds (train.fold is set); else 0
  bool has_test() const { return test.x.defined(); }
};

// What a trial trains and validates on, standardised with the training part's statistics.
// `test` holds the dataset's test split when it is not the validation set (undefined tensors
// otherwise): the final model is evaluated on it once, and nothing selects on it.
struct SplitData {
  Table train, val, test;
  int64_t num_classes = 0;
  bool binary = false;  // two classes: one logit and weighted BCE
  // Multiplies the validation rows' weights for AMS so that they stand for the whole dataset (the
  // full training file, before dataset.limit): its rows / the validation rows.
  double val_weight_scale = 1.0;
  torch::Tensor train_loss_w;  // per-row loss weights (maybe class-normalised) or undefined
  torch::Tensor val_loss_w;
  torch::Tensor test_loss_w;
  bool has_test() const { return test.x.defined(); }
};

// How much a load may read, and when to give up (polled between chunks and rows: a cancelled
// trial stops loading with CANCELLED).
struct DataLoadOptions {
  DataLimits limits;
  std::function<bool()> should_stop;
};

// Reads the files the spec names as they are (the worker has confined them to its data roots,
// worker/data_paths.h); only regular files, within options.limits. A bad or oversized file, or
// running out of memory, is INVALID_ARGUMENT naming the spec's field, never the file's content.
absl::StatusOr<std::shared_ptr<const LoadedData>> LoadData(const DatasetSpec& spec,
                                                           const DataLoadOptions& options = {});

// Thread-safe cache of loaded datasets keyed by the dataset spec, shared by a worker's slots.
class DatasetCache {
 public:
  absl::StatusOr<std::shared_ptr<const LoadedData>> Get(const DatasetSpec& spec,
                                                        const DataLoadOptions& options = {});

 private:
  absl::Mutex mu_;  // guards entries_
  std::map<std::string, std::shared_ptr<const LoadedData>> entries_ ABSL_GUARDED_BY(mu_);
};

// Splits by the trial's validation spec (folds are stratified with a fixed seed so fold i is the
// same rows for every trial; a LUMIN fold file's folds are used as the file gives them, fold i
// validating on the file's fold_i, and `folds` must be the file's number of folds) and
// standardises on the training rows. The default is a stratified
// holdout of the training rows, also for a dataset with a test split, which then becomes
// SplitData::test; `validation: {test_split: true}` validates on the test split instead (and then
// there is no separate test).
absl::StatusOr<SplitData> MakeSplit(const LoadedData& data, const TrialSpec& spec);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_DATA_H_
