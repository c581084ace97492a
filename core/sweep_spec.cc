#include "core/sweep_spec.h"

#include <cmath>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/command_spec.h"
#include "core/metrics.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "core/sweep_spec_internal.h"

namespace hypersweep {

constexpr const char* kScalarKeys[] = {"momentum", "weight_decay", "batch_size", "epochs"};

bool sweep_internal::IsScalarKey(const std::string& key) {
  for (const char* k : kScalarKeys) {
    if (key == k) return true;
  }
  return false;
}

namespace {
using sweep_internal::IsScalarKey;

constexpr const char* kNestedPrefixes[] = {"schedule.", "model.", "optimizer."};

bool IsNestedKey(const std::string& key) {
  for (const char* p : kNestedPrefixes) {
    if (absl::StartsWith(key, p) && key.size() > std::string(p).size()) return true;
  }
  return false;
}

// Reads a list that, when present, must not be empty.
template <typename T>
void NonEmptyList(MapReader& r, const std::string& key, std::vector<T>* out,
                  void (MapReader::*read)(const std::string&, std::vector<T>*)) {
  if (!r.Has(key)) {
    r.Child(key);
    return;
  }
  (r.*read)(key, out);
  if (r.ok() && out->empty()) r.Fail(key, "must not be empty: list at least one value");
}

// Fails on the first element of a list field that breaks `ok`.
template <typename T, typename Pred>
void CheckEach(MapReader& r, const std::string& key, const std::vector<T>& values, Pred ok,
               const std::string& what) {
  for (size_t i = 0; r.ok() && i < values.size(); ++i) {
    if (!ok(values[i])) {
      YAML::Node list = r.Child(key);
      r.Fail(FieldError(absl::StrCat(r.PathOf(key), "[", i, "]"), list[i],
                        absl::StrCat(what, ", got ", values[i])));
    }
  }
}

absl::StatusOr<RandomParam> ParseRandomParam(const std::string& key, const YAML::Node& node,
                                             const std::string& path) {
  RandomParam p;
  p.key = key;
  if (!IsScalarKey(key) && !IsNestedKey(key)) {
    return FieldError(path, node,
                      "unknown parameter; expected momentum, weight_decay, batch_size, epochs or "
                      "a field of the trial's schedule/model/optimizer as schedule.<field>, "
                      "model.<field>, optimizer.<field>");
  }
  ASSIGN_OR_RETURN(auto which, ReadOneOf(node, path, {"uniform", "log_uniform", "int", "choice"},
                                         "distribution"));
  const std::string dpath = JoinPath(path, which.first);
  const YAML::Node& v = which.second;
  if (which.first == "choice") {
    p.kind = RandomParam::Kind::kChoice;
    if (!v.IsSequence() || v.size() == 0) {
      return FieldError(dpath, v.IsDefined() ? v : node, "expected a non-empty list of values");
    }
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string ipath = absl::StrCat(dpath, "[", i, "]");
      if (!v[i].IsScalar()) return FieldError(ipath, v[i], "expected a scalar value");
      if (IsScalarKey(key)) RETURN_IF_ERROR(ReadDouble(v[i], ipath).status());
      p.choices.push_back(v[i].Scalar());
    }
    return p;
  }
  p.kind = which.first == "uniform"       ? RandomParam::Kind::kUniform
           : which.first == "log_uniform" ? RandomParam::Kind::kLogUniform
                                          : RandomParam::Kind::kInt;
  if (!v.IsSequence() || v.size() != 2) {
    return FieldError(dpath, v.IsDefined() ? v : node, "expected [low, high]");
  }
  if (p.kind == RandomParam::Kind::kInt) {
    ASSIGN_OR_RETURN(int64_t lo, ReadInt(v[0], dpath + "[0]"));
    ASSIGN_OR_RETURN(int64_t hi, ReadInt(v[1], dpath + "[1]"));
    if (hi < lo) return FieldError(dpath, v, "high must be >= low");
    p.low = static_cast<double>(lo);
    p.high = static_cast<double>(hi);
    return p;
  }
  ASSIGN_OR_RETURN(p.low, ReadDouble(v[0], dpath + "[0]"));
  ASSIGN_OR_RETURN(p.high, ReadDouble(v[1], dpath + "[1]"));
  if (p.kind == RandomParam::Kind::kLogUniform && p.low <= 0) {
    return FieldError(dpath + "[0]", v[0],
                      absl::StrCat("log_uniform bounds must be > 0, got ", p.low));
  }
  if (p.kind == RandomParam::Kind::kLogUniform && p.high <= 0) {
    return FieldError(dpath + "[1]", v[1],
                      absl::StrCat("log_uniform bounds must be > 0, got ", p.high));
  }
  if (!(p.high > p.low)) return FieldError(dpath, v, "high must be > low");
  return p;
}

// pruner: {median: {startup_trials, warmup_epochs, interval}} or {asha: {min_epochs,
// reduction_factor}}; a bare "median" or "asha" takes the defaults.
absl::Status ParsePruner(const YAML::Node& node, PrunerSpec* out) {
  ASSIGN_OR_RETURN(auto which, ReadOneOf(node, "pruner", {"median", "asha"}, "pruner"));
  const std::string path = JoinPath("pruner", which.first);
  MapReader r(which.second, path);  // a bare name or {} means every default
  if (which.first == "median") {
    out->kind = PrunerSpec::Kind::kMedian;
    r.Int("startup_trials", &out->startup_trials);
    if (r.ok() &&
        !(out->startup_trials >= 0 && out->startup_trials <= kMaxExpandedTrialsPerSweep)) {
      r.Fail("startup_trials", absl::StrCat("must be in [0, ", kMaxExpandedTrialsPerSweep, "]"));
    }
    r.Int("warmup_epochs", &out->warmup_epochs);
    if (r.ok() && !(out->warmup_epochs >= 0 && out->warmup_epochs < kMaxEpochs)) {
      r.Fail("warmup_epochs", absl::StrCat("must be in [0, ", kMaxEpochs - 1, "]"));
    }
    r.Int("interval", &out->interval);
    if (r.ok() && !(out->interval >= 1 && out->interval <= kMaxEpochs)) {
      r.Fail("interval", absl::StrCat("must be in [1, ", kMaxEpochs, "]"));
    }
  } else {
    out->kind = PrunerSpec::Kind::kAsha;
    r.Int("min_epochs", &out->min_epochs);
    if (r.ok() && !(out->min_epochs >= 1 && out->min_epochs <= kMaxEpochs)) {
      r.Fail("min_epochs", absl::StrCat("must be in [1, ", kMaxEpochs, "]"));
    }
    r.Int("reduction_factor", &out->reduction_factor);
    if (r.ok() && !(out->reduction_factor >= 2 && out->reduction_factor <= 100)) {
      r.Fail("reduction_factor", "must be in [2, 100]");
    }
  }
  return r.Finish();
}

absl::Status ParseRandom(const YAML::Node& node, RandomSearch* out) {
  MapReader r(node, "random");
  r.Int("trials", &out->trials);
  int64_t seed = 0;
  r.Int("seed", &seed);
  if (r.ok() && out->trials < 1) r.Fail("trials", "must be >= 1");
  if (r.ok() && seed < 0) r.Fail("seed", "must be >= 0");
  out->seed = static_cast<uint64_t>(seed);
  YAML::Node params = r.Child("params");
  if (r.ok() && (!params.IsDefined() || !params.IsMap() || params.size() == 0)) {
    r.Fail(params.IsDefined() ? "params" : "",
           "field 'params' is required: a map of parameter -> distribution");
  }
  if (r.ok()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      const std::string key = it->first.Scalar();
      auto p = ParseRandomParam(key, it->second, absl::StrCat("random.params.", key));
      if (!p.ok()) {
        r.Fail(p.status());
        break;
      }
      out->params.push_back(*std::move(p));
    }
  }
  return r.Finish();
}

