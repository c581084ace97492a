// Reading one metric out of a stored epoch's metrics_json without building a JSON document: the
// read path behind ListTrials' summaries of running trials (SqliteStore's hs_metric()), which
// visits every stored epoch of those trials.
#ifndef HYPERSWEEP_SERVER_STORE_METRIC_JSON_H_
#define HYPERSWEEP_SERVER_STORE_METRIC_JSON_H_

#include <optional>
#include <string_view>

namespace hypersweep {

// The value of `name` in `json`, a flat object of numbers as nlohmann::json::dump() writes it
// (`{"lr":0.1,"val_loss":0.3}`): nullopt when the key is absent or its value is not a number.
// Text in any other shape (whitespace, escapes in keys, nested values) is parsed in full with
// nlohmann::json, so the answer never depends on the shape. Values are bit-exact: both paths
// convert the decimal text with correct rounding.
std::optional<double> FindMetric(std::string_view json, std::string_view name);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_STORE_METRIC_JSON_H_
