// Series names for plots (the CLI's `hypersweep plot`, the demo report, and later the web
// dashboard): each series of a figure is named by what differs between the figure's series, in
// the words a person uses: the schedule kind and its main values ("1cycle max_lr 0.096",
// "constant lr 0.05", "triangular 0.001-0.1", "cosine restarts lr 0.1 T0 2", "LR range test"),
// "batch 128", "momentum 0.9" (or "momentum 0.95→0.85" where the schedule cycles it), "wd 1e-4",
// "20 epochs", "optimizer adamw", and any other swept parameter as "name value". Never sweep or
// trial ids, indexes, or the coordinator's bookkeeping params (lr_from, lr_warning,
// schedule_index, role, seed, fold). An `auto` LR is named by its resolved value ("auto" until it
// is resolved). Pure functions; thread-safe. Depends on core only (no proto).
#ifndef HYPERSWEEP_CLIENT_SERIES_LABEL_H_
#define HYPERSWEEP_CLIENT_SERIES_LABEL_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/trial_spec.h"

namespace hypersweep {

// What one series stands for: its (first) trial's spec, when it could be read, and its swept
// parameters as the coordinator lists them (v1::Trial.params).
struct SeriesSubject {
  std::optional<TrialSpec> spec;
  std::map<std::string, std::string> params;
};

// A number as a legend shows it: `precision` significant digits, exponent form below 0.001 and
// from 1e5 on ("1e-4", "2.5e-5"), plain otherwise ("0.00106", "0.096", "128").
std::string LabelNumber(double v, int precision = 3);
// The schedule in words with its main values: "constant lr 0.05", "1cycle max_lr 0.096",
// "triangular 0.001-0.1" (also "triangular2 ...", "exp_range ... gamma 0.99"; equal bounds read
// "constant lr 0.01"), "cosine restarts lr 0.1 T0 2" (T0 in epochs, or "T0 500 steps"; "Tmult 2"
// when not 1), "LR range test". An unresolved `auto` value reads "auto".
std::string DescribeSchedule(const ScheduleSpec& schedule, int precision = 3);
// "momentum 0.9", or "momentum 0.95→0.85" (from max to base, as the LR rises) where the
// schedule cycles momentum.
std::string DescribeMomentum(const TrialSpec& spec, int precision = 3);
// Whether a trial parameter is the coordinator's bookkeeping, never shown in a label.
bool IsInternalParam(const std::string& key);

// One label per subject, in order: the descriptions (schedule, batch, momentum, wd, epochs,
// optimizer, other params) whose text is not the same for every subject, joined by ", "; the
// schedule's description when nothing differs. Numbers get 3 significant digits, or 6 when 3
// would give two subjects the same label; subjects that are still alike get " (2)", " (3)", ...
std::vector<std::string> SeriesLabels(const std::vector<SeriesSubject>& subjects);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_SERIES_LABEL_H_
