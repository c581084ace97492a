#include "client/sweep_view.h"

#include "absl/time/time.h"
#include "client/progress.h"

namespace hypersweep {

using nlohmann::json;

std::string StatusName(v1::TrialStatus s) {
  return v1::TrialStatus_IsValid(s) ? v1::TrialStatus_Name(s) : "UNKNOWN";
}

std::string StateName(v1::SweepState s) {
  switch (s) {
    case v1::SWEEP_RUNNING:
      return "RUNNING";
    case v1::SWEEP_COMPLETED:
      return "COMPLETED";
    case v1::SWEEP_CANCELLED:
      return "CANCELLED";
    case v1::SWEEP_PAUSED:
      return "PAUSED";
    default:
      return "UNKNOWN";
  }
}

std::string GoalName(v1::Goal g) { return g == v1::MAXIMIZE ? "maximize" : "minimize"; }

std::string TimeText(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

std::string ColouredStatus(const Style& style, v1::TrialStatus s) {
  const std::string name = StatusName(s);
  switch (s) {
    case v1::SUCCEEDED:
      return style.Green(name);
    case v1::FAILED:
    case v1::DIVERGED:
      return style.Red(name);
    case v1::CANCELLED:
      return style.Yellow(name);
    default:
      return name;
  }
}

namespace {

json CountsJson(const v1::TrialCounts& c) {
  return {{"queued", c.queued()},     {"leased", c.leased()}, {"succeeded", c.succeeded()},
          {"diverged", c.diverged()}, {"failed", c.failed()}, {"cancelled", c.cancelled()},
          {"pruned", c.pruned()},     {"total", c.total()},   {"done", DoneTrials(c)}};
}

}  // namespace

json SweepJson(const v1::Sweep& s) {
  return {
      {"id", s.id()},
      {"name", s.name()},
      {"state", StateName(s.state())},
      {"objective", {{"metric", s.objective().metric()}, {"goal", GoalName(s.objective().goal())}}},
      {"counts", CountsJson(s.counts())},
      {"created", TimeText(s.created_unix_ms())},
      {"created_unix_ms", s.created_unix_ms()},
      {"max_attempts", s.max_attempts()},
      {"paused_reason", s.paused_reason()}};
}

}  // namespace hypersweep
