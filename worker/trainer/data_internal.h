// Internal to worker/trainer (includes torch): what data.cc and data_csv.cc share, the reading of
// a data file within the worker's limits and the CSV loader that LoadData dispatches to.
#ifndef HYPERSWEEP_WORKER_TRAINER_DATA_INTERNAL_H_
#define HYPERSWEEP_WORKER_TRAINER_DATA_INTERNAL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/trial_spec.h"
#include "worker/trainer/data.h"

namespace hypersweep {
namespace data_internal {

// CANCELLED, for a load that options.should_stop stopped; ShouldStop polls it.
absl::Status Stopped();
bool ShouldStop(const DataLoadOptions& o);

// Reads a file, gunzipping it when it is gzip (zlib reads plain files unchanged). Only a regular
// file is read (checked on the open descriptor, so a FIFO or device never blocks or floods the
// worker), at most limits.max_bytes after gunzip, polling should_stop between chunks. Errors name
// `field`, never the file's content.
absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path, const std::string& field,
                                          const DataLoadOptions& o);

// dataset: {csv: ...}: the training file and, when the spec names one, the test file, read with
// the same columns (data_csv.cc).
absl::StatusOr<std::shared_ptr<LoadedData>> LoadCsv(const DatasetSpec& spec,
                                                    const DataLoadOptions& o);

}  // namespace data_internal
}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_DATA_INTERNAL_H_
