#include "client/series_label.h"

#include <cmath>
#include <cstdlib>
#include <set>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace hypersweep {
namespace {

constexpr char kArrow[] = "\xE2\x86\x92";  // U+2192 →

// "0.1", "auto" for an unresolved field (NaN).
std::string Value(double v, int precision) {
  return std::isnan(v) ? "auto" : LabelNumber(v, precision);
}

std::string Steps(const StepCount& c, int precision) {
  if (c.epochs) return LabelNumber(*c.epochs, precision);
  if (c.steps) return absl::StrCat(LabelNumber(*c.steps, precision), " steps");
  return "?";
}

// A schedule kind's words from its spec name alone (a trial whose spec could not be read).
std::string KindWords(const std::string& name) {
  if (name == "one_cycle") return "1cycle";
  if (name == "cyclic") return "cyclic";
  if (name == "cosine_restarts") return "cosine restarts";
  if (name == "lr_range_test") return "LR range test";
  return name;
}

// "model.dropout" -> "dropout": the field, without the section a random param names.
std::string ParamName(const std::string& key) {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// The parameters whose value the spec-based descriptions already show.
bool DescribedBySpec(const std::string& key) {
  static const std::set<std::string> kKeys = {"batch_size", "momentum", "weight_decay", "epochs",
                                              "schedule",   "max_lr",   "optimizer"};
  return kKeys.count(key) > 0 || key.rfind("schedule.", 0) == 0;
}

using Descriptions = std::vector<std::pair<std::string, std::string>>;  // (key, text)

Descriptions Describe(const SeriesSubject& s, int precision) {
  Descriptions d;
  auto param = [&](const char* k) -> std::string {
    auto it = s.params.find(k);
    return it == s.params.end() ? "" : it->second;
  };
  if (s.spec) {
    const TrialSpec& t = *s.spec;
    d.emplace_back("schedule", DescribeSchedule(t.schedule, precision));
    d.emplace_back("batch", absl::StrCat("batch ", t.batch_size));
    d.emplace_back("momentum", DescribeMomentum(t, precision));
    d.emplace_back("wd", absl::StrCat("wd ", LabelNumber(t.weight_decay, precision)));
    d.emplace_back("epochs", absl::StrCat(t.epochs, t.epochs == 1 ? " epoch" : " epochs"));
    d.emplace_back("optimizer",
                   absl::StrCat("optimizer ",
                                t.optimizer.kind == OptimizerSpec::Kind::kSgd ? "sgd" : "adamw"));
  } else {
    std::string schedule = param("schedule").empty() ? "all" : KindWords(param("schedule"));
    if (!param("max_lr").empty()) absl::StrAppend(&schedule, " max_lr ", param("max_lr"));
    d.emplace_back("schedule", schedule);
    auto add = [&](const char* key, const char* param_key, const char* words) {
      const std::string v = param(param_key);
      d.emplace_back(key, v.empty() ? "" : absl::StrCat(words, " ", v));
    };
    add("batch", "batch_size", "batch");
    add("momentum", "momentum", "momentum");
    add("wd", "weight_decay", "wd");
    add("epochs", "epochs", "epochs");
    add("optimizer", "optimizer", "optimizer");
  }
  for (const auto& [k, v] : s.params) {
    if (IsInternalParam(k) || DescribedBySpec(k)) continue;
    if (v.rfind("sw-", 0) == 0) continue;  // an id, whatever the parameter
    d.emplace_back(absl::StrCat("param:", k), absl::StrCat(ParamName(k), " ", v));
  }
  return d;
}

std::vector<std::string> Labels(const std::vector<SeriesSubject>& subjects, int precision) {
  std::vector<Descriptions> all;
  std::vector<std::string> keys;  // in order of first appearance
  std::set<std::string> seen;
  for (const auto& s : subjects) {
    all.push_back(Describe(s, precision));
    for (const auto& [k, text] : all.back()) {
      if (seen.insert(k).second) keys.push_back(k);
    }
  }
  std::set<std::string> differing;
  for (const auto& k : keys) {
    std::set<std::string> texts;
    for (const auto& d : all) {
      std::string text;
      for (const auto& [dk, dt] : d) {
        if (dk == k) text = dt;
      }
      texts.insert(text);
    }
    if (texts.size() > 1) differing.insert(k);
  }
  std::vector<std::string> labels;
  for (const auto& d : all) {
    std::vector<std::string> parts;
    for (const auto& k : keys) {
      if (!differing.count(k)) continue;
      for (const auto& [dk, dt] : d) {
        if (dk == k && !dt.empty()) parts.push_back(dt);
      }
    }
    if (parts.empty()) parts.push_back(d.front().second);  // the schedule
    labels.push_back(absl::StrJoin(parts, ", "));
  }
  return labels;
}

bool Unique(const std::vector<std::string>& labels) {
  return std::set<std::string>(labels.begin(), labels.end()).size() == labels.size();
}

}  // namespace

std::string LabelNumber(double v, int precision) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a < 1e-3 || a >= 1e5) {
    // "%.*e" gives "2.50e-05": drop the mantissa's trailing zeros and the exponent's padding.
    const std::string e = absl::StrFormat("%.*e", precision - 1, v);
    const size_t at = e.find('e');
    std::string mantissa = e.substr(0, at);
    if (mantissa.find('.') != std::string::npos) {
      while (mantissa.back() == '0') mantissa.pop_back();
      if (mantissa.back() == '.') mantissa.pop_back();
    }
    const int exponent = std::atoi(e.c_str() + at + 1);
    return absl::StrCat(mantissa, "e", exponent);
  }
  return absl::StrFormat("%.*g", precision, v);
}

