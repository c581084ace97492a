// Trial specs (trial_spec.h): the parsers of the model, optimizer, schedule and validation
// sections and of the whole spec, the scalar range checks, and the canonical JSON form. The
// dataset section's parser is in trial_spec_dataset.cc.
#include "core/trial_spec.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/spec_limits.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"

namespace hypersweep {
namespace {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

constexpr EnumName<Activation> kActivations[] = {{Activation::kRelu, "relu"},
                                                 {Activation::kSelu, "selu"},
                                                 {Activation::kElu, "elu"},
                                                 {Activation::kTanh, "tanh"},
                                                 {Activation::kSilu, "silu"}};
constexpr EnumName<Init> kInits[] = {{Init::kHe, "he"}, {Init::kGlorot, "glorot"}};
constexpr EnumName<ScriptInit> kScriptInits[] = {
    {ScriptInit::kFile, "file"}, {ScriptInit::kHe, "he"}, {ScriptInit::kGlorot, "glorot"}};
constexpr EnumName<AnnealStrategy> kAnneals[] = {{AnnealStrategy::kCos, "cos"},
                                                 {AnnealStrategy::kLinear, "linear"}};
constexpr EnumName<CyclicMode> kCyclicModes[] = {{CyclicMode::kTriangular, "triangular"},
                                                 {CyclicMode::kTriangular2, "triangular2"},
                                                 {CyclicMode::kExpRange, "exp_range"}};
constexpr EnumName<RangeTestMode> kRangeModes[] = {{RangeTestMode::kExp, "exp"},
                                                   {RangeTestMode::kLinear, "linear"}};

template <typename E, size_t N>
void ReadEnum(MapReader& r, const std::string& key, const EnumName<E> (&names)[N], E* out) {
  std::string s;
  r.String(key, &s);
  if (s.empty() || !r.ok()) return;
  std::string allowed;
  for (const auto& n : names) {
    if (s == n.name) {
      *out = n.value;
      return;
    }
    absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", n.name);
  }
  r.Fail(key, absl::StrCat("unknown value '", s, "'; expected one of: ", allowed));
}

template <typename E, size_t N>
const char* NameOf(const EnumName<E> (&names)[N], E v) {
  for (const auto& n : names) {
    if (n.value == v) return n.name;
  }
  return "?";
}

void ReadStepCount(MapReader& r, const std::string& key, StepCount* out) {
  double v = 0;
  if (r.Has(key)) {
    r.Double(key, &v);
    out->steps = v;
  }
  const std::string ek = key + "_epochs";
  if (r.Has(ek)) {
    r.Double(ek, &v);
    out->epochs = v;
  }
  r.Child(key);
  r.Child(ek);
}

void ReadLr(MapReader& r, const std::string& key, double* out, ScheduleSpec* spec,
            const ParseOptions& options) {
  bool is_auto = false;
  r.DoubleOrAuto(key, out, &is_auto);
  if (!is_auto) return;
  if (!options.allow_auto) {
    r.Fail(key,
           "'auto' needs an LR range test: use it in a sweep spec (the coordinator resolves it) or "
           "run `hypersweep-worker lr-find` and write the value");
    return;
  }
  spec->auto_fields.push_back(key);
}

// Adds " (line N)" to a validation error whose message starts with a field path under `node`.
absl::Status WithLine(absl::Status st, const YAML::Node& node, const std::string& node_path) {
  if (st.ok() || !node.IsDefined()) return st;
  const std::string msg(st.message());
  const size_t colon = msg.find(": ");
  if (colon == std::string::npos || msg.compare(0, node_path.size(), node_path) != 0) return st;
  std::string rest =
      msg.substr(node_path.size(), colon - node_path.size());  // ".one_cycle.pct_start"
  YAML::Node at = node;
  size_t pos = 0;
  while (pos < rest.size() && rest[pos] == '.') {
    size_t next = rest.find('.', pos + 1);
    const std::string key =
        rest.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (!at.IsMap() || !at[key].IsDefined()) break;
    at = at[key];
    pos = next == std::string::npos ? rest.size() : next;
  }
  if (at.Mark().line < 0) return st;
  return absl::InvalidArgumentError(
      absl::StrCat(msg.substr(0, colon), " (line ", at.Mark().line + 1, ")", msg.substr(colon)));
}

}  // namespace

absl::StatusOr<ModelSpec> ParseModel(const YAML::Node& node, const std::string& path) {
  ASSIGN_OR_RETURN(auto which, ReadOneOf(node, path, {"mlp", "cnn", "torchscript"}, "model"));
  ModelSpec m;
  MapReader r(which.second, JoinPath(path, which.first));
  if (which.first == "torchscript") {
    // Only the file and how to start: the architecture is the file's.
    m.kind = ModelSpec::Kind::kTorchScript;
    m.hidden.clear();
    m.channels.clear();
    r.String("path", &m.script_path);
    ReadEnum(r, "init", kScriptInits, &m.script_init);
    if (r.ok() && m.script_path.empty()) {
      r.Fail(r.Has("path") ? "path" : "",
             "field 'path' is required: the file saved with torch.jit.save");
    }
    RETURN_IF_ERROR(r.Finish());
    return m;
  }
  m.kind = which.first == "cnn" ? ModelSpec::Kind::kCnn : ModelSpec::Kind::kMlp;
  if (m.kind == ModelSpec::Kind::kCnn) m.hidden = {128};
  r.IntList("hidden", &m.hidden);
  ReadEnum(r, "activation", kActivations, &m.activation);
  ReadEnum(r, "init", kInits, &m.init);
  r.Double("dropout", &m.dropout);
  r.Bool("batch_norm", &m.batch_norm);
  if (m.kind == ModelSpec::Kind::kCnn) {
    r.IntList("channels", &m.channels);
    r.Int("kernel", &m.kernel);
    r.Int("pool", &m.pool);
    if (r.ok() && m.channels.empty()) r.Fail("channels", "must not be empty");
    for (size_t i = 0; r.ok() && i < m.channels.size(); ++i) {
      if (m.channels[i] < 1) r.Fail("channels", absl::StrCat("[", i, "] must be >= 1"));
    }
    if (r.ok() && (m.kernel < 1 || m.kernel % 2 == 0))
      r.Fail("kernel", "must be an odd integer >= 1");
    if (r.ok() && m.pool < 1) r.Fail("pool", "must be >= 1");
  }
  for (size_t i = 0; r.ok() && i < m.hidden.size(); ++i) {
    if (m.hidden[i] < 1) {
      r.Fail(FieldError(absl::StrCat(r.PathOf("hidden"), "[", i, "]"), r.Child("hidden")[i],
                        absl::StrCat("must be >= 1, got ", m.hidden[i])));
    }
  }
  if (r.ok() && !(m.dropout >= 0 && m.dropout < 1)) r.Fail("dropout", "must be in [0, 1)");
  RETURN_IF_ERROR(r.Finish());
  return m;
}

absl::StatusOr<OptimizerSpec> ParseOptimizer(const YAML::Node& node, const std::string& path) {
  ASSIGN_OR_RETURN(auto which, ReadOneOf(node, path, {"sgd", "adamw"}, "optimizer"));
  OptimizerSpec o;
  MapReader r(which.second, JoinPath(path, which.first));
  if (which.first == "sgd") {
    o.kind = OptimizerSpec::Kind::kSgd;
    r.Bool("nesterov", &o.nesterov);
  } else {
    o.kind = OptimizerSpec::Kind::kAdamW;
    r.Double("beta2", &o.beta2);
    r.Double("eps", &o.eps);
    if (r.ok() && !(o.beta2 >= 0 && o.beta2 < 1)) r.Fail("beta2", "must be in [0, 1)");
    if (r.ok() && !(o.eps > 0)) r.Fail("eps", "must be > 0");
  }
  RETURN_IF_ERROR(r.Finish());
  return o;
}

absl::StatusOr<ScheduleSpec> ParseSchedule(const YAML::Node& node, const std::string& path,
                                           const ParseOptions& options) {
  ASSIGN_OR_RETURN(
      auto which,
      ReadOneOf(node, path, {"constant", "one_cycle", "cyclic", "cosine_restarts", "lr_range_test"},
                "schedule"));
  ScheduleSpec spec;
  MapReader r(which.second, JoinPath(path, which.first));
  if (which.first == "constant") {
    ConstantSchedule s;
    if (r.ok() && !r.Has("lr")) r.Fail("", "field 'lr' is required");
    ReadLr(r, "lr", &s.lr, &spec, options);
    spec.kind = s;
  } else if (which.first == "one_cycle") {
    OneCycleSchedule s;
    if (r.ok() && !r.Has("max_lr")) r.Fail("", "field 'max_lr' is required");
    ReadLr(r, "max_lr", &s.max_lr, &spec, options);
    r.Double("pct_start", &s.pct_start);
    ReadEnum(r, "anneal_strategy", kAnneals, &s.anneal_strategy);
    r.Double("div_factor", &s.div_factor);
    r.Double("final_div_factor", &s.final_div_factor);
    r.Bool("three_phase", &s.three_phase);
    r.Bool("cycle_momentum", &s.cycle_momentum);
    r.Double("base_momentum", &s.base_momentum);
    r.Double("max_momentum", &s.max_momentum);
    ReadStepCount(r, "total_steps", &s.total_steps);
    spec.kind = s;
  } else if (which.first == "cyclic") {
    CyclicSchedule s;
    if (r.ok() && !r.Has("max_lr")) r.Fail("", "field 'max_lr' is required");
    if (r.ok() && !r.Has("base_lr")) r.Fail("", "field 'base_lr' is required");
    ReadLr(r, "base_lr", &s.base_lr, &spec, options);
    ReadLr(r, "max_lr", &s.max_lr, &spec, options);
    ReadStepCount(r, "step_size_up", &s.step_size_up);
    ReadStepCount(r, "step_size_down", &s.step_size_down);
    ReadEnum(r, "mode", kCyclicModes, &s.mode);
    r.Double("gamma", &s.gamma);
    r.Bool("cycle_momentum", &s.cycle_momentum);
    r.Double("base_momentum", &s.base_momentum);
    r.Double("max_momentum", &s.max_momentum);
    spec.kind = s;
  } else if (which.first == "cosine_restarts") {
    CosineRestartsSchedule s;
    if (r.ok() && !r.Has("max_lr")) r.Fail("", "field 'max_lr' is required");
    ReadLr(r, "max_lr", &s.max_lr, &spec, options);
    ReadStepCount(r, "t_0", &s.t_0);
    r.Int("t_mult", &s.t_mult);
    r.Double("eta_min", &s.eta_min);
    spec.kind = s;
  } else {
    LrRangeTestSchedule s;
    r.Double("min_lr", &s.min_lr);
    r.Double("max_lr", &s.max_lr);
    ReadStepCount(r, "steps", &s.steps);
    r.Int("steps_per_decade", &s.steps_per_decade);
    ReadEnum(r, "mode", kRangeModes, &s.mode);
    spec.kind = s;
  }
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(WithLine(ValidateSchedule(spec, path), node, path));
  return spec;
}

absl::StatusOr<ValidationSpec> ParseValidation(const YAML::Node& node, const std::string& path) {
  ValidationSpec v;
  if (node.IsScalar() && (node.Scalar() == "test" || node.Scalar() == "test_split")) {
    v.kind = ValidationSpec::Kind::kTestSplit;
    return v;
  }
  MapReader r(node, path);
  if (r.Has("test_split")) {
    bool t = false;
    r.Bool("test_split", &t);
    if (t) v.kind = ValidationSpec::Kind::kTestSplit;
  }
  if (r.Has("holdout")) {
    v.kind = ValidationSpec::Kind::kHoldout;
    r.Double("holdout", &v.holdout);
    if (r.ok() && !(v.holdout > 0 && v.holdout < 1)) r.Fail("holdout", "must be in (0, 1)");
  }
  if (r.Has("folds")) {
    if (v.kind != ValidationSpec::Kind::kDefault)
      r.Fail("folds", "give one of test_split, holdout, folds");
    v.kind = ValidationSpec::Kind::kKFold;
    r.Int("folds", &v.folds);
    r.Int("fold", &v.fold);
    if (r.ok() && v.folds < 2) r.Fail("folds", "must be >= 2");
    if (r.ok() && (v.fold < 0 || v.fold >= v.folds)) {
      r.Fail("fold", absl::StrCat("must be in [0, folds) = [0, ", v.folds, ")"));
    }
  } else if (r.Has("fold")) {
    r.Fail("fold", "needs folds");
  }
  r.Child("fold");
  RETURN_IF_ERROR(r.Finish());
  return v;
}

absl::Status ValidateTrialSpec(const TrialSpec& s) {
  auto bad = [](const std::string& field, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
  };
  if (s.epochs < 1 || s.epochs > kMaxEpochs) {
    return bad("epochs", absl::StrCat("must be in [1, ", kMaxEpochs, "], got ", s.epochs));
  }
  if (s.name.size() > kMaxNameBytes) {
    return bad("name", absl::StrCat("at most ", kMaxNameBytes, " bytes, got ", s.name.size()));
  }
  if (s.batch_size < 1) return bad("batch_size", absl::StrCat("must be >= 1, got ", s.batch_size));
  RETURN_IF_ERROR(CheckSpecLimits(s));
  if (!(s.momentum >= 0 && s.momentum < 1)) {
    return bad("momentum", absl::StrCat("must be in [0, 1), got ", s.momentum));
  }
  if (!(s.weight_decay >= 0)) {
    return bad("weight_decay", absl::StrCat("must be >= 0, got ", s.weight_decay));
  }
  if (!(s.budget_seconds >= 0)) return bad("budget.seconds_per_trial", "must be >= 0");
  if (s.optimizer.kind == OptimizerSpec::Kind::kSgd && s.optimizer.nesterov && s.momentum == 0) {
    return bad("optimizer.sgd.nesterov", "needs momentum > 0");
  }
  if (s.validation.kind == ValidationSpec::Kind::kTestSplit &&
      s.dataset.kind == DatasetSpec::Kind::kSynthetic) {
    return bad("validation.test_split",
               "the synthetic dataset has no test split; use holdout or folds");
  }
  if (s.validation.kind == ValidationSpec::Kind::kTestSplit &&
      s.dataset.kind == DatasetSpec::Kind::kCsv && s.dataset.csv.test_path.empty()) {
    return bad("validation.test_split", "needs dataset.csv.test_path");
  }
  if (s.validation.kind == ValidationSpec::Kind::kTestSplit &&
      s.dataset.kind == DatasetSpec::Kind::kHdf5) {
    return bad("validation.test_split", "the hdf5 dataset has no test split; use holdout or folds");
  }
  return absl::OkStatus();
}

absl::StatusOr<TrialSpec> ParseTrialSpec(const std::string& text, const ParseOptions& options) {
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(text, "trial spec"));
  TrialSpec s;
  MapReader r(root, "");
  if (!r.ok()) return r.Finish();  // not a map
  r.String("name", &s.name);
  if (r.ok() && r.Has("command")) {
    auto c = ParseCommand(r.Child("command"), "command");
    c.ok() ? void(s.command = *c) : r.Fail(c.status());
  }
  if (r.ok() && !r.Has("dataset") && !s.command.present())
    r.Fail("", "field 'dataset' is required");
  if (r.ok() && r.Has("dataset")) {
    auto d = ParseDataset(r.Child("dataset"), "dataset");
    d.ok() ? void(s.dataset = *d) : r.Fail(d.status());
  }
  if (r.ok() && r.Has("model")) {
    auto m = ParseModel(r.Child("model"), "model");
    m.ok() ? void(s.model = *m) : r.Fail(m.status());
  }
  if (r.ok() && r.Has("optimizer")) {
    auto o = ParseOptimizer(r.Child("optimizer"), "optimizer");
    o.ok() ? void(s.optimizer = *o) : r.Fail(o.status());
  }
  if (r.ok() && !r.Has("schedule")) r.Fail("", "field 'schedule' is required");
  if (r.ok()) {
    auto sc = ParseSchedule(r.Child("schedule"), "schedule", options);
    sc.ok() ? void(s.schedule = *sc) : r.Fail(sc.status());
  }
  if (r.ok() && r.Has("validation")) {
    auto v = ParseValidation(r.Child("validation"), "validation");
    v.ok() ? void(s.validation = *v) : r.Fail(v.status());
  }
  r.Double("momentum", &s.momentum);
  r.Double("weight_decay", &s.weight_decay);
  r.Int("epochs", &s.epochs);
  r.Int("batch_size", &s.batch_size);
  int64_t seed = 0;
  r.Int("seed", &seed);
  if (r.ok() && seed < 0) r.Fail("seed", "must be >= 0");
  s.seed = static_cast<uint64_t>(seed);
  if (r.ok() && r.Has("budget")) {
    MapReader b(r.Child("budget"), "budget");
    b.Double("seconds_per_trial", &s.budget_seconds);
    if (b.ok() && !(s.budget_seconds >= 0)) b.Fail("seconds_per_trial", "must be >= 0");
    r.Fail(b.Finish());
  }
  RETURN_IF_ERROR(r.Finish());
  if (absl::Status st = ValidateTrialSpec(s); !st.ok()) {
    // "field.sub: message" -> "field.sub (line N): message", the line of the top-level field.
    const std::string msg(st.message());
    const size_t colon = msg.find(": ");
    const std::string field = msg.substr(0, colon);
    const YAML::Node at = root[field.substr(0, field.find('.'))];
    return FieldError(field, at.IsDefined() ? at : YAML::Node(), msg.substr(colon + 2));
  }
  return s;
}