// tpe: {trials, seed, startup_trials, parallel, params}; params as in random.
absl::Status ParseTpe(const YAML::Node& node, TpeSearch* out) {
  MapReader r(node, "tpe");
  r.Int("trials", &out->trials);
  if (r.ok() && !(out->trials >= 1 && out->trials <= kMaxExpandedTrialsPerSweep)) {
    r.Fail("trials", absl::StrCat("must be in [1, ", kMaxExpandedTrialsPerSweep, "]"));
  }
  int64_t seed = 0;
  r.Int("seed", &seed);
  if (r.ok() && seed < 0) r.Fail("seed", "must be >= 0");
  out->seed = static_cast<uint64_t>(seed);
  r.Int("startup_trials", &out->startup_trials);
  if (r.ok() && !(out->startup_trials >= 0 && out->startup_trials <= kMaxExpandedTrialsPerSweep)) {
    r.Fail("startup_trials", absl::StrCat("must be in [0, ", kMaxExpandedTrialsPerSweep, "]"));
  }
  r.Int("parallel", &out->parallel);
  if (r.ok() && !(out->parallel >= 1 && out->parallel <= 10000)) {
    r.Fail("parallel", "must be in [1, 10000]");
  }
  YAML::Node params = r.Child("params");
  if (r.ok() && (!params.IsDefined() || !params.IsMap() || params.size() == 0)) {
    r.Fail(params.IsDefined() ? "params" : "",
           "field 'params' is required: a map of parameter -> distribution");
  }
  for (auto it = params.begin(); r.ok() && it != params.end(); ++it) {
    const std::string key = it->first.Scalar();
    auto p = ParseRandomParam(key, it->second, absl::StrCat("tpe.params.", key));
    if (!p.ok()) {
      r.Fail(p.status());
      break;
    }
    out->params.push_back(*std::move(p));
  }
  return r.Finish();
}

