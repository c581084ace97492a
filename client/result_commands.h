// Commands that query a sweep's results: trials, best, curves, export, lr-curve.
#ifndef HYPERSWEEP_CLIENT_RESULT_COMMANDS_H_
#define HYPERSWEEP_CLIENT_RESULT_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/commands.h"
#include "client/sweep_client.h"

namespace hypersweep {

struct TrialsOptions {
  std::string sweep_id;
  std::vector<std::string> statuses;  // QUEUED, succeeded, ... (case-insensitive)
  std::string sort_metric;
  int64_t limit = 0;  // 0: all
  std::string format;
};
// The sweep's trials (client/trial_row's list columns), filtered and sorted as asked.
absl::Status RunTrials(SweepClient& client, const TrialsOptions& options, Io& io);

// The best trial by `metric` ("" : the objective's). When some point has several folds or
// seeds, the best point instead: mean +- standard error over its trials at its best epoch.
// NOT_FOUND when no trial reported the metric.
absl::Status RunBest(SweepClient& client, const std::string& sweep_id, const std::string& metric,
                     const std::string& format, Io& io);

struct CurvesOptions {
  std::string sweep_id;
  std::vector<std::string> trial_ids;  // empty: every trial of the sweep
  std::vector<std::string> metrics;    // empty: all
  std::string format;
};
// Per-epoch metrics of trials; NOT_FOUND for a trial that is not in the sweep.
absl::Status RunCurves(SweepClient& client, const CurvesOptions& options, Io& io);

// Every trial with its parameters and every epoch: CSV/table one row per trial and epoch; JSON
// the sweep (with its spec text) and each trial with its spec and epochs.
absl::Status RunExport(SweepClient& client, const std::string& sweep_id, const std::string& format,
                       Io& io);

// An LR range test trial's curve and suggestion; NOT_FOUND when it has no curve.
absl::Status RunLrCurve(SweepClient& client, const std::string& trial_id, const std::string& format,
                        Io& io);

// The trial with the best value of `metric` (the sweep's goal when it is the objective metric,
// else minimize), or nullopt when no trial has reported it. Also used by `status`.
absl::StatusOr<std::optional<v1::Trial>> BestTrial(SweepClient& client, const v1::Sweep& sweep,
                                                   const std::string& metric);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_RESULT_COMMANDS_H_