absl::StatusOr<TrialSpec> LoadTrialSpecFile(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read trial file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto spec = ParseTrialSpec(ss.str(), options);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat(path, ": ", spec.status().message()));
  }
  return spec;
}

nlohmann::json ToJson(const ScheduleSpec& spec) {
  using nlohmann::json;
  json body = json::object();
  auto steps = [&](const char* key, const StepCount& c) {
    if (c.steps) body[key] = *c.steps;
    if (c.epochs) body[std::string(key) + "_epochs"] = *c.epochs;
  };
  std::visit(
      [&](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, ConstantSchedule>) {
          body["lr"] = s.lr;
        } else if constexpr (std::is_same_v<T, OneCycleSchedule>) {
          body["max_lr"] = s.max_lr;
          body["pct_start"] = s.pct_start;
          body["anneal_strategy"] = NameOf(kAnneals, s.anneal_strategy);
          body["div_factor"] = s.div_factor;
          body["final_div_factor"] = s.final_div_factor;
          body["three_phase"] = s.three_phase;
          body["cycle_momentum"] = s.cycle_momentum;
          body["base_momentum"] = s.base_momentum;
          body["max_momentum"] = s.max_momentum;
          steps("total_steps", s.total_steps);
        } else if constexpr (std::is_same_v<T, CyclicSchedule>) {
          body["base_lr"] = s.base_lr;
          body["max_lr"] = s.max_lr;
          steps("step_size_up", s.step_size_up);
          steps("step_size_down", s.step_size_down);
          body["mode"] = NameOf(kCyclicModes, s.mode);
          body["gamma"] = s.gamma;
          body["cycle_momentum"] = s.cycle_momentum;
          body["base_momentum"] = s.base_momentum;
          body["max_momentum"] = s.max_momentum;
        } else if constexpr (std::is_same_v<T, CosineRestartsSchedule>) {
          body["max_lr"] = s.max_lr;
          steps("t_0", s.t_0);
          body["t_mult"] = s.t_mult;
          body["eta_min"] = s.eta_min;
        } else {
          body["min_lr"] = s.min_lr;
          body["max_lr"] = s.max_lr;
          steps("steps", s.steps);
          if (s.steps_per_decade > 0) body["steps_per_decade"] = s.steps_per_decade;
          body["mode"] = NameOf(kRangeModes, s.mode);
        }
      },
      spec.kind);
  for (const auto& f : spec.auto_fields) body[f] = "auto";
  return json{{ScheduleName(spec), body}};
}

