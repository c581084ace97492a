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

namespace hypersweep {
namespace {

constexpr const char* kScalarKeys[] = {"momentum", "weight_decay", "batch_size", "epochs"};
constexpr const char* kNestedPrefixes[] = {"schedule.", "model.", "optimizer."};

bool IsScalarKey(const std::string& key) {
  for (const char* k : kScalarKeys) {
    if (key == k) return true;
  }
  return false;
}

bool IsNestedKey(const std::string& key) {
  for (const char* p : kNestedPrefixes) {
    if (absl::StartsWith(key, p) && key.size() > std::string(p).size()) return true;
  }
  return false;
}

std::string FormatDouble(double v) { return absl::StrCat(v); }

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
    if (r.ok() && !(out->startup_trials >= 0 && out->startup_trials <= kMaxTrialsPerSweep)) {
      r.Fail("startup_trials", absl::StrCat("must be in [0, ", kMaxTrialsPerSweep, "]"));
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
  if (r.ok() && !(out->trials >= 1 && out->trials <= kMaxTrialsPerSweep)) {
    r.Fail("trials", absl::StrCat("must be in [1, ", kMaxTrialsPerSweep, "]"));
  }
  int64_t seed = 0;
  r.Int("seed", &seed);
  if (r.ok() && seed < 0) r.Fail("seed", "must be >= 0");
  out->seed = static_cast<uint64_t>(seed);
  r.Int("startup_trials", &out->startup_trials);
  if (r.ok() && !(out->startup_trials >= 0 && out->startup_trials <= kMaxTrialsPerSweep)) {
    r.Fail("startup_trials", absl::StrCat("must be in [0, ", kMaxTrialsPerSweep, "]"));
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

// A YAML scalar as JSON: integer, number, boolean or string.
nlohmann::json ScalarToJson(const std::string& s) {
  int64_t i;
  if (absl::SimpleAtoi(s, &i)) return i;
  double d;
  if (absl::SimpleAtod(s, &d)) return d;
  if (s == "true") return true;
  if (s == "false") return false;
  return s;
}

class Sampler {
 public:
  explicit Sampler(uint64_t seed) : rng_(seed) {}
  double Unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return rng_() % n; }

  // The sampled value as JSON (number or choice scalar) and as display text.
  nlohmann::json Sample(const RandomParam& p) {
    switch (p.kind) {
      case RandomParam::Kind::kUniform:
        return p.low + (p.high - p.low) * Unit();
      case RandomParam::Kind::kLogUniform:
        return std::exp(std::log(p.low) + (std::log(p.high) - std::log(p.low)) * Unit());
      case RandomParam::Kind::kInt: {
        const auto lo = static_cast<int64_t>(p.low);
        const auto n = static_cast<uint64_t>(static_cast<int64_t>(p.high) - lo + 1);
        return lo + static_cast<int64_t>(Below(n));
      }
      case RandomParam::Kind::kChoice:
        return ScalarToJson(p.choices[Below(p.choices.size())]);
    }
    return nullptr;
  }

 private:
  std::mt19937_64 rng_;
};

std::string JsonText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return FormatDouble(v.get<double>());
  return v.dump();
}

// Applies sampled values to a trial. Nested keys go through the canonical JSON and are re-parsed,
// so every sampled point is validated exactly like a trial file.
absl::Status ApplySample(const std::vector<RandomParam>& params,
                         const std::vector<nlohmann::json>& values, TrialSpec* t,
                         const std::string& section = "random") {
  bool nested = false;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& key = params[i].key;
    const std::string path = absl::StrCat(section, ".params.", key);
    const nlohmann::json& v = values[i];
    if (!IsScalarKey(key)) {
      nested = true;
      continue;
    }
    if (!v.is_number()) return absl::InvalidArgumentError(path + ": expected a number");
    if (key == "momentum") t->momentum = v.get<double>();
    if (key == "weight_decay") t->weight_decay = v.get<double>();
    if (key == "batch_size") t->batch_size = static_cast<int64_t>(std::llround(v.get<double>()));
    if (key == "epochs") t->epochs = static_cast<int64_t>(std::llround(v.get<double>()));
  }
  if (nested) {
    nlohmann::json j = ToJson(*t);
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string& key = params[i].key;
      if (IsScalarKey(key)) continue;
      const size_t dot = key.find('.');
      const std::string section = key.substr(0, dot), field = key.substr(dot + 1);
      nlohmann::json& body = j[section].begin().value();  // {one_cycle: {...}} -> {...}
      if (!body.is_object()) body = nlohmann::json::object();
      body[field] = values[i];
    }
    ParseOptions options;
    options.allow_auto = true;
    auto again = ParseTrialSpec(j.dump(), options);
    if (!again.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          section, ".params: a sampled point is not a valid trial: ", again.status().message()));
    }
    *t = *std::move(again);
  }
  if (absl::Status st = ValidateTrialSpec(*t); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(section, ".params: a sampled point is not a valid trial: ", st.message()));
  }
  return absl::OkStatus();
}

