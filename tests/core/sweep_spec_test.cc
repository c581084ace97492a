#include "core/sweep_spec.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

// The example of DESIGN.md.
constexpr char kDesignExample[] = R"(
name: fmnist-schedules
dataset: {fashion_mnist: {}}
model: {mlp: {hidden: [128, 128, 128, 128], activation: relu}}
objective: {metric: val_loss, goal: minimize}
epochs: 20
validation: {folds: 5}
seeds: [0]
grid:
  batch_size: [256]
  momentum: [0.9]
  weight_decay: [0, 1e-4]
  schedule:
    - {constant: {lr: 0.05}}
    - {one_cycle: {max_lr: auto, pct_start: 0.3, anneal_strategy: linear, div_factor: 10, final_div_factor: 1000}}
    - {cyclic: {base_lr: 0.01, max_lr: 0.3, step_size_up_epochs: 4, mode: triangular}}
    - {cosine_restarts: {max_lr: 0.3, t_0_epochs: 1, t_mult: 1, eta_min: 0}}
random: {trials: 20, params: {weight_decay: {log_uniform: [1e-6, 1e-2]}}}
budget: {seconds_per_trial: 30}
)";

TEST(SweepSpecTest, ParsesAndExpandsTheDesignExample) {
  auto s = ParseSweepSpec(kDesignExample);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "fmnist-schedules");
  EXPECT_EQ(s->objective.metric, "val_loss");
  EXPECT_EQ(s->objective.goal, Goal::kMinimize);
  EXPECT_EQ(s->schedules.size(), 4u);
  EXPECT_EQ(s->weight_decays.size(), 2u);
  EXPECT_DOUBLE_EQ(s->base.budget_seconds, 30);
  // 1 batch x 1 momentum x 2 weight decays x 4 schedules x 20 samples x 1 seed x 5 folds.
  EXPECT_EQ(CountTrials(*s), 800);
  auto trials = ExpandSweep(*s);
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 800u);
  std::set<int64_t> folds;
  for (const auto& t : *trials) {
    EXPECT_EQ(t.spec.validation.kind, ValidationSpec::Kind::kKFold);
    folds.insert(t.spec.validation.fold);
    EXPECT_GE(t.spec.weight_decay, 1e-6);  // random sampling overrides the grid value
    EXPECT_LE(t.spec.weight_decay, 1e-2);
    EXPECT_EQ(t.spec.epochs, 20);
  }
  EXPECT_EQ(folds, (std::set<int64_t>{0, 1, 2, 3, 4}));
  // Folds vary fastest; consecutive folds share the sampled point.
  EXPECT_EQ((*trials)[0].spec.weight_decay, (*trials)[4].spec.weight_decay);
  EXPECT_NE((*trials)[0].spec.weight_decay, (*trials)[5].spec.weight_decay);
  // `auto` flows through to the one_cycle trials, and survives the canonical JSON.
  const auto& oc = (*trials)[100].spec;  // second schedule (20 samples x 5 folds per schedule)
  ASSERT_EQ(ScheduleName(oc.schedule), "one_cycle");
  EXPECT_EQ(oc.schedule.auto_fields, std::vector<std::string>{"max_lr"});
  ParseOptions options;
  options.allow_auto = true;
  auto again = ParseTrialSpec(ToJson(oc).dump(), options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ToJson(*again), ToJson(oc));
}

TEST(SweepSpecTest, ExpansionIsDeterministic) {
  auto s = ParseSweepSpec(kDesignExample);
  ASSERT_TRUE(s.ok());
  auto a = ExpandSweep(*s), b = ExpandSweep(*s);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < a->size(); ++i) {
    ASSERT_EQ(ToJson((*a)[i].spec), ToJson((*b)[i].spec)) << i;
  }
}

