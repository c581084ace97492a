#include "worker/command/command_trial.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/command_spec.h"
#include "core/lr_finder.h"
#include "core/schedule.h"
#include "core/status_macros.h"
#include "worker/command/runner.h"

namespace hypersweep {
namespace {

namespace fs = std::filesystem;

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

// Everything the program needs to know about its point (HYPERSWEEP_TRIAL).
nlohmann::json TrialJson(const TrialSpec& spec, const CommandTrialOptions& o,
                         const std::string& ckpt_dir, bool resume, bool lr_range) {
  double max_lr = 0, base_lr = 0;
  // The same values `{name}` placeholders take, as JSON numbers.
  std::visit(
      [&](const auto& k) {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, ConstantSchedule>) {
          max_lr = base_lr = k.lr;
        } else if constexpr (std::is_same_v<K, OneCycleSchedule>) {
          max_lr = k.max_lr;
          base_lr = k.max_lr / k.div_factor;
        } else if constexpr (std::is_same_v<K, CyclicSchedule>) {
          max_lr = k.max_lr;
          base_lr = k.base_lr;
        } else if constexpr (std::is_same_v<K, CosineRestartsSchedule>) {
          max_lr = k.max_lr;
          base_lr = k.eta_min;
        } else {
          max_lr = k.max_lr;
          base_lr = k.min_lr;
        }
      },
      spec.schedule.kind);
  const bool kfold = spec.validation.kind == ValidationSpec::Kind::kKFold;
  return {{"trial_id", o.trial_id},
          {"attempt", o.attempt},
          {"name", spec.name},
          {"mode", lr_range ? "lr_range" : "train"},
          {"lr", max_lr},
          {"max_lr", max_lr},
          {"base_lr", base_lr},
          {"momentum", spec.momentum},
          {"weight_decay", spec.weight_decay},
          {"batch_size", spec.batch_size},
          {"epochs", spec.epochs},
          {"seed", spec.seed},
          {"fold", kfold ? spec.validation.fold : 0},
          {"folds", kfold ? spec.validation.folds : 1},
          {"schedule_name", ScheduleName(spec.schedule)},
          {"steps_per_epoch", spec.command.steps_per_epoch},
          {"checkpoint_dir", ckpt_dir},
          {"resume", resume},
          {"spec", ToJson(spec)}};
}

struct Prepared {
  ProgramOptions program;
};

absl::StatusOr<Prepared> Prepare(const TrialSpec& spec, const CommandTrialOptions& o,
                                 bool lr_range) {
  ASSIGN_OR_RETURN(const std::string dir, CommandTrialDir(o));
  const std::string ckpt = (fs::path(dir) / "checkpoints").string();
  std::error_code ec;
  fs::create_directories(ckpt, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", ckpt, ": ", ec.message()));
  const bool resume = !lr_range && !fs::is_empty(ckpt, ec) && !ec;

  Prepared p;
  ProgramOptions& po = p.program;
  ASSIGN_OR_RETURN(po.argv, SubstituteArgv(spec.command, spec));
  po.workdir = dir;
  if (!spec.command.workdir.empty()) {
    ASSIGN_OR_RETURN(po.workdir, ConfineDataPath(o.roots, spec.command.workdir, "command.workdir",
                                                 PathKind::kDirectory));
  }
  po.log_path = (fs::path(dir) / "trial.log").string();
  const std::string trial_path = (fs::path(dir) / "trial.json").string();
  if (!WriteText(trial_path, TrialJson(spec, o, ckpt, resume, lr_range).dump(2) + "\n")) {
    return absl::UnavailableError(absl::StrCat("cannot write ", trial_path));
  }
  po.env = o.base_env;
  for (const auto& [k, v] : spec.command.env) po.env.push_back(absl::StrCat(k, "=", v));
  po.env.push_back("HYPERSWEEP_TRIAL=" + trial_path);
  po.env.push_back("HYPERSWEEP_CHECKPOINT_DIR=" + ckpt);
  po.env.push_back(absl::StrCat("HYPERSWEEP_RESUME=", resume ? 1 : 0));
  po.env.push_back(absl::StrCat("HYPERSWEEP_MODE=", lr_range ? "lr_range" : "train"));
  po.env.push_back("HYPERSWEEP_LOG=" + po.log_path);
  if (const int64_t spe = spec.command.steps_per_epoch; spe > 0) {
    ScheduleTableOptions t;
    t.steps_per_epoch = spe;
    t.momentum = spec.momentum;
    if (lr_range) {
      ASSIGN_OR_RETURN(Schedule s, Schedule::Create(spec.schedule, {spe, 1, spec.momentum}));
      t.steps = s.total_steps();
    } else {
      t.steps = spe * spec.epochs;
    }
    if (t.steps > kMaxCommandScheduleSteps) {
      return absl::InvalidArgumentError(absl::StrCat("command.steps_per_epoch: the schedule has ",
                                                     t.steps, " steps; at most ",
                                                     kMaxCommandScheduleSteps));
    }
    ASSIGN_OR_RETURN(auto rows, ScheduleTable(spec.schedule, t));
    std::ostringstream csv;
    WriteScheduleCsv(rows, csv);
    const std::string path = (fs::path(dir) / "schedule.csv").string();
    if (!WriteText(path, csv.str())) return absl::UnavailableError("cannot write " + path);
    po.env.push_back("HYPERSWEEP_SCHEDULE=" + path);
  }
  std::ofstream(po.log_path, std::ios::app)
      << absl::StrFormat("=== hypersweep: attempt %d: %s\n", o.attempt, spec.command.argv[0]);
  po.should_stop = o.should_stop;
  po.grace = o.grace;
  po.max_epochs = spec.epochs;
  po.budget_seconds = spec.budget_seconds;
  po.lr_range = lr_range;
  return p;
}

absl::Status StatusOf(const ProgramResult& r) {
  if (r.outcome == ProgramOutcome::kUserError) return absl::InvalidArgumentError(r.reason);
  return absl::UnavailableError(r.reason);
}

}  // namespace

bool CommandAllowed(const std::vector<std::string>& allowed, const std::string& program) {
  for (const std::string& a : allowed) {
    if (a.empty()) continue;
    if (a.back() != '/') {
      if (program == a) return true;
      continue;
    }
    if (program.size() <= a.size() || !absl::StartsWith(program, a)) continue;
    const fs::path p(program);
    if (p.is_absolute() && p.lexically_normal().string() == program &&
        program.find("//") == std::string::npos) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> InheritedEnvironment(char** environ) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const std::string name = absl::AsciiStrToUpper(entry.substr(0, entry.find('=')));
    if (absl::StartsWith(name, "HYPERSWEEP_")) continue;
    bool secret = false;
    for (const char* word : {"TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"}) {
      secret = secret || absl::StrContains(name, word);
    }
    if (!secret) out.push_back(entry);
  }
  return out;
}

absl::StatusOr<std::string> CommandTrialDir(const CommandTrialOptions& o) {
  const bool id_ok = !o.trial_id.empty() && o.trial_id.size() <= 128 &&
                     std::all_of(o.trial_id.begin(), o.trial_id.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                     });
  if (!id_ok) return absl::InvalidArgumentError("trial id: not a plain name");
  const fs::path dir = fs::path(o.checkpoint_dir) / "command" / o.trial_id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  return dir.string();
}