std::string DescribeSchedule(const ScheduleSpec& schedule, int precision) {
  return std::visit(
      [&](const auto& s) -> std::string {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, ConstantSchedule>) {
          return absl::StrCat("constant lr ", Value(s.lr, precision));
        } else if constexpr (std::is_same_v<S, OneCycleSchedule>) {
          return absl::StrCat("1cycle max_lr ", Value(s.max_lr, precision));
        } else if constexpr (std::is_same_v<S, CyclicSchedule>) {
          const std::string lo = Value(s.base_lr, precision), hi = Value(s.max_lr, precision);
          if (lo == hi && lo != "auto") return absl::StrCat("constant lr ", hi);
          const char* mode = s.mode == CyclicMode::kTriangular    ? "triangular"
                             : s.mode == CyclicMode::kTriangular2 ? "triangular2"
                                                                  : "exp_range";
          std::string out = absl::StrCat(mode, " ", lo, "-", hi);
          if (s.mode == CyclicMode::kExpRange) {
            absl::StrAppend(&out, " gamma ", LabelNumber(s.gamma, precision));
          }
          return out;
        } else if constexpr (std::is_same_v<S, CosineRestartsSchedule>) {
          std::string out = absl::StrCat("cosine restarts lr ", Value(s.max_lr, precision), " T0 ",
                                         Steps(s.t_0, precision));
          if (s.t_mult != 1) absl::StrAppend(&out, " Tmult ", s.t_mult);
          return out;
        } else {
          return "LR range test";
        }
      },
      schedule.kind);
}

std::string DescribeMomentum(const TrialSpec& spec, int precision) {
  std::optional<std::pair<double, double>> cycled;  // (max, base)
  if (const auto* o = std::get_if<OneCycleSchedule>(&spec.schedule.kind); o && o->cycle_momentum) {
    cycled = {o->max_momentum, o->base_momentum};
  }
  if (const auto* c = std::get_if<CyclicSchedule>(&spec.schedule.kind); c && c->cycle_momentum) {
    cycled = {c->max_momentum, c->base_momentum};
  }
  if (cycled) {
    return absl::StrCat("momentum ", LabelNumber(cycled->first, precision), kArrow,
                        LabelNumber(cycled->second, precision));
  }
  return absl::StrCat("momentum ", LabelNumber(spec.momentum, precision));
}

bool IsInternalParam(const std::string& key) {
  static const std::set<std::string> kInternal = {"fold",    "seed",       "schedule_index",
                                                  "lr_from", "lr_warning", "role"};
  return kInternal.count(key) > 0;
}

std::vector<std::string> SeriesLabels(const std::vector<SeriesSubject>& subjects) {
  std::vector<std::string> labels = Labels(subjects, 3);
  if (!Unique(labels)) labels = Labels(subjects, 6);
  std::map<std::string, int> times;
  for (auto& l : labels) {
    if (const int n = ++times[l]; n > 1) absl::StrAppend(&l, " (", n, ")");
  }
  return labels;
}

}  // namespace hypersweep
