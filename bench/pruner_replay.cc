// The pruner replay benchmark's C++ half (docs/PERFORMANCE.md "Pruners", docs/PRUNERS.md): our
// pruner (server/scheduler/pruner.h, the code the coordinator runs) driven one report at a time
// by bench/pruner_replay.py, which feeds the same reports to Optuna 3.1 and compares the answers.
//
// A line protocol on stdin, one answer line on stdout per command:
//   pruner median STARTUP WARMUP INTERVAL | pruner asha MIN_EPOCHS REDUCTION_FACTOR
//       starts a fresh sweep pruner (minimizing val_loss)            -> "ok"
//   trial ID                  adds a trial (its own point)            -> "ok"
//   report ID EPOCH VALUE     stores the epoch (0-based; VALUE "nan" for none) and judges it
//                                                                     -> "prune REASON" |
//                                                                     "continue"
//   end ID STATUS             the trial ended: succeeded, diverged or failed -> "ok"
// A bad line is answered "error ..." and changes nothing.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "server/scheduler/pruner.h"

namespace hypersweep {
namespace {

class Replay {
 public:
  std::string Handle(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "pruner") return StartPruner(in);
    if (!pruner_) return "error: no pruner yet";
    if (cmd == "trial") {
      std::string id;
      if (!(in >> id)) return "error: trial: missing ID";
      TrialRecord t;
      t.id = id;
      t.params = {{"trial", id}};
      pruner_->AddTrial(t);
      status_[id] = TrialStatus::kLeased;
      return "ok";
    }
    if (cmd == "report") {
      std::string id, value_text;
      int64_t epoch = -1;
      if (!(in >> id >> epoch >> value_text) || epoch < 0) {
        return "error: report: want ID EPOCH VALUE";
      }
      if (status_.count(id) == 0) return "error: report: unknown trial " + id;
      EpochRecord e;
      e.epoch = epoch;
      char* end = nullptr;
      const double value = std::strtod(value_text.c_str(), &end);
      if (end == value_text.c_str() || *end != '\0') return "error: report: VALUE is not a number";
      if (std::isfinite(value)) e.values["val_loss"] = value;
      pruner_->Record(id, e);
      auto why = pruner_->Judge(id, {epoch}, [&](const std::string& t) { return status_.at(t); });
      if (!why) return "continue";
      status_[id] = TrialStatus::kPruned;
      return "prune " + *why;
    }
    if (cmd == "end") {
      std::string id, how;
      if (!(in >> id >> how)) return "error: end: want ID STATUS";
      if (status_.count(id) == 0) return "error: end: unknown trial " + id;
      static const std::map<std::string, TrialStatus> kStatus = {
          {"succeeded", TrialStatus::kSucceeded},
          {"diverged", TrialStatus::kDiverged},
          {"failed", TrialStatus::kFailed}};
      auto it = kStatus.find(how);
      if (it == kStatus.end()) return "error: end: unknown status " + how;
      status_[id] = it->second;
      return "ok";
    }
    return "error: unknown command " + cmd;
  }

 private:
  std::string StartPruner(std::istringstream& in) {
    std::string kind;
    in >> kind;
    PrunerSpec spec;
    if (kind == "median") {
      spec.kind = PrunerSpec::Kind::kMedian;
      if (!(in >> spec.startup_trials >> spec.warmup_epochs >> spec.interval) ||
          spec.interval < 1) {
        return "error: pruner median: want STARTUP WARMUP INTERVAL (interval >= 1)";
      }
    } else if (kind == "asha") {
      spec.kind = PrunerSpec::Kind::kAsha;
      if (!(in >> spec.min_epochs >> spec.reduction_factor) || spec.min_epochs < 1 ||
          spec.reduction_factor < 2) {
        return "error: pruner asha: want MIN_EPOCHS (>= 1) REDUCTION_FACTOR (>= 2)";
      }
    } else {
      return "error: pruner: want median or asha";
    }
    pruner_ = std::make_unique<SweepPruner>(spec, Objective{});
    status_.clear();
    return "ok";
  }

  std::unique_ptr<SweepPruner> pruner_;
  std::map<std::string, TrialStatus> status_;
};

}  // namespace
}  // namespace hypersweep

int main() {
  hypersweep::Replay replay;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::cout << replay.Handle(line) << '\n' << std::flush;
  }
  return 0;
}