// Error of ValidateTrialSpec ("field: message") with the line of the top-level field.
absl::Status WithTopLevelLine(absl::Status st, const YAML::Node& root) {
  if (st.ok()) return st;
  const std::string msg(st.message());
  const size_t colon = msg.find(": ");
  if (colon == std::string::npos) return st;
  const std::string field = msg.substr(0, colon);
  const YAML::Node at = root[field.substr(0, field.find('.'))];
  return FieldError(field, at.IsDefined() ? at : YAML::Node(), msg.substr(colon + 2));
}

}  // namespace

// A TPE sweep is checked at submit where it can be: the corners of the space must be valid trials
// (a later point that is not one fails as a trial).
static absl::Status CheckTpeSpace(const SweepSpec& s, const YAML::Node& root) {
  for (bool high : {false, true}) {
    std::vector<double> corner;
    for (const RandomParam& p : s.tpe.params) {
      corner.push_back(p.kind == RandomParam::Kind::kChoice
                           ? (high ? static_cast<double>(p.choices.size() - 1) : 0)
                           : (high ? p.high : p.low));
    }
    if (auto e = ExpandTpePoint(s, corner); !e.ok()) {
      return FieldError("tpe.params", root["tpe"]["params"], std::string(e.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& text) {
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(text, "sweep spec"));
  ParseOptions options;
  options.allow_auto = true;
  SweepSpec s;
  TrialSpec& t = s.base;
  MapReader r(root, "");
  if (!r.ok()) return r.Finish();
  r.String("name", &s.name);
  t.name = s.name;
  if (r.ok() && r.Has("command")) {
    auto c = ParseCommand(r.Child("command"), "command");
    c.ok() ? void(t.command = *c) : r.Fail(c.status());
  }
  if (r.ok() && !r.Has("dataset") && !t.command.present())
    r.Fail("", "field 'dataset' is required");
  if (r.ok() && r.Has("dataset")) {
    auto d = ParseDataset(r.Child("dataset"), "dataset");
    d.ok() ? void(t.dataset = *d) : r.Fail(d.status());
  }
  if (r.ok() && r.Has("model")) {
    auto m = ParseModel(r.Child("model"), "model");
    m.ok() ? void(t.model = *m) : r.Fail(m.status());
  }
  if (r.ok() && r.Has("optimizer")) {
    auto o = ParseOptimizer(r.Child("optimizer"), "optimizer");
    o.ok() ? void(t.optimizer = *o) : r.Fail(o.status());
  }
  if (r.ok() && r.Has("schedule")) {
    auto sc = ParseSchedule(r.Child("schedule"), "schedule", options);
    sc.ok() ? void(t.schedule = *sc) : r.Fail(sc.status());
    s.has_base_schedule = true;
  }
  if (r.ok() && r.Has("validation")) {
    auto v = ParseValidation(r.Child("validation"), "validation");
    v.ok() ? void(t.validation = *v) : r.Fail(v.status());
  }
  if (r.ok() && r.Has("objective")) {
    MapReader o(r.Child("objective"), "objective");
    o.String("metric", &s.objective.metric);
    std::string goal;
    o.String("goal", &goal);
    const metrics::MetricRegistry& known = metrics::MetricRegistry::Builtin();
    if (o.ok() && s.objective.metric.empty()) o.Fail("metric", "must not be empty");
    if (o.ok() && metrics::IsTestMetric(s.objective.metric)) {
      o.Fail("metric", absl::StrCat(s.objective.metric,
                                    " is the final model's test-split score, reported but never "
                                    "selected on; choose a validation metric (val_*)"));
    }
    // A command trial's program reports its own metric names (docs/COMMAND_TRIALS.md).
    if (o.ok() && t.command.present() && !known.Contains(s.objective.metric)) {
      if (absl::Status st = CheckProgramMetricName(s.objective.metric); !st.ok())
        o.Fail("metric", std::string(st.message()));
    } else if (o.ok() && !known.IsObjective(s.objective.metric)) {
      o.Fail("metric", absl::StrCat("unknown metric '", s.objective.metric,
                                    "'; expected one of: ", known.ObjectiveNames()));
    }
    if (o.ok() && (goal == "maximize" || goal == "max")) {
      s.objective.goal = Goal::kMaximize;
    } else if (o.ok() && !goal.empty() && goal != "minimize" && goal != "min") {
      o.Fail("goal", absl::StrCat("unknown value '", goal, "'; expected minimize or maximize"));
    } else if (o.ok() && goal.empty()) {
      // No goal given: the metric's own direction (val_accuracy is maximized, losses minimized).
      s.objective.goal =
          known.DirectionOf(s.objective.metric) == metrics::Direction::kHigherIsBetter
              ? Goal::kMaximize
              : Goal::kMinimize;
    }
    r.Fail(o.Finish());
  }
  r.Int("epochs", &t.epochs);
  r.Int("batch_size", &t.batch_size);
  r.Double("momentum", &t.momentum);
  r.Double("weight_decay", &t.weight_decay);
  if (r.Has("seeds")) {
    std::vector<int64_t> seeds;
    NonEmptyList(r, "seeds", &seeds, &MapReader::IntList);
    CheckEach(
        r, "seeds", seeds, [](int64_t v) { return v >= 0; }, "must be >= 0");
    s.seeds.assign(seeds.begin(), seeds.end());
  }
  r.Child("seeds");
  if (r.ok() && r.Has("grid")) {
    MapReader g(r.Child("grid"), "grid");
    NonEmptyList(g, "batch_size", &s.batch_sizes, &MapReader::IntList);
    CheckEach(
        g, "batch_size", s.batch_sizes, [](int64_t v) { return v >= 1; }, "must be >= 1");
    NonEmptyList(g, "momentum", &s.momenta, &MapReader::DoubleList);
    CheckEach(
        g, "momentum", s.momenta, [](double v) { return v >= 0 && v < 1; }, "must be in [0, 1)");
    NonEmptyList(g, "weight_decay", &s.weight_decays, &MapReader::DoubleList);
    CheckEach(
        g, "weight_decay", s.weight_decays, [](double v) { return v >= 0; }, "must be >= 0");
    for (const char* key : {"schedule", "optimizer"}) {
      const bool is_schedule = std::string(key) == "schedule";
      YAML::Node list = g.Child(key);
      if (!g.ok() || !list.IsDefined()) continue;
      if (!list.IsSequence()) {
        g.Fail(key, "expected a list");
      } else if (list.size() == 0) {
        g.Fail(key, "must not be empty: list at least one value");
      }
      for (size_t i = 0; g.ok() && i < list.size(); ++i) {
        const std::string path = absl::StrCat("grid.", key, "[", i, "]");
        if (is_schedule) {
          auto sc = ParseSchedule(list[i], path, options);
          sc.ok() ? s.schedules.push_back(*std::move(sc)) : g.Fail(sc.status());
        } else {
          auto o = ParseOptimizer(list[i], path);
          o.ok() ? s.optimizers.push_back(*std::move(o)) : g.Fail(o.status());
        }
      }
    }
    r.Fail(g.Finish());
  }
  if (r.ok() && r.Has("random")) r.Fail(ParseRandom(r.Child("random"), &s.random));
  if (r.ok() && r.Has("tpe")) {
    if (r.Has("grid") || r.Has("random")) {
      r.Fail("tpe", absl::StrCat("cannot be combined with ", r.Has("grid") ? "grid" : "random",
                                 ": tpe proposes every swept value itself; move the swept "
                                 "parameters into tpe.params"));
    }
    if (r.ok()) r.Fail(ParseTpe(r.Child("tpe"), &s.tpe));
  }
  if (r.ok() && r.Has("budget")) {
    MapReader b(r.Child("budget"), "budget");
    b.Double("seconds_per_trial", &t.budget_seconds);
    if (b.ok() && !(t.budget_seconds >= 0)) b.Fail("seconds_per_trial", "must be >= 0");
    r.Fail(b.Finish());
  }
  if (r.ok() && r.Has("pruner")) r.Fail(ParsePruner(r.Child("pruner"), &s.pruner));
  if (r.ok() && r.Has("auto")) {
    MapReader a(r.Child("auto"), "auto");
    std::string rule;
    a.String("rule", &rule);
    if (a.ok() && !rule.empty()) {
      auto parsed = ParseSuggestRule(rule);
      parsed.ok() ? void(s.auto_lr.rule = *parsed)
                  : a.Fail("rule", std::string(parsed.status().message()));
    }
    a.Int("range_tests", &s.auto_lr.range_tests);
    if (a.ok() && !(s.auto_lr.range_tests >= 1 && s.auto_lr.range_tests <= 10)) {
      a.Fail("range_tests", "must be in [1, 10]");
    }
    a.Double("div", &s.auto_lr.div);
    if (a.ok() && !(s.auto_lr.div >= 1)) a.Fail("div", "must be >= 1");
    a.Double("scale", &s.auto_lr.scale);
    if (a.ok() && !(s.auto_lr.scale > 0 && s.auto_lr.scale <= 1)) {
      a.Fail("scale", "must be in (0, 1]");
    }
    r.Fail(a.Finish());
  }
  if (r.ok() && !s.has_base_schedule && s.schedules.empty()) {
    r.Fail("", "field 'schedule' (or grid.schedule) is required");
  }
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(WithTopLevelLine(ValidateTrialSpec(t), root));
  if (IsTpe(s)) RETURN_IF_ERROR(CheckTpeSpace(s, root));
  if (CountTrials(s) > kMaxTrialsPerSweep) {
    return absl::InvalidArgumentError(absl::StrCat("spec: the sweep expands to ", CountTrials(s),
                                                   " trials; at most ", kMaxTrialsPerSweep));
  }
  return s;
}

}  // namespace hypersweep