TEST(SweepSpecTest, GridProductSeedsAndParams) {
  auto s = ParseSweepSpec(R"(
dataset: {synthetic: {samples: 100}}
schedule: {constant: {lr: 0.1}}
seeds: [1, 2]
grid: {batch_size: [32, 64, 128], optimizer: [sgd, {adamw: {beta2: 0.99}}]}
validation: {holdout: 0.25}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  auto t = ExpandSweep(*s);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 12u);  // 3 x 2 x 2 seeds
  EXPECT_EQ((*t)[0].spec.batch_size, 32);
  EXPECT_EQ((*t)[0].spec.seed, 1u);
  EXPECT_EQ((*t)[1].spec.seed, 2u);
  EXPECT_EQ((*t)[2].spec.optimizer.kind, OptimizerSpec::Kind::kAdamW);
  EXPECT_EQ((*t)[11].spec.batch_size, 128);
  const auto& p = (*t)[3].params;
  EXPECT_THAT(p, ::testing::Contains(std::make_pair(std::string("batch_size"), std::string("32"))));
  EXPECT_THAT(p,
              ::testing::Contains(std::make_pair(std::string("optimizer"), std::string("adamw"))));
  EXPECT_THAT(p, ::testing::Contains(std::make_pair(std::string("seed"), std::string("2"))));
}

TEST(SweepSpecTest, RandomOnlyWithAllDistributions) {
  auto s = ParseSweepSpec(R"({
  "dataset": {"synthetic": {}},
  "schedule": {"one_cycle": {"max_lr": 0.1}},
  "random": {"trials": 50, "seed": 7, "params": {
    "momentum": {"uniform": [0.8, 0.95]},
    "batch_size": {"int": [16, 64]},
    "schedule.max_lr": {"log_uniform": [0.01, 1]},
    "model.activation": {"choice": ["relu", "tanh"]}}}
})");
  ASSERT_TRUE(s.ok()) << s.status();
  auto t = ExpandSweep(*s);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 50u);
  std::set<Activation> activations;
  std::set<int64_t> batch_sizes;
  for (const auto& e : *t) {
    EXPECT_GE(e.spec.momentum, 0.8);
    EXPECT_LT(e.spec.momentum, 0.95);
    EXPECT_GE(e.spec.batch_size, 16);
    EXPECT_LE(e.spec.batch_size, 64);
    const double lr = std::get<OneCycleSchedule>(e.spec.schedule.kind).max_lr;
    EXPECT_GE(lr, 0.01);
    EXPECT_LE(lr, 1);
    activations.insert(e.spec.model.activation);
    batch_sizes.insert(e.spec.batch_size);
  }
  EXPECT_EQ(activations.size(), 2u);
  EXPECT_GT(batch_sizes.size(), 10u);
  // Another seed gives other samples.
  auto s2 = ParseSweepSpec(R"({"dataset": {"synthetic": {}}, "schedule": {"constant": {"lr": 0.1}},
    "random": {"trials": 5, "seed": 8, "params": {"momentum": {"uniform": [0.8, 0.95]}}}})");
  ASSERT_TRUE(s2.ok()) << s2.status();
  auto t2 = ExpandSweep(*s2);
  ASSERT_TRUE(t2.ok());
  EXPECT_NE((*t2)[0].spec.momentum, (*t)[0].spec.momentum);
}

TEST(SweepSpecTest, AutoOptions) {
  auto s = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {cyclic: {base_lr: auto, max_lr: auto, step_size_up_epochs: 2}}
auto: {rule: min_div_10, div: 4}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->auto_lr.rule, SuggestRule::kMinDiv10);
  EXPECT_DOUBLE_EQ(s->auto_lr.div, 4);
  EXPECT_DOUBLE_EQ(s->auto_lr.scale, 1);
  auto t = ExpandSweep(*s);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)[0].spec.schedule.auto_fields.size(), 2u);
}

