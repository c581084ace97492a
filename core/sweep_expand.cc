// Sweep expansion: a spec's trials by index (grid points x random samples x seeds x folds), so
// that the coordinator can create any trial from the spec and its index alone (points on demand),
// and the trials of one TPE point. Parsing lives in sweep_spec.cc.
#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/sweep_spec.h"
#include "core/sweep_spec_internal.h"

namespace hypersweep {
namespace {

using sweep_internal::IsScalarKey;

std::string FormatDouble(double v) { return absl::StrCat(v); }

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

// SplitMix64's finaliser: decorrelates neighbouring sample numbers before they seed a sampler.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Trial `within` (seed-major, then fold) of a point: the point's parameters plus its seed (when
// there are several) and fold.
ExpandedTrial SeedAndFold(const SweepSpec& s, const TrialSpec& point,
                          const std::vector<std::pair<std::string, std::string>>& params,
                          int64_t within) {
  const bool kfold = s.base.validation.kind == ValidationSpec::Kind::kKFold;
  const int64_t folds = kfold ? s.base.validation.folds : 1;
  const uint64_t seed = s.seeds[static_cast<size_t>(within / folds)];
  const int64_t fold = within % folds;
  ExpandedTrial e;
  e.spec = point;
  e.spec.seed = seed;
  e.params = params;
  if (s.seeds.size() > 1) e.params.emplace_back("seed", absl::StrCat(seed));
  if (kfold) {
    e.spec.validation.fold = fold;
    e.params.emplace_back("fold", absl::StrCat(fold));
  }
  return e;
}

template <typename T>
std::vector<T> OrBase(const std::vector<T>& list, const T& value) {
  return list.empty() ? std::vector<T>{value} : list;
}

// A point of a grid or random sweep: the trial before its seed and fold, and its swept values.
struct Point {
  TrialSpec spec;
  std::vector<std::pair<std::string, std::string>> params;
};

// Point `point_no` (grid points in order, batch_size slowest and optimizer fastest, each with its
// random samples). A random sample draws from its own generator, seeded by random.seed and the
// point's number, so any point can be made without the ones before it.
absl::StatusOr<Point> ExpandPoint(const SweepSpec& s, int64_t point_no) {
  const TrialSpec& base = s.base;
  const auto batch_sizes = OrBase(s.batch_sizes, base.batch_size);
  const auto momenta = OrBase(s.momenta, base.momentum);
  const auto weight_decays = OrBase(s.weight_decays, base.weight_decay);
  const auto schedules = OrBase(s.schedules, base.schedule);
  const auto optimizers = OrBase(s.optimizers, base.optimizer);
  const int64_t samples = s.random.trials > 0 ? s.random.trials : 1;
  int64_t grid_no = point_no / samples;
  auto digit = [&grid_no](size_t n) {
    const auto d = static_cast<size_t>(grid_no % static_cast<int64_t>(n));
    grid_no /= static_cast<int64_t>(n);
    return d;
  };
  const size_t io = digit(optimizers.size());
  const size_t is = digit(schedules.size());
  const size_t iw = digit(weight_decays.size());
  const size_t im = digit(momenta.size());
  const size_t ib = digit(batch_sizes.size());

  Point p;
  TrialSpec& point = p.spec;
  point = base;
  point.batch_size = batch_sizes[ib];
  point.momentum = momenta[im];
  point.weight_decay = weight_decays[iw];
  point.schedule = schedules[is];
  point.optimizer = optimizers[io];
  auto& params = p.params;
  if (!s.batch_sizes.empty()) params.emplace_back("batch_size", absl::StrCat(point.batch_size));
  if (!s.momenta.empty()) params.emplace_back("momentum", FormatDouble(point.momentum));
  if (!s.weight_decays.empty()) {
    params.emplace_back("weight_decay", FormatDouble(point.weight_decay));
  }
  if (!s.schedules.empty()) {
    params.emplace_back("schedule", ScheduleName(point.schedule));
    params.emplace_back("schedule_index", absl::StrCat(is));
  }
  if (!s.optimizers.empty()) {
    params.emplace_back("optimizer",
                        point.optimizer.kind == OptimizerSpec::Kind::kSgd ? "sgd" : "adamw");
  }
  if (absl::Status st = ValidateTrialSpec(point); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("grid: ", st.message()));
  }
  if (s.random.trials > 0) {
    Sampler sampler(Mix(s.random.seed ^ Mix(static_cast<uint64_t>(point_no))));
    std::vector<nlohmann::json> values;
    for (const RandomParam& rp : s.random.params) {
      values.push_back(sampler.Sample(rp));
      params.emplace_back(rp.key, JsonText(values.back()));
    }
    RETURN_IF_ERROR(ApplySample(s.random.params, values, &point));
  }
  return p;
}

}  // namespace

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
  // A tpe sweep with auto LR: each point's range tests (auto_lr_planner.h).
  if (IsTpe(s) && HasAutoLr(s)) total += s.tpe.trials * s.auto_lr.range_tests;
  return total;
}

std::vector<absl::StatusOr<ExpandedTrial>> ExpandRange(const SweepSpec& s, int64_t begin,
                                                       int64_t end) {
  std::vector<absl::StatusOr<ExpandedTrial>> out;
  if (IsTpe(s)) return out;
  end = std::min(end, CountTrials(s));
  if (begin >= end) return out;
  out.reserve(static_cast<size_t>(end - begin));
  const int64_t per_point = TrialsPerPoint(s);
  int64_t point_no = -1;
  absl::StatusOr<Point> point = absl::UnknownError("");
  for (int64_t index = begin; index < end; ++index) {
    if (index / per_point != point_no) {
      point_no = index / per_point;
      point = ExpandPoint(s, point_no);
    }
    if (!point.ok()) {
      out.push_back(point.status());
    } else {
      out.push_back(SeedAndFold(s, point->spec, point->params, index % per_point));
    }
  }
  return out;
}

absl::StatusOr<std::vector<ExpandedTrial>> ExpandSweep(const SweepSpec& s) {
  if (IsTpe(s)) {
    return absl::InvalidArgumentError(
        "tpe: the points of a TPE sweep are proposed one by one as results arrive, not expanded "
        "up front");
  }
  const int64_t count = CountTrials(s);
  if (count > kMaxExpandedTrialsPerSweep) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec: the sweep has more than ", kMaxExpandedTrialsPerSweep, " trials"));
  }
  std::vector<ExpandedTrial> out;
  out.reserve(static_cast<size_t>(count));
  for (auto& t : ExpandRange(s, 0, count)) {
    if (!t.ok()) return t.status();
    out.push_back(*std::move(t));
  }
  return out;
}

bool IsTpe(const SweepSpec& s) { return s.tpe.trials > 0; }

bool HasAutoLr(const SweepSpec& s) {
  if (!s.base.schedule.auto_fields.empty()) return true;
  for (const ScheduleSpec& g : s.schedules) {
    if (!g.auto_fields.empty()) return true;
  }
  return false;
}

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
  for (int64_t within = 0; within < TrialsPerPoint(s); ++within) {
    out.push_back(SeedAndFold(s, point, params, within));
  }
  return out;
}

}  // namespace hypersweep