// One point's trials: one per seed and, with k-fold validation, per fold (seed-major), each with
// the point's parameters plus its seed (when there are several) and fold.
void AppendSeedsAndFolds(const SweepSpec& s, const TrialSpec& point,
                         const std::vector<std::pair<std::string, std::string>>& params,
                         std::vector<ExpandedTrial>* out) {
  const bool kfold = s.base.validation.kind == ValidationSpec::Kind::kKFold;
  const int64_t folds = kfold ? s.base.validation.folds : 1;
  for (uint64_t seed : s.seeds) {
    for (int64_t fold = 0; fold < folds; ++fold) {
      ExpandedTrial e;
      e.spec = point;
      e.spec.seed = seed;
      e.params = params;
      if (s.seeds.size() > 1) e.params.emplace_back("seed", absl::StrCat(seed));
      if (kfold) {
        e.spec.validation.fold = fold;
        e.params.emplace_back("fold", absl::StrCat(fold));
      }
      out->push_back(std::move(e));
    }
  }
}

}  // namespace

// A TPE sweep is checked at submit where it can be: auto LR (range tests per group, ahead of the
// points) is not planned for points proposed later, and the corners of the space must be valid
// trials (a later point that is not one fails as a trial).
static absl::Status CheckTpeSpace(const SweepSpec& s, const YAML::Node& root) {
  if (!s.base.schedule.auto_fields.empty()) {
    return FieldError("schedule", root["schedule"],
                      "`auto` LR is not supported with tpe yet; give the LR or put it in "
                      "tpe.params (e.g. schedule.max_lr: {log_uniform: [0.001, 1]})");
  }
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

int64_t CountTrials(const SweepSpec& s) {
  auto n = [](size_t k) { return static_cast<int64_t>(k == 0 ? 1 : k); };
  const int64_t folds =
      s.base.validation.kind == ValidationSpec::Kind::kKFold ? s.base.validation.folds : 1;
  const int64_t samples = s.tpe.trials > 0      ? s.tpe.trials
                          : s.random.trials > 0 ? s.random.trials
                                                : 1;
  // Saturating product: a hostile spec must not overflow.
  int64_t total = 1;
  for (int64_t f :
       {n(s.batch_sizes.size()), n(s.momenta.size()), n(s.weight_decays.size()),
        n(s.schedules.size()), n(s.optimizers.size()), samples, n(s.seeds.size()), folds}) {
    if (total > kMaxTrialsPerSweep * 2 / std::max<int64_t>(f, 1)) return kMaxTrialsPerSweep + 1;
    total *= f;
  }
  return total;
}

absl::StatusOr<std::vector<ExpandedTrial>> ExpandSweep(const SweepSpec& s) {
  if (IsTpe(s)) {
    return absl::InvalidArgumentError(
        "tpe: the points of a TPE sweep are proposed one by one as results arrive, not expanded "
        "up front");
  }
  const int64_t count = CountTrials(s);
  if (count > kMaxTrialsPerSweep) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec: the sweep has more than ", kMaxTrialsPerSweep, " trials"));
  }
  std::vector<ExpandedTrial> out;
  out.reserve(static_cast<size_t>(count));
  const TrialSpec& base = s.base;
  auto or_base = [](const auto& list, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    return list.empty() ? std::vector<T>{value} : std::vector<T>(list.begin(), list.end());
  };
  const auto batch_sizes = or_base(s.batch_sizes, base.batch_size);
  const auto momenta = or_base(s.momenta, base.momentum);
  const auto weight_decays = or_base(s.weight_decays, base.weight_decay);
  const auto schedules = or_base(s.schedules, base.schedule);
  const auto optimizers = or_base(s.optimizers, base.optimizer);
  const int64_t samples = s.random.trials > 0 ? s.random.trials : 1;
  Sampler sampler(s.random.seed);

  for (size_t ib = 0; ib < batch_sizes.size(); ++ib) {
    for (size_t im = 0; im < momenta.size(); ++im) {
      for (size_t iw = 0; iw < weight_decays.size(); ++iw) {
        for (size_t is = 0; is < schedules.size(); ++is) {
          for (size_t io = 0; io < optimizers.size(); ++io) {
            TrialSpec point = base;
            point.batch_size = batch_sizes[ib];
            point.momentum = momenta[im];
            point.weight_decay = weight_decays[iw];
            point.schedule = schedules[is];
            point.optimizer = optimizers[io];
            std::vector<std::pair<std::string, std::string>> params;
            if (!s.batch_sizes.empty())
              params.emplace_back("batch_size", absl::StrCat(point.batch_size));
            if (!s.momenta.empty()) params.emplace_back("momentum", FormatDouble(point.momentum));
            if (!s.weight_decays.empty()) {
              params.emplace_back("weight_decay", FormatDouble(point.weight_decay));
            }
            if (!s.schedules.empty()) {
              params.emplace_back("schedule", ScheduleName(point.schedule));
              params.emplace_back("schedule_index", absl::StrCat(is));
            }
            if (!s.optimizers.empty()) {
              params.emplace_back(
                  "optimizer", point.optimizer.kind == OptimizerSpec::Kind::kSgd ? "sgd" : "adamw");
            }
            if (absl::Status st = ValidateTrialSpec(point); !st.ok()) {
              return absl::InvalidArgumentError(absl::StrCat("grid: ", st.message()));
            }
            for (int64_t k = 0; k < samples; ++k) {
              TrialSpec sampled = point;
              auto sample_params = params;
              if (s.random.trials > 0) {
                std::vector<nlohmann::json> values;
                for (const RandomParam& p : s.random.params) {
                  values.push_back(sampler.Sample(p));
                  sample_params.emplace_back(p.key, JsonText(values.back()));
                }
                RETURN_IF_ERROR(ApplySample(s.random.params, values, &sampled));
              }
              AppendSeedsAndFolds(s, sampled, sample_params, &out);
            }
          }
        }
      }
    }
  }
  return out;
}