TEST(SweepSpecTest, EveryRuleIsAcceptedAndABadOneNamesTheField) {
  for (const char* rule : {"min", "min_div_10", "steepest", "valley"}) {
    auto s = ParseSweepSpec(absl::StrCat(
        "dataset: {synthetic: {}}\nschedule: {one_cycle: {max_lr: auto}}\nauto: {rule: ", rule,
        "}\n"));
    ASSERT_TRUE(s.ok()) << rule << ": " << s.status();
    EXPECT_STREQ(SuggestRuleName(s->auto_lr.rule), rule);
  }
  auto bad = ParseSweepSpec(
      "dataset: {synthetic: {}}\nschedule: {one_cycle: {max_lr: auto}}\nauto: {rule: vally}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("auto.rule"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("valley"));
}

TEST(SweepSpecTest, PrunerOptionsAndDefaults) {
  auto none = ParseSweepSpec("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->pruner.kind, PrunerSpec::Kind::kNone);

  auto median = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
pruner: {median: {startup_trials: 2, warmup_epochs: 1, interval: 3}}
)");
  ASSERT_TRUE(median.ok()) << median.status();
  EXPECT_EQ(median->pruner.kind, PrunerSpec::Kind::kMedian);
  EXPECT_EQ(median->pruner.startup_trials, 2);
  EXPECT_EQ(median->pruner.warmup_epochs, 1);
  EXPECT_EQ(median->pruner.interval, 3);

  auto asha = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
pruner: {asha: {min_epochs: 2, reduction_factor: 4}}
)");
  ASSERT_TRUE(asha.ok()) << asha.status();
  EXPECT_EQ(asha->pruner.kind, PrunerSpec::Kind::kAsha);
  EXPECT_EQ(asha->pruner.min_epochs, 2);
  EXPECT_EQ(asha->pruner.reduction_factor, 4);

  // A bare name takes every default.
  auto bare = ParseSweepSpec(
      "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n"
      "pruner: asha\n");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->pruner.kind, PrunerSpec::Kind::kAsha);
  EXPECT_EQ(bare->pruner.min_epochs, 1);
  EXPECT_EQ(bare->pruner.reduction_factor, 3);
  auto bare_median = ParseSweepSpec(
      "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n"
      "pruner: {median: {}}\n");
  ASSERT_TRUE(bare_median.ok()) << bare_median.status();
  EXPECT_EQ(bare_median->pruner.startup_trials, 5);
  EXPECT_EQ(bare_median->pruner.warmup_epochs, 0);
  EXPECT_EQ(bare_median->pruner.interval, 1);
}

TEST(SweepSpecTest, TooManyTrialsRejected) {
  auto s = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
random: {trials: 200000000, params: {momentum: {uniform: [0.1, 0.2]}}}
)");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expect;  // substring of the error: the field path and line
};

class BadSweepTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSweepTest, RejectedWithFieldPathAndLine) {
  auto s = ParseSweepSpec(GetParam().yaml);
  ASSERT_FALSE(s.ok()) << GetParam().name;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(GetParam().expect)) << GetParam().name;
}

