// Metric names: the one place that spells them. Per-epoch metrics travel as name -> value maps
// (EpochMetrics below in the worker, proto EpochMetrics, the store's epoch rows, the CLI's
// columns); every process that writes or reads one of the standard names uses the constants
// below, and a spec's objective is checked against a MetricRegistry when the spec is parsed.
// Code that moves or stores metrics loops over the map; only code that computes or interprets a
// metric names it.
//
// Which metrics a trial reports depends on its kind: the built-in trainer reports the standard
// set (DESIGN.md "Metrics per epoch"); a trial kind that reports its own names (e.g. a user's
// program) registers them with MetricRegistry::With so that objective, best and sorting accept
// them. Thread-safe: registries are immutable values.
#ifndef HYPERSWEEP_CORE_METRICS_H_
#define HYPERSWEEP_CORE_METRICS_H_

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hypersweep::metrics {

// Reported every epoch by the built-in trainer.
inline constexpr char kTrainLoss[] = "train_loss";
inline constexpr char kValLoss[] = "val_loss";
inline constexpr char kValAccuracy[] = "val_accuracy";
inline constexpr char kValAuc[] = "val_auc";  // binary tasks only
inline constexpr char kValAms[] = "val_ams";  // binary tasks with sample weights only
inline constexpr char kLr[] = "lr";           // lr of the epoch's last step
inline constexpr char kMomentum[] = "momentum";
inline constexpr char kSeconds[] = "seconds";  // training seconds of this epoch
inline constexpr char kSamplesPerSecond[] = "samples_per_second";
inline constexpr char kElapsedSeconds[] = "elapsed_seconds";  // training seconds since the start
inline constexpr char kSteps[] = "steps";                     // optimizer steps so far
inline constexpr char kPartial[] = "partial";  // 1 when the epoch was cut by the time budget

// Reported once, with the last epoch, when the dataset has a test split that is not the
// validation set: the final model on the test rows. Never an objective, so never used for
// `best`, sorting or the auto LR (selection reads validation metrics only).
inline constexpr char kTestLoss[] = "test_loss";
inline constexpr char kTestAccuracy[] = "test_accuracy";
inline constexpr char kTestAuc[] = "test_auc";
inline constexpr char kTestAms[] = "test_ams";
// Whether `name` is one of the test-split metrics above (selection must not read them).
bool IsTestMetric(std::string_view name);

// The objective when a spec names none.
inline constexpr char kDefaultObjective[] = "val_loss";

// Which direction is better for a metric when nobody says (sorting a non-objective metric).
enum class Direction { kLowerIsBetter, kHigherIsBetter, kNeither };

// How a value is written where a format tells numbers apart (the worker's JSON): a real number
// (non-finite: null), an integer count, or a flag (`true`, written only when the value is not 0).
enum class ValueKind { kReal, kCount, kFlag };

struct MetricInfo {
  std::string name;
  Direction direction = Direction::kNeither;
  bool objective = false;  // a sensible objective (a loss or a score, not a rate or a counter)
  ValueKind kind = ValueKind::kReal;
};

// The names a trial may report and an objective may name.
class MetricRegistry {
 public:
  // The built-in trainer's metrics.
  static const MetricRegistry& Builtin();

  // This registry plus `extra` (a trial kind's own metric names; lower is better unless said).
  MetricRegistry With(const std::vector<MetricInfo>& extra) const;

  bool Contains(std::string_view name) const;
  // Known and usable as an objective.
  bool IsObjective(std::string_view name) const;
  Direction DirectionOf(std::string_view name) const;
  // kReal for a name the registry does not know.
  ValueKind KindOf(std::string_view name) const;
  const std::vector<MetricInfo>& all() const { return metrics_; }
  // The objective metrics, comma-separated, for error messages ("train_loss, val_loss, ...").
  std::string ObjectiveNames() const;

 private:
  const MetricInfo* Find(std::string_view name) const;
  std::vector<MetricInfo> metrics_;
};

// One epoch's metrics as the worker produces them: the epoch number and a name -> value map keyed
// by the names above (or a trial kind's own), the same shape as proto EpochMetrics and the store's
// epoch rows. A value may be NaN (e.g. val_auc of a multi-class task): the worker's JSON writes it
// as null, the proto leaves the name out. A flag such as kPartial is 1 when set, else absent.
struct EpochMetrics {
  int64_t epoch = 0;  // 0-based
  std::map<std::string, double> values;

  bool Has(std::string_view name) const { return values.count(std::string(name)) > 0; }
  double Get(std::string_view name,
             double fallback = std::numeric_limits<double>::quiet_NaN()) const {
    auto it = values.find(std::string(name));
    return it == values.end() ? fallback : it->second;
  }
  void Set(std::string_view name, double value) { values[std::string(name)] = value; }
};

}  // namespace hypersweep::metrics

#endif  // HYPERSWEEP_CORE_METRICS_H_