bool IsTpe(const SweepSpec& s) { return s.tpe.trials > 0; }

int64_t TrialsPerPoint(const SweepSpec& s) {
  const bool kfold = s.base.validation.kind == ValidationSpec::Kind::kKFold;
  return static_cast<int64_t>(s.seeds.size()) * (kfold ? s.base.validation.folds : 1);
}

absl::StatusOr<std::vector<ExpandedTrial>> ExpandTpePoint(const SweepSpec& s,
                                                          const std::vector<double>& values) {
  if (values.size() != s.tpe.params.size()) {
    return absl::InvalidArgumentError(absl::StrCat("tpe: a point has ", values.size(),
                                                   " values for ", s.tpe.params.size(), " params"));
  }
  std::vector<nlohmann::json> json_values;
  std::vector<std::pair<std::string, std::string>> params;
  for (size_t i = 0; i < values.size(); ++i) {
    const RandomParam& p = s.tpe.params[i];
    const double v = values[i];
    nlohmann::json j;
    if (p.kind == RandomParam::Kind::kChoice) {
      if (!(v >= 0 && v < static_cast<double>(p.choices.size()))) {
        return absl::InvalidArgumentError(
            absl::StrCat("tpe.params.", p.key, ": choice index ", v, " out of range"));
      }
      j = ScalarToJson(p.choices[static_cast<size_t>(v)]);
    } else if (p.kind == RandomParam::Kind::kInt) {
      j = static_cast<int64_t>(std::llround(v));
    } else {
      j = v;
    }
    // Numbers in their shortest round-trip form, so the point can be read back exactly
    // (server/scheduler/tpe_planner.h rebuilds the search from stored trials).
    params.emplace_back(p.key, j.is_string() ? j.get<std::string>() : j.dump());
    json_values.push_back(std::move(j));
  }
  TrialSpec point = s.base;
  RETURN_IF_ERROR(ApplySample(s.tpe.params, json_values, &point, "tpe"));
  std::vector<ExpandedTrial> out;
  AppendSeedsAndFolds(s, point, params, &out);
  return out;
}

}  // namespace hypersweep
