#include "worker/trainer/metrics.h"

#include <cmath>
#include <limits>

#include "core/metrics.h"

namespace hypersweep {
namespace {

nlohmann::json Real(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json Count(double v) {
  constexpr double kLimit = 9e18;  // within int64_t
  return std::isfinite(v) && std::fabs(v) < kLimit ? nlohmann::json(static_cast<int64_t>(v))
                                                   : Real(v);
}

}  // namespace

nlohmann::json ToJson(const EpochMetrics& m) {
  const metrics::MetricRegistry& registry = metrics::MetricRegistry::Builtin();
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, v] : m.values) {
    switch (registry.KindOf(name)) {
      case metrics::ValueKind::kFlag:
        if (!std::isnan(v) && v != 0) j[name] = true;
        break;
      case metrics::ValueKind::kCount:
        j[name] = Count(v);
        break;
      case metrics::ValueKind::kReal:
        j[name] = Real(v);
        break;
    }
  }
  j["epoch"] = m.epoch;  // after the metrics: the field wins over a metric of that name
  return j;
}

EpochMetrics EpochFromJson(const nlohmann::json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch").get<int64_t>();
  for (const auto& [name, v] : j.items()) {
    if (name == "epoch") continue;
    if (v.is_null()) {
      m.Set(name, std::numeric_limits<double>::quiet_NaN());
    } else if (v.is_boolean()) {
      if (v.get<bool>()) m.Set(name, 1);
    } else {
      m.Set(name, v.get<double>());  // throws unless a number
    }
  }
  return m;
}

}  // namespace hypersweep
