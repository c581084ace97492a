// The adaptive search of a TPE sweep, driven to completion the way the scheduler drives it: after
// every trial that ends, the state is rebuilt from the trials alone and the next points added.
#include "server/scheduler/tpe_planner.h"

#include <cmath>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

constexpr char kSpec[] = R"(
dataset: {synthetic: {}}
model: {mlp: {hidden: [16]}}
epochs: 3
seeds: [0, 1]
schedule: {constant: {lr: 0.1}}
tpe:
  trials: 24
  seed: 9
  startup_trials: 5
  parallel: 3
  params:
    momentum: {uniform: [0, 0.95]}
    weight_decay: {log_uniform: [1e-6, 1e-2]}
    batch_size: {int: [16, 128]}
    schedule.lr: {choice: [0.01, 0.1, 0.5]}
)";

SweepSpec Spec() {
  auto s = ParseSweepSpec(kSpec);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

double Param(const TpeTrialView& t, const std::string& key) {
  for (const auto& [k, v] : t.params) {
    if (k == key) {
      double d = 0;
      EXPECT_TRUE(absl::SimpleAtod(v, &d)) << v;
      return d;
    }
  }
  ADD_FAILURE() << "no param " << key;
  return 0;
}

struct SearchRun {
  std::vector<TpeTrialView> trials;
  int64_t max_outstanding = 0;
};

// Finishes trials in a seeded random order with a fake objective; every 7th point is pruned,
// point 4 fails and point 6 diverges. `skip_every`: every k-th end skips the proposal step (a
// coordinator that died between storing the end and storing the proposals); the next end's
// rebuild must make up for it.
SearchRun Drive(const SweepSpec& spec, uint64_t order_seed, int skip_every = 0) {
  SearchRun run;
  auto add = [&]() {
    auto state = TpeStateOf(spec, run.trials);
    EXPECT_TRUE(state.ok()) << state.status();
    auto next = NextTpePoints(spec, /*maximize=*/false, *state);
    EXPECT_TRUE(next.ok()) << next.status();
    for (const TpeNewPoint& p : *next) {
      for (size_t j = 0; j < p.trials.size(); ++j) {
        TpeTrialView t;
        t.index = p.point * TrialsPerPoint(spec) + static_cast<int64_t>(j);
        t.params = p.trials[j].params;
        run.trials.push_back(t);
      }
    }
    auto after = TpeStateOf(spec, run.trials);
    EXPECT_TRUE(after.ok());
    run.max_outstanding = std::max(run.max_outstanding, after->outstanding);
    EXPECT_LE(after->outstanding, spec.tpe.parallel);
  };
  add();
  std::mt19937_64 rng(order_seed);
  for (int ends = 1;; ++ends) {
    std::vector<size_t> open;
    for (size_t i = 0; i < run.trials.size(); ++i) {
      if (!IsFinal(run.trials[i].status)) open.push_back(i);
    }
    if (open.empty()) break;
    TpeTrialView& t = run.trials[open[rng() % open.size()]];
    const int64_t point = t.index / TrialsPerPoint(spec);
    const double m = Param(t, "momentum"), bs = Param(t, "batch_size");
    const double value = (m - 0.6) * (m - 0.6) + std::abs(bs - 64) / 128 + 0.01 * t.index;
    t.status = point == 4       ? TrialStatus::kFailed
               : point == 6     ? TrialStatus::kDiverged
               : point % 7 == 3 ? TrialStatus::kPruned
                                : TrialStatus::kSucceeded;
    t.epochs_reported = t.status == TrialStatus::kPruned ? 1 : 3;
    if (t.status != TrialStatus::kFailed) t.last_value = value;
    if (skip_every == 0 || ends % skip_every != 0) add();
  }
  add();  // a restart at the very end must add nothing
  return run;
}

void ExpectComplete(const SweepSpec& spec, const SearchRun& run) {
  const int64_t per = TrialsPerPoint(spec);
  ASSERT_EQ(static_cast<int64_t>(run.trials.size()), spec.tpe.trials * per);
  std::set<int64_t> indices;
  for (const auto& t : run.trials) indices.insert(t.index);
  EXPECT_EQ(static_cast<int64_t>(indices.size()), spec.tpe.trials * per);  // no duplicates
  EXPECT_EQ(*indices.rbegin(), spec.tpe.trials * per - 1);                 // none lost
  auto state = TpeStateOf(spec, run.trials);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->points, spec.tpe.trials);
  EXPECT_EQ(state->outstanding, 0);
  // Every point but the failed one is an observation.
  EXPECT_EQ(static_cast<int64_t>(state->history.size()), spec.tpe.trials - 1);
}

