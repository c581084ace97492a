#include "client/points.h"

#include <set>

#include "absl/strings/str_join.h"
#include "core/stats.h"

namespace hypersweep {

std::vector<Point> GroupIntoPoints(const std::vector<v1::Trial>& trials) {
  std::vector<Point> points;
  std::map<std::map<std::string, std::string>, size_t> index;
  for (const auto& t : trials) {
    std::map<std::string, std::string> key(t.params().begin(), t.params().end());
    key.erase("fold");
    key.erase("seed");
    if (key.empty()) key["schedule"] = t.schedule();
    auto [it, inserted] = index.emplace(key, points.size());
    if (inserted) points.push_back(Point{key, "", {}});
    points[it->second].trials.push_back(&t);
  }
  // Keys whose value is not the same in every point.
  std::set<std::string> all_keys, differing;
  for (const auto& p : points) {
    for (const auto& [k, v] : p.params) all_keys.insert(k);
  }
  for (const auto& k : all_keys) {
    std::set<std::string> values;
    for (const auto& p : points) {
      auto it = p.params.find(k);
      values.insert(it == p.params.end() ? "" : it->second);
    }
    if (values.size() > 1) differing.insert(k);
  }
  // schedule_index only tells apart points that nothing else does (two one_cycle entries).
  auto make_labels = [&](bool with_index) {
    std::set<std::string> seen;
    for (auto& p : points) {
      std::vector<std::string> parts;
      for (const auto& k : differing) {
        if (k == "schedule_index" && !with_index) continue;
        auto it = p.params.find(k);
        if (it != p.params.end()) parts.push_back(k + "=" + it->second);
      }
      if (parts.empty()) {
        auto it = p.params.find("schedule");
        parts.push_back(it != p.params.end() ? it->second : "all");
      }
      p.label = absl::StrJoin(parts, ", ");
      seen.insert(p.label);
    }
    return seen.size() == points.size();
  };
  if (!make_labels(false)) make_labels(true);
  return points;
}

MetricSeries AggregateMetric(const std::vector<const v1::TrialMetrics*>& trials,
                             const std::string& metric) {
  std::map<int64_t, std::vector<double>> by_epoch;
  for (const auto* t : trials) {
    for (const auto& e : t->epochs()) {
      auto it = e.metrics().find(metric);
      if (it != e.metrics().end()) by_epoch[e.epoch()].push_back(it->second);
    }
  }
  MetricSeries s;
  for (const auto& [epoch, values] : by_epoch) {
    s.epoch.push_back(static_cast<double>(epoch));
    s.mean.push_back(Mean(values));
    s.se.push_back(StandardError(values));
    s.n.push_back(static_cast<int>(values.size()));
  }
  return s;
}

}  // namespace hypersweep
