#include "client/schedule_command.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "client/plot_figures.h"
#include "core/schedule.h"
#include "core/spec_reader.h"
#include "core/status_macros.h"
#include "core/trial_spec.h"

namespace hypersweep {

namespace {

constexpr int64_t kSvgMaxPoints = 2000;

}  // namespace

absl::Status RunSchedule(const ScheduleOptions& options, Io& io) {
  if (options.steps < 1) return absl::InvalidArgumentError("--steps: must be >= 1");
  if (options.steps_per_epoch < 1) {
    return absl::InvalidArgumentError("--steps-per-epoch: must be >= 1");
  }
  ASSIGN_OR_RETURN(YAML::Node node, LoadYaml(options.schedule, "--schedule"));
  auto spec = ParseSchedule(node, "schedule", ParseOptions{});
  if (!spec.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--schedule: ", spec.status().message()));
  }
  const bool svg = options.format == "svg";
  ScheduleTableOptions table_options;
  table_options.steps = options.steps;
  table_options.steps_per_epoch = options.steps_per_epoch;
  table_options.momentum = options.momentum;
  table_options.max_rows = svg ? kSvgMaxPoints : 0;
  ASSIGN_OR_RETURN(const std::vector<ScheduleRow> rows, ScheduleTable(*spec, table_options));
  if (svg) {
    FigureCurve lr;
    lr.label = "lr";
    for (const auto& r : rows) {
      lr.x.push_back(static_cast<double>(r.step) / options.steps_per_epoch);
      lr.y.push_back(r.lr);
    }
    *io.out << RenderSchedulePreview(ScheduleName(*spec), options.steps, lr);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const Format format,
                   ParseFormat(options.format.empty() ? "csv" : options.format, false));
  if (format == Format::kCsv) {  // the worker's preview prints the same bytes
    WriteScheduleCsv(rows, *io.out);
    return absl::OkStatus();
  }
  Table table;
  table.columns = {"step", "epoch", "lr", "momentum"};
  table.rows.reserve(rows.size());
  for (const auto& r : rows) table.AddRow({r.step, r.epoch, r.lr, r.momentum});
  if (format == Format::kJson) {
    WriteJson({{"schedule", ToJson(*spec)},
               {"steps", options.steps},
               {"steps_per_epoch", options.steps_per_epoch},
               {"points", table.ToJson()}},
              *io.out);
  } else {
    WriteTable(table, format, *io.out);
  }
  return absl::OkStatus();
}

}  // namespace hypersweep