nlohmann::json ToJson(const TrialSpec& s) {
  using nlohmann::json;
  json j;
  if (!s.name.empty()) j["name"] = s.name;
  const DatasetSpec& d = s.dataset;
  json data = json::object();
  if (d.limit > 0) data["limit"] = d.limit;
  switch (d.kind) {
    case DatasetSpec::Kind::kFashionMnist:
    case DatasetSpec::Kind::kMnist:
      data["root"] = d.root;
      j["dataset"] = {{d.kind == DatasetSpec::Kind::kMnist ? "mnist" : "fashion_mnist", data}};
      break;
    case DatasetSpec::Kind::kCsv: {
      const CsvOptions& c = d.csv;
      data["path"] = c.path;
      if (!c.test_path.empty()) data["test_path"] = c.test_path;
      data["label"] = c.label;
      if (!c.positive.empty()) data["positive"] = c.positive;
      if (!c.weight.empty()) data["weight"] = c.weight;
      data["drop"] = c.drop;
      if (!c.where.empty()) data["where"] = c.where;
      if (c.has_missing) data["missing"] = c.missing;
      data["normalize_weights"] = c.normalize_weights;
      j["dataset"] = {{"csv", data}};
      break;
    }
    case DatasetSpec::Kind::kSynthetic: {
      const SyntheticOptions& y = d.synthetic;
      data["samples"] = y.samples;
      data["features"] = y.features;
      data["classes"] = y.classes;
      data["noise"] = y.noise;
      data["weights"] = y.weights;
      data["data_seed"] = y.data_seed;
      j["dataset"] = {{"synthetic", data}};
      break;
    }
    case DatasetSpec::Kind::kHdf5: {
      const Hdf5Options& h = d.hdf5;
      data["path"] = h.path;
      data["inputs"] = h.inputs;
      data["targets"] = h.targets;
      if (!h.weights.empty()) data["weights"] = h.weights;
      data["lumin_folds"] = h.lumin_folds;
      j["dataset"] = {{"hdf5", data}};
      break;
    }
  }
  const ModelSpec& m = s.model;
  if (m.kind == ModelSpec::Kind::kTorchScript) {
    j["model"] = {
        {"torchscript", {{"path", m.script_path}, {"init", NameOf(kScriptInits, m.script_init)}}}};
  } else {
    json model = {{"hidden", m.hidden},
                  {"activation", NameOf(kActivations, m.activation)},
                  {"init", NameOf(kInits, m.init)},
                  {"dropout", m.dropout},
                  {"batch_norm", m.batch_norm}};
    if (m.kind == ModelSpec::Kind::kCnn) {
      model["channels"] = m.channels;
      model["kernel"] = m.kernel;
      model["pool"] = m.pool;
    }
    j["model"] = {{m.kind == ModelSpec::Kind::kCnn ? "cnn" : "mlp", model}};
  }
  if (s.optimizer.kind == OptimizerSpec::Kind::kSgd) {
    j["optimizer"] = {{"sgd", {{"nesterov", s.optimizer.nesterov}}}};
  } else {
    j["optimizer"] = {{"adamw", {{"beta2", s.optimizer.beta2}, {"eps", s.optimizer.eps}}}};
  }
  j["schedule"] = ToJson(s.schedule);
  j["momentum"] = s.momentum;
  j["weight_decay"] = s.weight_decay;
  j["epochs"] = s.epochs;
  j["batch_size"] = s.batch_size;
  j["seed"] = s.seed;
  switch (s.validation.kind) {
    case ValidationSpec::Kind::kDefault:
      break;
    case ValidationSpec::Kind::kTestSplit:
      j["validation"] = {{"test_split", true}};
      break;
    case ValidationSpec::Kind::kHoldout:
      j["validation"] = {{"holdout", s.validation.holdout}};
      break;
    case ValidationSpec::Kind::kKFold:
      j["validation"] = {{"folds", s.validation.folds}, {"fold", s.validation.fold}};
      break;
  }
  if (s.budget_seconds > 0) j["budget"] = {{"seconds_per_trial", s.budget_seconds}};
  if (s.command.present()) j["command"] = ToJson(s.command);
  return j;
}

}  // namespace hypersweep
