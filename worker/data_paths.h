// Where a worker may read data and checkpoints: the trust boundary between a sweep's spec (written
// by any client) and the worker's file system. Torch-free, so it is cheap to test.
//
// Data paths a spec names (dataset.csv.path, dataset.csv.test_path, dataset.hdf5.path, an idx
// dataset's root) are confined to the worker's data roots: --data-root plus each
// --allow-data-root (Debian's /usr/share/datasets by default). A relative path is resolved against
// --data-root; the canonical path (symlinks resolved) must lie under the canonical path of a root,
// or the spec is refused with the same message whether or not the file exists. Only regular files
// are read (a FIFO, device or directory is refused before it is opened), and reading stops at
// DataLimits.
//
// A checkpoint reference from the coordinator is a bare file name "<trial>.attempt<N>.pt"
// (core/checkpoint_ref.h) resolved only inside --checkpoint-dir, and only when it is a regular
// file there (not a symlink).
#ifndef HYPERSWEEP_WORKER_DATA_PATHS_H_
#define HYPERSWEEP_WORKER_DATA_PATHS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hypersweep {

inline constexpr char kDefaultAllowedDataRoot[] = "/usr/share/datasets";

// Bounds on what one dataset may cost a worker; the operator sets them (worker flags).
struct DataLimits {
  int64_t max_bytes = int64_t{4} << 30;  // --max-data-bytes: one file, after gunzip
  int64_t max_rows = 20'000'000;         // --max-data-rows: rows of one table
  int64_t max_features = 100'000;        // --max-data-features: input width (CSV feature columns)
};

struct DataRoots {
  std::string data_root;             // --data-root: relative paths are resolved here ("" none)
  std::vector<std::string> allowed;  // --allow-data-root, each readable too
};

enum class PathKind { kFile, kDirectory };

// The canonical path of `path` (spec field `field`) when it names an existing file of `kind`
// under one of the roots; INVALID_ARGUMENT naming the field otherwise. The message for a path
// outside the roots is the same whether or not it exists.
absl::StatusOr<std::string> ConfineDataPath(const DataRoots& roots, const std::string& path,
                                            const std::string& field, PathKind kind);

// True when canonical path `p` is `root` or lies below it (both canonical, compared by
// component).
bool IsWithin(const std::string& p, const std::string& root);

// The path of checkpoint reference `ref` of trial `trial_id` inside `checkpoint_dir` when it is
// one of the trial's own file names (any attempt) and a regular file there, not a symlink;
// "" otherwise.
std::string ResolveCheckpointRef(const std::string& checkpoint_dir, const std::string& trial_id,
                                 const std::string& ref);

// Removes `path` only when it is a regular file (not a symlink) directly inside checkpoint_dir
// whose name is one of trial `trial_id`'s checkpoint names. Returns whether it removed it.
bool RemoveOwnCheckpoint(const std::string& checkpoint_dir, const std::string& trial_id,
                         const std::string& path);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_DATA_PATHS_H_
