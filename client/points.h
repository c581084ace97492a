// Points of a sweep: trials grouped by their swept parameters minus fold and seed, so folds and
// seeds of one configuration aggregate into mean +- standard error. Pure functions on protos.
#ifndef HYPERSWEEP_CLIENT_POINTS_H_
#define HYPERSWEEP_CLIENT_POINTS_H_

#include <map>
#include <string>
#include <vector>

#include "client/series_label.h"
#include "hypersweep/v1/sweep.pb.h"

namespace hypersweep {

struct Point {
  std::map<std::string, std::string> params;  // swept values without fold and seed
  std::string label;  // what differs from the other points, in words (client/series_label.h)
  std::vector<const v1::Trial*> trials;  // in the order given
};

// Groups trials into points (in order of first appearance) and labels each by what differs
// between the points in human terms, from its first trial's spec and params (SeriesLabels:
// "1cycle max_lr 0.096, batch 256"; never ids, indexes or internal params); a sweep of one point
// is labelled by its schedule. The trials must outlive the points.
std::vector<Point> GroupIntoPoints(const std::vector<v1::Trial>& trials);

// What a trial stands for as a plot series: its spec (parsed from spec_json, `auto` allowed;
// absent when unreadable) and its params (with `schedule` from Trial.schedule when not swept).
SeriesSubject SubjectOf(const v1::Trial& trial);

// Mean +- standard error per epoch of one metric across a point's trials: epochs where at least
// one trial reported the metric, ascending.
struct MetricSeries {
  std::vector<double> epoch;
  std::vector<double> mean;
  std::vector<double> se;
  std::vector<int> n;  // trials that contributed to each epoch
};
MetricSeries AggregateMetric(const std::vector<const v1::TrialMetrics*>& trials,
                             const std::string& metric);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_POINTS_H_
