#include "core/packing.h"

#include <variant>

namespace hypersweep {

std::string WhyUnpackable(const TrialSpec& spec) {
  if (spec.command.present()) return "command trials are not packed";
  if (std::holds_alternative<LrRangeTestSchedule>(spec.schedule.kind))
    return "an LR range test is not packed";
  if (spec.model.kind == ModelSpec::Kind::kCnn) return "model.cnn is not packed";
  if (spec.model.kind == ModelSpec::Kind::kTorchScript) return "model.torchscript is not packed";
  if (spec.model.dropout > 0) return "model.mlp.dropout is not packed";
  if (spec.model.batch_norm) return "model.mlp.batch_norm is not packed";
  if (spec.budget_seconds > 0) return "budget_seconds is not packed";
  return "";
}

std::string PackingKey(const TrialSpec& spec) {
  TrialSpec s = spec;
  s.name.clear();
  s.schedule = ScheduleSpec();
  s.momentum = 0;
  s.weight_decay = 0;
  s.seed = 0;
  s.epochs = 1;
  return ToJson(s).dump();
}

}  // namespace hypersweep
