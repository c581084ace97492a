#include "client/progress.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/output.h"
#include "client/sweep_view.h"

namespace hypersweep {

int64_t DoneTrials(const v1::TrialCounts& c) { return c.finished(); }

double DoneFraction(const v1::TrialCounts& c) {
  return c.total() > 0 ? static_cast<double>(DoneTrials(c)) / c.total() : 0;
}

std::string WaitReason(const v1::Sweep& s) {
  if (s.state() == v1::SWEEP_PAUSED) {
    return absl::StrCat("paused: ", s.paused_reason(), "; fix it, then `hypersweep resume ", s.id(),
                        "`");
  }
  if (s.state() != v1::SWEEP_RUNNING || s.counts().queued() == 0 || s.healthy_workers() > 0) {
    return "";
  }
  return absl::StrCat("no healthy worker: ", s.registered_workers(), " registered, ",
                      s.quarantined_workers(), " quarantined; queued trials wait");
}

double EtaSeconds(const v1::Sweep& s, absl::Time now) {
  const int64_t done = DoneTrials(s.counts());
  if (s.state() == v1::SWEEP_PAUSED || !WaitReason(s).empty()) return std::nan("");
  if (s.state() != v1::SWEEP_RUNNING) return 0;
  if (done == 0 || s.created_unix_ms() <= 0) return std::nan("");
  const double elapsed = absl::ToDoubleSeconds(now - absl::FromUnixMillis(s.created_unix_ms()));
  return elapsed / done * (s.counts().total() - done);
}

std::string ProgressLine(const v1::Sweep& s, absl::Time now) {
  const std::string wait = WaitReason(s);
  return absl::StrCat(
      ProgressBar(DoneFraction(s.counts())), "  ", DoneTrials(s.counts()), "/", s.counts().total(),
      "  ", StateName(s.state()), "  ",
      wait.empty() ? absl::StrCat("ETA ", FormatDuration(EtaSeconds(s, now))) : wait);
}

std::string CountsLine(const v1::TrialCounts& c) {
  return absl::StrFormat(
      "queued %d  leased %d  succeeded %d  diverged %d  failed %d  cancelled %d  pruned %d",
      c.queued(), c.leased(), c.succeeded(), c.diverged(), c.failed(), c.cancelled(), c.pruned());
}

}  // namespace hypersweep
