// The one definition of a trial row: every column a v1::Trial is shown with, its name, how its
// cell is read from the message and what type the cell has (a JSON scalar; client/output turns
// it into text). `trials` and `best` (table, CSV, JSON) and `export` (CSV, JSON) all take their
// trial columns from here, so a new column is added in trial_row.cc and nowhere else.
// Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_TRIAL_ROW_H_
#define HYPERSWEEP_CLIENT_TRIAL_ROW_H_

#include <string>
#include <vector>

#include "absl/types/span.h"
#include "client/output.h"
#include "hypersweep/v1/sweep.pb.h"
#include "nlohmann/json.hpp"

namespace hypersweep {

// A column of a trial row. Cells are null where the trial has no value (no fold, no worker yet,
// no reason, no best or final value, a non-finite value).
enum class TrialColumn {
  kId,         // "id": the trial id
  kTrialId,    // "trial_id": the trial id, beside a "sweep_id" column
  kIndex,      // "index": position in the sweep's expansion
  kStatus,     // "status": QUEUED, LEASED, SUCCEEDED, ... (see StatusName)
  kAttempt,    // "attempt"
  kBatchSize,  // "batch_size"
  kSchedule,   // "schedule": the schedule kind (one_cycle, ...)
  kFold,       // "fold": null without k-fold validation
  kSeed,       // "seed"
  kEpochs,     // "epochs": epochs reported so far
  kMetric,     // "metric": the metric best and final refer to (null when none was asked for)
  kBest,       // "best": the trial's best value of that metric
  kFinal,      // "final": its value at the last epoch
  kWorker,     // "worker": the worker that ran (or runs) it
  kLrSpread,   // "lr_spread": auto LR: max/min of its range tests' LRs; null without auto LR
  kReason,     // "reason": why it failed, diverged or was cancelled
};

// `trials` and `best`: every column but kTrialId.
inline constexpr TrialColumn kTrialListColumns[] = {
    TrialColumn::kId,        TrialColumn::kIndex,    TrialColumn::kStatus, TrialColumn::kAttempt,
    TrialColumn::kBatchSize, TrialColumn::kSchedule, TrialColumn::kFold,   TrialColumn::kSeed,
    TrialColumn::kEpochs,    TrialColumn::kMetric,   TrialColumn::kBest,   TrialColumn::kFinal,
    TrialColumn::kWorker,    TrialColumn::kLrSpread, TrialColumn::kReason};
// `export` CSV (after its "sweep_id" column): one row per epoch, so no per-trial summary values.
inline constexpr TrialColumn kTrialExportColumns[] = {
    TrialColumn::kTrialId,   TrialColumn::kIndex,    TrialColumn::kStatus, TrialColumn::kAttempt,
    TrialColumn::kBatchSize, TrialColumn::kSchedule, TrialColumn::kFold,   TrialColumn::kSeed,
    TrialColumn::kWorker,    TrialColumn::kLrSpread, TrialColumn::kReason};
// `export` JSON: one object per trial (with its epochs), keyed "id".
inline constexpr TrialColumn kTrialExportJsonColumns[] = {
    TrialColumn::kId,        TrialColumn::kIndex,    TrialColumn::kStatus, TrialColumn::kAttempt,
    TrialColumn::kBatchSize, TrialColumn::kSchedule, TrialColumn::kFold,   TrialColumn::kSeed,
    TrialColumn::kWorker,    TrialColumn::kLrSpread, TrialColumn::kReason};

// The column names, in order.
std::vector<std::string> TrialColumnNames(absl::Span<const TrialColumn> columns);

// The trial's cells for `columns`. `metric` is the metric kBest and kFinal refer to: the kMetric
// cell ("" : null).
std::vector<nlohmann::json> TrialCells(const v1::Trial& trial,
                                       absl::Span<const TrialColumn> columns,
                                       const std::string& metric);

// The parameter keys any of the trials has, sorted. Each is a "param.<key>" column.
std::vector<std::string> ParamKeys(const std::vector<v1::Trial>& trials);
// "param.<key>" for each key.
std::vector<std::string> ParamColumnNames(const std::vector<std::string>& keys);
// The trial's value of each key (a string), null where it has none.
std::vector<nlohmann::json> ParamCells(const v1::Trial& trial,
                                       const std::vector<std::string>& keys);
// The trial's parameters as one JSON object of strings.
nlohmann::json ParamsJson(const v1::Trial& trial);

// A table of trials: `columns`, then a "param.<key>" column per ParamKeys(trials).
Table TrialTable(const std::vector<v1::Trial>& trials, absl::Span<const TrialColumn> columns,
                 const std::string& metric);

// One trial as a JSON object: `columns` keyed by name, and "params" (ParamsJson).
nlohmann::json TrialJson(const v1::Trial& trial, absl::Span<const TrialColumn> columns,
                         const std::string& metric);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_TRIAL_ROW_H_
