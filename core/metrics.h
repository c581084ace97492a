// Metric names: the one place that spells them. Per-epoch metrics travel as name -> value maps
// (proto EpochMetrics, the store's epoch rows, the CLI's columns); every process that writes or
// reads one of the standard names uses the constants below, and a spec's objective is checked
// against a MetricRegistry when the spec is parsed.
//
// Which metrics a trial reports depends on its kind: the built-in trainer reports the standard
// set (DESIGN.md "Metrics per epoch"); a trial kind that reports its own names (e.g. a user's
// program) registers them with MetricRegistry::With so that objective, best and sorting accept
// them. Thread-safe: registries are immutable values.
#ifndef HYPERSWEEP_CORE_METRICS_H_
#define HYPERSWEEP_CORE_METRICS_H_

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

// The objective when a spec names none.
inline constexpr char kDefaultObjective[] = "val_loss";

// Which direction is better for a metric when nobody says (sorting a non-objective metric).
enum class Direction { kLowerIsBetter, kHigherIsBetter, kNeither };

struct MetricInfo {
  std::string name;
  Direction direction = Direction::kNeither;
  bool objective = false;  // a sensible objective (a loss or a score, not a rate or a counter)
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
  const std::vector<MetricInfo>& all() const { return metrics_; }
  // The objective metrics, comma-separated, for error messages ("train_loss, val_loss, ...").
  std::string ObjectiveNames() const;

 private:
  const MetricInfo* Find(std::string_view name) const;
  std::vector<MetricInfo> metrics_;
};

}  // namespace hypersweep::metrics

#endif  // HYPERSWEEP_CORE_METRICS_H_