TEST(TpePlannerTest, RunsToCompletionWithAtMostParallelOutstanding) {
  const SweepSpec spec = Spec();
  const SearchRun run = Drive(spec, 1);
  ExpectComplete(spec, run);
  EXPECT_EQ(run.max_outstanding, spec.tpe.parallel);
  // The two trials of a point (seeds 0 and 1) share its values.
  for (size_t i = 0; i + 1 < run.trials.size(); ++i) {
    const auto& a = run.trials[i];
    if (a.index % 2 != 0) continue;
    for (const auto& b : run.trials) {
      if (b.index == a.index + 1) {
        EXPECT_EQ(Param(a, "momentum"), Param(b, "momentum"));
      }
    }
  }
}

TEST(TpePlannerTest, SameResultsInTheSameOrderGiveTheSamePoints) {
  const SweepSpec spec = Spec();
  const SearchRun a = Drive(spec, 5), b = Drive(spec, 5), c = Drive(spec, 6);
  ASSERT_EQ(a.trials.size(), b.trials.size());
  bool differs = false;
  for (size_t i = 0; i < a.trials.size(); ++i) {
    EXPECT_EQ(a.trials[i].index, b.trials[i].index);
    EXPECT_EQ(a.trials[i].params, b.trials[i].params);
    for (const auto& t : c.trials) {
      if (t.index == a.trials[i].index && t.params != a.trials[i].params) differs = true;
    }
  }
  // Startup points depend on the seed and point number only; later ones on the results' order.
  EXPECT_TRUE(differs);
  for (const auto& t : a.trials) {
    if (t.index / 2 >= spec.tpe.startup_trials) continue;
    for (const auto& u : c.trials) {
      if (u.index == t.index) {
        EXPECT_EQ(u.params, t.params) << t.index;
      }
    }
  }
}

TEST(TpePlannerTest, RebuildsAfterALostProposalStepWithoutDuplicatesOrLosses) {
  const SweepSpec spec = Spec();
  ExpectComplete(spec, Drive(spec, 2, /*skip_every=*/3));
}

TEST(TpePlannerTest, HistoryReadsBackTheProposedValuesExactly) {
  const SweepSpec spec = Spec();
  auto first = NextTpePoints(spec, false, TpeSearchState{});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  std::vector<TpeTrialView> trials;
  for (const auto& p : *first) {
    for (size_t j = 0; j < p.trials.size(); ++j) {
      TpeTrialView t;
      t.index = p.point * 2 + static_cast<int64_t>(j);
      t.params = p.trials[j].params;
      t.status = TrialStatus::kSucceeded;
      t.last_value = 1.0 + static_cast<double>(j);
      t.epochs_reported = 3;
      trials.push_back(t);
    }
  }
  auto state = TpeStateOf(spec, trials);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->history.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(state->history[i].x, (*first)[i].values) << i;
    EXPECT_DOUBLE_EQ(state->history[i].value, 1.5);  // the mean over the point's seeds
  }
  // A trial whose params hold no value of the space is refused, naming the parameter.
  trials[0].params.clear();
  EXPECT_EQ(TpeStateOf(spec, trials).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hypersweep
