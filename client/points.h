// Points of a sweep: trials grouped by their swept parameters minus fold and seed, so folds and
// seeds of one configuration aggregate into mean +- standard error. Pure functions on protos.
#ifndef HYPERSWEEP_CLIENT_POINTS_H_
#define HYPERSWEEP_CLIENT_POINTS_H_

#include <map>
#include <string>
#include <vector>

#include "hypersweep/v1/sweep.pb.h"

namespace hypersweep {

struct Point {
  std::map<std::string, std::string> params;  // swept values without fold and seed
  std::string label;                          // what differs from the other points
  std::vector<const v1::Trial*> trials;       // in the order given
};

// Groups trials into points (in order of first appearance) and labels each by the parameters
// that differ between points ("batch_size=256, schedule=one_cycle"); a sweep of one point is
// labelled by its schedule, or "all". The trials must outlive the points.
std::vector<Point> GroupIntoPoints(const std::vector<v1::Trial>& trials);

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