#define HEAD "dataset: {synthetic: {}}\n"
INSTANTIATE_TEST_SUITE_P(
    All, BadSweepTest,
    ::testing::Values(
        BadCase{"unknown_field", HEAD "schedule: {constant: {lr: 0.1}}\ngird: {batch_size: [1]}\n",
                "gird (line 3): unknown field 'gird'"},
        BadCase{"unknown_grid_field", HEAD "schedule: {constant: {lr: 0.1}}\ngrid: {lr: [1]}\n",
                "grid.lr (line 3): unknown field"},
        BadCase{"empty_grid_list",
                HEAD "schedule: {constant: {lr: 0.1}}\ngrid:\n  weight_decay: []\n",
                "grid.weight_decay (line 4): must not be empty"},
        BadCase{"empty_grid_schedule", HEAD "grid:\n  schedule: []\n",
                "grid.schedule (line 3): must not be empty"},
        BadCase{"batch_size_zero",
                HEAD "schedule: {constant: {lr: 0.1}}\ngrid:\n  batch_size: [64, 0]\n",
                "grid.batch_size[1] (line 4): must be >= 1"},
        BadCase{"top_batch_size_zero", HEAD "schedule: {constant: {lr: 0.1}}\nbatch_size: 0\n",
                "batch_size (line 3): must be >= 1"},
        BadCase{
            "max_below_base",
            HEAD
            "grid:\n  schedule:\n    - {constant: {lr: 0.1}}\n"
            "    - cyclic:\n        base_lr: 0.5\n        max_lr: 0.1\n        step_size_up: 3\n",
            "grid.schedule[1].cyclic.max_lr (line 7): must be >= base_lr"},
        BadCase{"pct_start",
                HEAD
                "grid:\n  schedule:\n    - one_cycle:\n        max_lr: 1\n        pct_start: 1.5\n",
                "grid.schedule[0].one_cycle.pct_start (line 6): must be in (0, 1)"},
        BadCase{"unknown_schedule", HEAD "grid:\n  schedule:\n    - {warmup: {lr: 1}}\n",
                "grid.schedule[0].warmup (line 4): unknown schedule 'warmup'"},
        BadCase{
            "log_uniform_zero",
            HEAD "schedule: {constant: {lr: 0.1}}\nrandom:\n  trials: 3\n  params:\n"
                 "    weight_decay: {log_uniform: [0, 1e-2]}\n",
            "random.params.weight_decay.log_uniform[0] (line 6): log_uniform bounds must be > 0"},
        BadCase{"log_uniform_negative",
                HEAD "schedule: {constant: {lr: 0.1}}\nrandom: {trials: 3, params: {weight_decay: "
                     "{log_uniform: [1e-3, -1]}}}\n",
                "random.params.weight_decay.log_uniform[1] (line 3)"},
        BadCase{"unknown_distribution",
                HEAD "schedule: {constant: {lr: 0.1}}\nrandom: {trials: 3, params: {momentum: "
                     "{normal: [0, 1]}}}\n",
                "random.params.momentum.normal (line 3): unknown distribution"},
        BadCase{"unknown_random_param",
                HEAD "schedule: {constant: {lr: 0.1}}\nrandom: {trials: 3, params: {lr: {uniform: "
                     "[0, 1]}}}\n",
                "random.params.lr (line 3): unknown parameter"},
        BadCase{"no_schedule", HEAD "epochs: 3\n",
                "field 'schedule' (or grid.schedule) is required"},
        BadCase{"momentum_grid",
                HEAD "schedule: {constant: {lr: 0.1}}\ngrid: {momentum: [0.9, 1.5]}\n",
                "grid.momentum[1] (line 3): must be in [0, 1)"},
        BadCase{"bad_goal",
                HEAD "schedule: {constant: {lr: 0.1}}\nobjective: {metric: val_auc, goal: up}\n",
                "objective.goal (line 3): unknown value 'up'"},
        BadCase{"test_metric_objective",
                HEAD "schedule: {constant: {lr: 0.1}}\nobjective: {metric: test_accuracy}\n",
                "objective.metric (line 3): test_accuracy is the final model's test-split score"},
        BadCase{"bad_seeds", HEAD "schedule: {constant: {lr: 0.1}}\nseeds: []\n",
                "seeds (line 3): must not be empty"},
        BadCase{"bad_dataset", "dataset: {csv: {label: x}}\nschedule: {constant: {lr: 0.1}}\n",
                "dataset.csv"},
        BadCase{"bad_yaml", HEAD "grid: [\n", "line"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });
#undef HEAD

// Points on demand: any range of the expansion, alone, is that slice of the whole; a random
// sample depends on the seed and its number only; the last trial of a 10^7-trial grid is made
// without the ones before it; an invalid point fails for its own trials only.
TEST(SweepSpecTest, ExpandRangeIsASliceOfTheExpansion) {
  auto s = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
seeds: [1, 2]
validation: {folds: 3}
grid: {momentum: [0.8, 0.9], batch_size: [32, 64, 128]}
random: {trials: 4, seed: 11, params: {weight_decay: {log_uniform: [1e-6, 1e-2]}}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  auto all = ExpandSweep(*s);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(static_cast<int64_t>(all->size()), CountTrials(*s));
  ASSERT_EQ(all->size(), 2u * 3 * 4 * 2 * 3);
  for (int64_t begin : {0, 1, 5, 6, 47, 143}) {
    auto part = ExpandRange(*s, begin, begin + 7);
    ASSERT_EQ(part.size(), static_cast<size_t>(std::min<int64_t>(7, 144 - begin)));
    for (size_t i = 0; i < part.size(); ++i) {
      ASSERT_TRUE(part[i].ok()) << part[i].status();
      const ExpandedTrial& want = (*all)[static_cast<size_t>(begin) + i];
      EXPECT_EQ(part[i]->params, want.params) << begin + static_cast<int64_t>(i);
      EXPECT_EQ(ToJson(part[i]->spec), ToJson(want.spec)) << begin + static_cast<int64_t>(i);
    }
  }
  EXPECT_TRUE(ExpandRange(*s, 144, 200).empty());
  // Seeds and folds of one point share its sample; the next point draws another.
  EXPECT_EQ((*all)[0].spec.weight_decay, (*all)[5].spec.weight_decay);
  EXPECT_NE((*all)[0].spec.weight_decay, (*all)[6].spec.weight_decay);
}

TEST(SweepSpecTest, ExpandRangeMakesTheLastOfTenMillionTrialsAlone) {
  std::string momenta, decays, seeds;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&momenta, i ? ", " : "", 0.005 * i);
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&decays, i ? ", " : "", 1e-6 * (i + 1));
  for (int i = 0; i < 100; ++i) absl::StrAppend(&seeds, i ? ", " : "", i);
  auto s = ParseSweepSpec(
      absl::StrCat("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nseeds: [", seeds,
                   "]\ngrid: {momentum: [", momenta, "], weight_decay: [", decays, "]}\n"));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(CountTrials(*s), 10'000'000);
  auto last = ExpandRange(*s, 9'999'999, 10'000'000);
  ASSERT_EQ(last.size(), 1u);
  ASSERT_TRUE(last[0].ok()) << last[0].status();
  EXPECT_DOUBLE_EQ(last[0]->spec.momentum, 0.005 * 99);
  EXPECT_DOUBLE_EQ(last[0]->spec.weight_decay, 1e-6 * 1000);
  EXPECT_EQ(last[0]->spec.seed, 99u);
  // A sweep made whole at submit (auto LR) stays bounded.
  EXPECT_FALSE(ExpandSweep(*s).ok());
}

