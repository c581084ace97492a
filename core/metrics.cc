#include "core/metrics.h"

#include "absl/strings/str_join.h"

namespace hypersweep::metrics {

const MetricRegistry& MetricRegistry::Builtin() {
  static const MetricRegistry* const kBuiltin = [] {
    auto* r = new MetricRegistry;
    using D = Direction;
    r->metrics_ = {
        {kTrainLoss, D::kLowerIsBetter, true},
        {kValLoss, D::kLowerIsBetter, true},
        {kValAccuracy, D::kHigherIsBetter, true},
        {kValAuc, D::kHigherIsBetter, true},
        {kValAms, D::kHigherIsBetter, true},
        {kLr, D::kNeither, false},
        {kMomentum, D::kNeither, false},
        {kSeconds, D::kLowerIsBetter, false},
        {kSamplesPerSecond, D::kHigherIsBetter, false},
        {kElapsedSeconds, D::kLowerIsBetter, false},
        {kSteps, D::kNeither, false, ValueKind::kCount},
        {kPartial, D::kNeither, false, ValueKind::kFlag},
        {kTestLoss, D::kLowerIsBetter, false},
        {kTestAccuracy, D::kHigherIsBetter, false},
        {kTestAuc, D::kHigherIsBetter, false},
        {kTestAms, D::kHigherIsBetter, false},
    };
    return r;
  }();
  return *kBuiltin;
}

bool IsTestMetric(std::string_view name) {
  return name == kTestLoss || name == kTestAccuracy || name == kTestAuc || name == kTestAms;
}

MetricRegistry MetricRegistry::With(const std::vector<MetricInfo>& extra) const {
  MetricRegistry r = *this;
  for (const MetricInfo& m : extra) {
    if (!r.Contains(m.name)) r.metrics_.push_back(m);
  }
  return r;
}

const MetricInfo* MetricRegistry::Find(std::string_view name) const {
  for (const MetricInfo& m : metrics_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

bool MetricRegistry::Contains(std::string_view name) const { return Find(name) != nullptr; }

bool MetricRegistry::IsObjective(std::string_view name) const {
  const MetricInfo* m = Find(name);
  return m != nullptr && m->objective;
}

Direction MetricRegistry::DirectionOf(std::string_view name) const {
  const MetricInfo* m = Find(name);
  return m == nullptr ? Direction::kNeither : m->direction;
}

ValueKind MetricRegistry::KindOf(std::string_view name) const {
  const MetricInfo* m = Find(name);
  return m == nullptr ? ValueKind::kReal : m->kind;
}

std::string MetricRegistry::ObjectiveNames() const {
  std::vector<std::string> names;
  for (const MetricInfo& m : metrics_) {
    if (m.objective) names.push_back(m.name);
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace hypersweep::metrics
