#include "client/points.h"

#include <set>

#include "core/stats.h"
#include "core/trial_spec.h"

namespace hypersweep {

SeriesSubject SubjectOf(const v1::Trial& trial) {
  SeriesSubject s;
  s.params.insert(trial.params().begin(), trial.params().end());
  if (!s.params.count("schedule") && !trial.schedule().empty()) {
    s.params["schedule"] = trial.schedule();
  }
  if (!trial.spec_json().empty()) {
    ParseOptions options;
    options.allow_auto = true;  // an auto LR not resolved yet reads "auto"
    if (auto spec = ParseTrialSpec(trial.spec_json(), options); spec.ok()) {
      s.spec = *std::move(spec);
    }
  }
  return s;
}

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
  // Each point is named by what differs between the points, in human terms (client/series_label).
  std::vector<SeriesSubject> subjects;
  for (const auto& p : points) subjects.push_back(SubjectOf(*p.trials.front()));
  const std::vector<std::string> labels = SeriesLabels(subjects);
  for (size_t i = 0; i < points.size(); ++i) points[i].label = labels[i];
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
