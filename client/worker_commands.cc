#include "client/worker_commands.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/sweep_view.h"
#include "core/status_macros.h"

namespace hypersweep {

using nlohmann::json;

absl::Status RunWorkers(SweepClient& client, const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(auto workers, client.ListWorkers());
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  Table table;
  table.columns = {"id",          "host",        "device",
                   "slots",       "busy",        "last_seen",
                   "seconds_ago", "quarantined", "consecutive_failures",
                   "why"};
  for (const auto& w : workers) {
    const auto& cap = w.capabilities();
    table.AddRow({w.id(), cap.host(), cap.device(), cap.slots(), w.active_leases(),
                  TimeText(w.last_seen_unix_ms()),
                  std::max<int64_t>(0, now_ms - w.last_seen_unix_ms()) / 1000.0, w.quarantined(),
                  w.consecutive_failures(),
                  w.quarantined()
                      ? json(absl::StrCat(w.consecutive_failures(), " failed trials in a row"))
                      : json()});
  }
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

absl::Status RunClearQuarantine(SweepClient& client, const std::string& worker_id,
                                const std::string& format_name, Io& io) {
  ASSIGN_OR_RETURN(const Format format, FormatFor(format_name, io));
  ASSIGN_OR_RETURN(const v1::Worker w, client.ClearQuarantine(worker_id));
  Table table;
  table.columns = {"id", "quarantined", "consecutive_failures"};
  table.AddRow({w.id(), w.quarantined(), w.consecutive_failures()});
  WriteTable(table, format, *io.out);
  return absl::OkStatus();
}

}  // namespace hypersweep
