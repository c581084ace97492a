// The Scheduler's part of adaptive (tpe:) sweeps (docs/SEARCH.md): whenever a trial of such a
// sweep becomes final, the next points are proposed from the sweep's trials (tpe_planner.h) and
// stored in the same batch as that end; at start-up each sweep is planned once more, which makes
// up for a crash between the two (the planner derives everything from the stored trials, so it
// proposes nothing twice).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "server/scheduler/auto_lr_planner.h"
#include "server/scheduler/scheduler.h"
#include "server/scheduler/tpe_planner.h"

namespace hypersweep {

void Scheduler::PlanTpe(SweepEntry& s, WriteBatch& batch, std::vector<SweepEvent>* events) {
  if (s.tpe == nullptr || s.rec.cancelled) return;
  // Every point exists: nothing to plan (the common case late in a sweep costs no pass).
  if (static_cast<int64_t>(s.trial_ids.size()) >= s.rec.trial_count) return;
  const SweepSpec& spec = *s.tpe;
  std::vector<TpeTrialView> views;
  views.reserve(s.trial_ids.size());
  for (const auto& id : s.trial_ids) {
    const TrialEntry& t = trials_[id];
    if (AutoLrPlanner::IsRangeTest(t.rec)) continue;  // a point's range tests are not the point
    views.push_back(
        TpeTrialView{t.rec.index, t.rec.status, t.rec.params, t.objective, t.rec.epochs_reported});
  }
  const absl::StatusOr<TpeSearchState> state = TpeStateOf(spec, views);
  const absl::StatusOr<std::vector<TpeNewPoint>> next =
      state.ok() ? NextTpePoints(spec, s.rec.maximize, *state) : state.status();
  if (!next.ok()) {
    // Only a database written by something else or a non-monotone trial constraint gets here;
    // the sweep then ends with the points it has.
    log::Error("tpe_plan_failed", {{"sweep", s.rec.id}, {"error", next.status().message()}});
    return;
  }
  AddTpePoints(s, *next, batch, events);
  if (!next->empty()) {
    log::Debug("tpe_points_proposed", {{"sweep", s.rec.id},
                                       {"first", next->front().point},
                                       {"points", static_cast<int64_t>(next->size())}});
  }
}

void Scheduler::AddTpePoints(SweepEntry& s, const std::vector<TpeNewPoint>& points,
                             WriteBatch& batch, std::vector<SweepEvent>* events) {
  const SweepSpec& spec = *s.tpe;
  const int64_t per = std::max<int64_t>(TrialsPerPoint(spec), 1);
  const int64_t range_tests = HasAutoLr(spec) ? spec.auto_lr.range_tests : 0;
  SweepPruner* pruner = pruners_.Find(s.rec.id);
  for (const TpeNewPoint& p : points) {
    // With auto LR the point's range tests head its trials (one group: its seeds and folds share
    // every field the group is made of).
    std::vector<ExpandedTrial> trials = p.trials;
    const AutoLrPlanner::RangeTestPlan plan = AutoLrPlanner::AddRangeTests(trials, range_tests);
    const auto heads = static_cast<int64_t>(plan.range_tests);
    std::vector<std::string> ids;
    for (int64_t k = 0; k < static_cast<int64_t>(trials.size()); ++k) {
      const bool range = k < heads;
      const int64_t index =
          range ? spec.tpe.trials * per + p.point * range_tests + k : p.point * per + k - heads;
      TrialRecord rec = NewTrialRecord(trials[static_cast<size_t>(k)], index,
                                       range ? TrialRole::kLrRangeTest : TrialRole::kTrain);
      rec.id = absl::StrCat(s.rec.id, "-", rec.index);
      rec.sweep_id = s.rec.id;
      ids.push_back(rec.id);
      TrialEntry& e = trials_[rec.id];
      e.rec = rec;
      e.sweep_seq = s.seq;
      s.trial_ids.push_back(rec.id);
      s.counts.total++;
      s.counts.by_status[static_cast<int>(TrialStatus::kQueued)]++;
      if (const auto& waits = plan.waits_for[static_cast<size_t>(k)]; !waits.empty()) {
        std::vector<std::string> range_ids;
        for (int64_t r : waits) range_ids.push_back(ids[static_cast<size_t>(r)]);
        auto_lr_.Hold(range_ids, rec.id);
      } else {
        Enqueue(e);
      }
      if (pruner != nullptr) pruner->AddTrial(rec);
      batch.insert_trials.push_back(std::move(rec));
      if (events != nullptr) events->push_back(EventFor(e));
    }
  }
}

void Scheduler::KeepTpeObjective(TrialEntry& t, const EpochRecord& e) {
  const SweepEntry& s = sweeps_[t.rec.sweep_id];
  if (s.tpe == nullptr || e.epoch < t.objective_epoch) return;
  auto it = e.values.find(s.objective.metric);
  if (it == e.values.end()) return;
  t.objective = it->second;
  t.objective_epoch = e.epoch;
}

absl::Status Scheduler::RestoreTpe(WriteBatch& batch) {
  for (auto& [sweep_id, s] : sweeps_) {
    if (s.tpe == nullptr || s.rec.cancelled ||
        static_cast<int64_t>(s.trial_ids.size()) >= s.rec.trial_count) {
      continue;
    }
    for (const auto& id : s.trial_ids) {
      TrialEntry& t = trials_[id];
      if (t.have_epoch.empty()) continue;
      ASSIGN_OR_RETURN(std::vector<EpochRecord> epochs,
                       store_->GetEpochs(id, {s.objective.metric}));
      for (const auto& e : epochs) KeepTpeObjective(t, e);
    }
    PlanTpe(s, batch, nullptr);
  }
  return absl::OkStatus();
}

}  // namespace hypersweep
