// The dataset section of a trial spec (`dataset: {fashion_mnist | mnist | csv | synthetic |
// hdf5: ...}`): ParseDataset (trial_spec.h), with the check that a file dataset names its file.
// Its JSON form is written with the rest of the spec's by ToJson in trial_spec.cc.
#include <string>

#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "core/trial_spec.h"

namespace hypersweep {
namespace {

absl::Status CheckDataPresence(const DatasetSpec& d, const std::string& path,
                               const YAML::Node& node) {
  if (d.kind == DatasetSpec::Kind::kCsv && d.csv.path.empty()) {
    return FieldError(JoinPath(path, "csv.path"), node, "required");
  }
  if (d.kind == DatasetSpec::Kind::kHdf5 && d.hdf5.path.empty()) {
    return FieldError(JoinPath(path, "hdf5.path"), node, "required");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DatasetSpec> ParseDataset(const YAML::Node& node, const std::string& path) {
  ASSIGN_OR_RETURN(
      auto which,
      ReadOneOf(node, path, {"fashion_mnist", "mnist", "csv", "synthetic", "hdf5"}, "dataset"));
  DatasetSpec d;
  MapReader r(which.second, JoinPath(path, which.first));
  r.Int("limit", &d.limit);
  if (which.first == "fashion_mnist" || which.first == "mnist") {
    d.kind = which.first == "mnist" ? DatasetSpec::Kind::kMnist : DatasetSpec::Kind::kFashionMnist;
    if (d.kind == DatasetSpec::Kind::kMnist) d.root.clear();
    r.String("root", &d.root);
    if (r.ok() && d.root.empty()) r.Fail("root", "required: the directory holding the idx files");
  } else if (which.first == "csv") {
    d.kind = DatasetSpec::Kind::kCsv;
    d.root.clear();
    CsvOptions& c = d.csv;
    r.String("path", &c.path);
    r.String("test_path", &c.test_path);
    r.String("label", &c.label);
    r.String("positive", &c.positive);
    r.String("weight", &c.weight);
    r.StringList("drop", &c.drop);
    if (r.ok() && r.Has("where")) {
      const YAML::Node w = r.Child("where");
      if (!w.IsMap() || w.size() == 0) {
        r.Fail("where", "expected a map of column: value, e.g. {KaggleSet: t}");
      } else {
        for (auto it = w.begin(); it != w.end(); ++it) {
          if (!it->second.IsScalar()) {
            r.Fail(FieldError(JoinPath(r.PathOf("where"), it->first.Scalar()), it->second,
                              "expected a value"));
            break;
          }
          c.where[it->first.Scalar()] = it->second.Scalar();
        }
      }
    }
    r.Child("where");
    if (r.Has("missing")) c.has_missing = true;
    r.Double("missing", &c.missing);
    r.Bool("normalize_weights", &c.normalize_weights);
    if (r.ok() && c.path.empty()) r.Fail("", "field 'path' is required");
    if (r.ok() && c.label.empty()) r.Fail("label", "must not be empty");
  } else if (which.first == "hdf5") {
    d.kind = DatasetSpec::Kind::kHdf5;
    d.root.clear();
    Hdf5Options& h = d.hdf5;
    r.String("path", &h.path);
    r.String("inputs", &h.inputs);
    r.String("targets", &h.targets);
    r.String("weights", &h.weights);
    r.Bool("lumin_folds", &h.lumin_folds);
    if (r.ok() && h.path.empty()) r.Fail("", "field 'path' is required");
    if (r.ok() && h.inputs.empty()) r.Fail("inputs", "must not be empty");
    if (r.ok() && h.targets.empty()) r.Fail("targets", "must not be empty");
    if (r.ok() && r.Has("weights") && h.weights.empty()) {
      r.Fail("weights", "must not be empty (leave the field out for no weights)");
    }
  } else {
    d.kind = DatasetSpec::Kind::kSynthetic;
    d.root.clear();
    SyntheticOptions& s = d.synthetic;
    r.Int("samples", &s.samples);
    r.Int("features", &s.features);
    r.Int("classes", &s.classes);
    r.Double("noise", &s.noise);
    r.Bool("weights", &s.weights);
    int64_t data_seed = static_cast<int64_t>(s.data_seed);
    r.Int("data_seed", &data_seed);
    s.data_seed = static_cast<uint64_t>(data_seed);
    if (r.ok() && s.samples < 10) r.Fail("samples", "must be >= 10");
    if (r.ok() && s.features < 1) r.Fail("features", "must be >= 1");
    if (r.ok() && s.classes < 2) r.Fail("classes", "must be >= 2");
    if (r.ok() && s.noise < 0) r.Fail("noise", "must be >= 0");
    if (r.ok() && s.weights && s.classes != 2) r.Fail("weights", "sample weights need classes: 2");
  }
  if (r.ok() && d.limit < 0) r.Fail("limit", "must be >= 0");
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(CheckDataPresence(d, path, node));
  return d;
}

}  // namespace hypersweep
