// `hypersweep schedule`: a learning-rate/momentum schedule preview. Needs no server. Its CSV is
// core/schedule.h's (ScheduleTable, WriteScheduleCsv), byte for byte what `hypersweep-worker
// schedule` prints.
#ifndef HYPERSWEEP_CLIENT_SCHEDULE_COMMAND_H_
#define HYPERSWEEP_CLIENT_SCHEDULE_COMMAND_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "client/commands.h"

namespace hypersweep {

struct ScheduleOptions {
  std::string schedule;  // JSON or YAML, e.g. '{one_cycle: {max_lr: 0.1}}'
  int64_t steps = 0;
  int64_t steps_per_epoch = 1;
  double momentum = 0.9;
  std::string format;  // csv (default), json, table or svg
};
// INVALID_ARGUMENT naming the flag for a bad schedule, step count or format.
absl::Status RunSchedule(const ScheduleOptions& options, Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_SCHEDULE_COMMAND_H_