TEST(SweepSpecTest, HasAutoLrSeesTheBaseAndGridSchedules) {
  const std::string head = "dataset: {synthetic: {}}\n";
  auto none = ParseSweepSpec(head + "schedule: {constant: {lr: 0.1}}\n");
  auto base = ParseSweepSpec(head + "schedule: {one_cycle: {max_lr: auto}}\n");
  auto grid = ParseSweepSpec(
      head + "grid: {schedule: [{constant: {lr: 0.1}}, {one_cycle: {max_lr: auto}}]}\n");
  ASSERT_TRUE(none.ok() && base.ok() && grid.ok()) << grid.status();
  EXPECT_FALSE(HasAutoLr(*none));
  EXPECT_TRUE(HasAutoLr(*base));
  EXPECT_TRUE(HasAutoLr(*grid));
}

TEST(SweepSpecTest, ExpandRangeFailsAnInvalidPointAlone) {
  auto s = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {one_cycle: {max_lr: 0.1}}
seeds: [1, 2]
random: {trials: 3, params: {schedule.pct_start: {uniform: [1.2, 1.5]}}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  auto t = ExpandRange(*s, 0, 6);
  ASSERT_EQ(t.size(), 6u);
  for (const auto& e : t) {
    ASSERT_FALSE(e.ok());
    EXPECT_THAT(std::string(e.status().message()), HasSubstr("pct_start"));
  }
}

TEST(SweepSpecTest, InvalidSampledPointIsRejectedAtExpansion) {
  auto s = ParseSweepSpec(R"(
dataset: {synthetic: {}}
schedule: {one_cycle: {max_lr: 0.1}}
random: {trials: 3, params: {schedule.pct_start: {uniform: [1.2, 1.5]}}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  auto t = ExpandSweep(*s);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("pct_start"));
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

constexpr char kTpeSpec[] = R"(
dataset: {synthetic: {}}
model: {mlp: {hidden: [16]}}
epochs: 3
seeds: [0, 1]
validation: {folds: 3}
schedule: {one_cycle: {max_lr: 0.1}}
tpe:
  trials: 30
  seed: 4
  parallel: 3
  params:
    schedule.max_lr: {log_uniform: [0.001, 1]}
    batch_size: {int: [16, 128]}
    momentum: {choice: [0.8, 0.9]}
)";

TEST(SweepSpecTest, TpeParsesCountsAndExpandsOnePointAtATime) {
  auto s = ParseSweepSpec(kTpeSpec);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(IsTpe(*s));
  EXPECT_EQ(s->tpe.trials, 30);
  EXPECT_EQ(s->tpe.seed, 4u);
  EXPECT_EQ(s->tpe.parallel, 3);
  EXPECT_EQ(s->tpe.startup_trials, 10);
  ASSERT_EQ(s->tpe.params.size(), 3u);
  EXPECT_EQ(TrialsPerPoint(*s), 6);
  EXPECT_EQ(CountTrials(*s), 30 * 6);
  EXPECT_THAT(ExpandSweep(*s).status().message(), HasSubstr("proposed one by one"));
  auto point = ExpandTpePoint(*s, {0.05, 64, 1});
  ASSERT_TRUE(point.ok()) << point.status();
  ASSERT_EQ(point->size(), 6u);
  EXPECT_DOUBLE_EQ(std::get<OneCycleSchedule>((*point)[0].spec.schedule.kind).max_lr, 0.05);
  EXPECT_EQ((*point)[0].spec.batch_size, 64);
  EXPECT_DOUBLE_EQ((*point)[0].spec.momentum, 0.9);
  EXPECT_EQ((*point)[5].spec.seed, 1u);
  EXPECT_EQ((*point)[5].spec.validation.fold, 2);
  EXPECT_EQ(ExpandTpePoint(*s, {0.05, 64}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandTpePoint(*s, {0.05, 64, 2}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SweepSpecTest, TpeWithAutoLrCountsEachPointsRangeTestsAndRefusesAnInvalidCorner) {
  std::string text = kTpeSpec;
  text.replace(text.find("max_lr: 0.1"), 11, "max_lr: auto");
  text.erase(text.find("    schedule.max_lr:"), text.find("\n", text.find("    schedule.max_lr:")) +
                                                    1 - text.find("    schedule.max_lr:"));
  auto s = ParseSweepSpec(text);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(HasAutoLr(*s));
  EXPECT_EQ(CountTrials(*s), 30 * 6 + 30 * s->auto_lr.range_tests);
  std::string bad = kTpeSpec;
  bad.replace(bad.find("int: [16, 128]"), 14, "int: [0, 128]");  // batch_size 0 is no trial
  EXPECT_THAT(ParseSweepSpec(bad).status().message(), HasSubstr("tpe.params"));
}

}  // namespace
}  // namespace hypersweep
