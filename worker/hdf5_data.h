// Reads a dataset.hdf5 file (core/trial_spec.h, Hdf5Options) with the HDF5 C library into plain
// vectors: a table of float inputs, class-index targets, optional weights and, for a LUMIN fold
// file, the rows of each fold. Torch-free, so it is cheap to test; worker/trainer/data.cc turns
// the result into tensors.
//
// The file is read through one descriptor (opened non-blocking and checked to be a regular file,
// at most DataLimits::max_bytes) and handed to HDF5 as a read-only in-memory image, so nothing
// can swap a FIFO or device in between the check and the read, and HDF5 never writes. HDF5's own
// error printing is off: every error is ours, INVALID_ARGUMENT naming the spec field, the file
// (by its base name) and the dataset inside it, never a value from the file.
#ifndef HYPERSWEEP_WORKER_HDF5_DATA_H_
#define HYPERSWEEP_WORKER_HDF5_DATA_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trial_spec.h"
#include "worker/data_paths.h"

namespace hypersweep {

// A larger target is no class index (the trainer keeps tables per class); as for CSV labels.
inline constexpr int64_t kMaxHdf5Classes = 100'000;

struct Hdf5Table {
  int64_t rows = 0;
  int64_t features = 0;
  std::vector<float> x;    // rows * features, row-major
  std::vector<int64_t> y;  // class index per row, 0..C-1
  std::vector<float> w;    // one weight >= 0 per row; empty when the file has none
  // LUMIN fold files: the number of rows of fold_0, fold_1, ... (the table holds them in that
  // order); empty for a plain file.
  std::vector<int64_t> fold_rows;
};

// Reads the file that `o.path` names (already confined to the worker's data roots). Inputs must
// be [rows, features], targets and weights [rows] or [rows, 1]; integer or float datasets are read
// as float, anything else (strings, compounds, ...) is refused. Targets must be class indices
// (0/1 for a binary task), weights finite and >= 0, inputs finite. Rows, features and the inputs'
// size in memory (4 bytes a value, against limits.max_bytes) are bounded by `limits`. Returns
// CANCELLED when `should_stop` (polled between chunks and datasets) says so. Thread-safe (calls
// into HDF5 are serialised).
absl::StatusOr<Hdf5Table> ReadHdf5(const Hdf5Options& o, const DataLimits& limits,
                                   const std::function<bool()>& should_stop = {});

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_HDF5_DATA_H_