absl::StatusOr<TrialResult> RunCommandTrial(const TrialSpec& spec, const CommandTrialOptions& o,
                                            MetricsSink* sink) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(spec, o, /*lr_range=*/false));
  TrialResult result;
  result.device = "command";
  p.program.on_epoch = [&](const metrics::EpochMetrics& m) {
    result.epochs.push_back(m);
    sink->OnEpoch(m);
  };
  const ProgramResult r = RunProgram(p.program);
  result.reason = r.reason;
  switch (r.outcome) {
    case ProgramOutcome::kSucceeded:
    case ProgramOutcome::kBudget:
      result.outcome = TrialOutcome::kSucceeded;
      return result;
    case ProgramOutcome::kDiverged:
      result.outcome = TrialOutcome::kDiverged;
      return result;
    case ProgramOutcome::kStopped:
      result.outcome = TrialOutcome::kStopped;
      return result;
    case ProgramOutcome::kUserError:
    case ProgramOutcome::kFailed:
      break;
  }
  return StatusOf(r);
}

absl::StatusOr<LrRangeResult> RunCommandLrRangeTest(const TrialSpec& spec,
                                                    const CommandTrialOptions& o,
                                                    MetricsSink* sink) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(spec, o, /*lr_range=*/true));
  LrRangeTracker tracker;
  bool enough = false;
  p.program.on_lr_point = [&](double lr, double loss) {
    if (enough || tracker.curve().size() >= static_cast<size_t>(kMaxLrCurvePoints)) {
      enough = true;
      return;
    }
    enough = tracker.Add(lr, loss);
    sink->OnLrPoint(tracker.curve().back());
  };
  auto outer_stop = p.program.should_stop;
  bool stopped_by_us = false;
  p.program.should_stop = [&] {
    if (enough) stopped_by_us = true;
    return enough || (outer_stop && outer_stop());
  };
  const ProgramResult r = RunProgram(p.program);
  const bool ok = r.outcome == ProgramOutcome::kSucceeded ||
                  r.outcome == ProgramOutcome::kDiverged ||
                  (r.outcome == ProgramOutcome::kStopped && stopped_by_us);
  if (r.outcome == ProgramOutcome::kStopped && !stopped_by_us) {
    return absl::CancelledError("range test stopped");
  }
  if (!ok) return StatusOf(r);
  LrRangeResult result;
  result.curve = tracker.curve();
  result.suggestions = SuggestLr(result.curve);
  result.steps_per_epoch = spec.command.steps_per_epoch;
  return result;
}

}  // namespace hypersweep
