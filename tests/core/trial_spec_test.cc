#include "core/trial_spec.h"

#include "core/spec_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(
name: fmnist-1cycle
dataset: {fashion_mnist: {}}
model: {mlp: {hidden: [128, 128, 128, 128], activation: relu}}
optimizer: sgd
schedule: {one_cycle: {max_lr: 0.1, pct_start: 0.25, anneal_strategy: linear}}
momentum: 0.9
weight_decay: 1e-4
epochs: 5
batch_size: 256
seed: 3
)";

TEST(TrialSpecTest, ParsesAGoodSpec) {
  auto s = ParseTrialSpec(kGood);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "fmnist-1cycle");
  EXPECT_EQ(s->dataset.kind, DatasetSpec::Kind::kFashionMnist);
  EXPECT_EQ(s->dataset.root, kDefaultFashionMnistRoot);
  EXPECT_EQ(s->model.hidden.size(), 4u);
  EXPECT_EQ(s->epochs, 5);
  EXPECT_EQ(s->batch_size, 256);
  EXPECT_EQ(s->seed, 3u);
  EXPECT_DOUBLE_EQ(s->weight_decay, 1e-4);
  const auto& oc = std::get<OneCycleSchedule>(s->schedule.kind);
  EXPECT_DOUBLE_EQ(oc.max_lr, 0.1);
  EXPECT_DOUBLE_EQ(oc.pct_start, 0.25);
  EXPECT_EQ(oc.anneal_strategy, AnnealStrategy::kLinear);
}

TEST(TrialSpecTest, JsonRoundTrip) {
  auto s = ParseTrialSpec(kGood);
  ASSERT_TRUE(s.ok());
  const std::string json = ToJson(*s).dump();
  auto again = ParseTrialSpec(json);  // JSON is accepted as input too
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << json;
  EXPECT_EQ(ToJson(*again), ToJson(*s));
}

TEST(TrialSpecTest, CsvAndKFoldRoundTrip) {
  auto s = ParseTrialSpec(R"(
dataset: {csv: {path: /tmp/x.csv, label: Label, positive: s, weight: KaggleWeight,
                drop: [EventId, Weight, KaggleSet], missing: -999, normalize_weights: true}}
schedule: {cyclic: {base_lr: 0.01, max_lr: 0.3, step_size_up_epochs: 4, mode: triangular2}}
validation: {folds: 5, fold: 4}
optimizer: {adamw: {beta2: 0.99}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dataset.csv.drop.size(), 3u);
  EXPECT_TRUE(s->dataset.csv.has_missing);
  EXPECT_EQ(s->validation.kind, ValidationSpec::Kind::kKFold);
  EXPECT_EQ(s->validation.fold, 4);
  auto again = ParseTrialSpec(ToJson(*s).dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ToJson(*again), ToJson(*s));
}

TEST(TrialSpecTest, Hdf5RoundTripAndDefaults) {
  auto s = ParseTrialSpec(R"(
dataset: {hdf5: {path: /tmp/x.h5}}
schedule: {constant: {lr: 0.1}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dataset.kind, DatasetSpec::Kind::kHdf5);
  EXPECT_EQ(s->dataset.hdf5.inputs, "inputs");
  EXPECT_EQ(s->dataset.hdf5.targets, "targets");
  EXPECT_EQ(s->dataset.hdf5.weights, "");
  EXPECT_FALSE(s->dataset.hdf5.lumin_folds);
  auto lumin = ParseTrialSpec(R"(
dataset: {hdf5: {path: /tmp/train.hdf5, lumin_folds: true, inputs: x, targets: y, weights: w}}
schedule: {constant: {lr: 0.1}}
validation: {folds: 10, fold: 3}
)");
  ASSERT_TRUE(lumin.ok()) << lumin.status();
  EXPECT_TRUE(lumin->dataset.hdf5.lumin_folds);
  EXPECT_EQ(lumin->dataset.hdf5.weights, "w");
  for (const TrialSpec* t : {&*s, &*lumin}) {
    auto again = ParseTrialSpec(ToJson(*t).dump());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(ToJson(*again), ToJson(*t));
    EXPECT_EQ(again->dataset.hdf5.path, t->dataset.hdf5.path);
    EXPECT_EQ(again->dataset.hdf5.weights, t->dataset.hdf5.weights);
    EXPECT_EQ(again->dataset.hdf5.lumin_folds, t->dataset.hdf5.lumin_folds);
  }
}

TEST(TrialSpecTest, TorchScriptModelRoundTrip) {
  auto s = ParseTrialSpec(R"(
dataset: {synthetic: {}}
model: {torchscript: {path: models/residual.pt, init: glorot}}
schedule: {one_cycle: {max_lr: 0.1}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->model.kind, ModelSpec::Kind::kTorchScript);
  EXPECT_EQ(s->model.script_path, "models/residual.pt");
  EXPECT_EQ(s->model.script_init, ScriptInit::kGlorot);
  const nlohmann::json j = ToJson(*s);
  EXPECT_EQ(j["model"],
            nlohmann::json::parse(
                R"({"torchscript": {"path": "models/residual.pt", "init": "glorot"}})"));
  auto again = ParseTrialSpec(j.dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ToJson(*again), j);
  // The default is the file's own weights.
  auto d = ParseTrialSpec(R"(
dataset: {synthetic: {}}
model: {torchscript: {path: m.pt}}
schedule: {constant: {lr: 0.1}}
)");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->model.script_init, ScriptInit::kFile);
  EXPECT_EQ(ToJson(*d)["model"]["torchscript"]["init"], "file");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expect;  // substring of the error
};

class BadSpecTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSpecTest, RejectedWithFieldPath) {
  auto s = ParseTrialSpec(GetParam().yaml);
  ASSERT_FALSE(s.ok()) << GetParam().name;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(GetParam().expect)) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    All, BadSpecTest,
    ::testing::Values(
        BadCase{"unknown_top",
                "dataset: fashion_mnist\nschedule: {constant: {lr: 0.1}}\nlearning_rate: 3\n",
                "learning_rate (line 3): unknown field 'learning_rate'"},
        BadCase{
            "unknown_nested",
            "dataset: fashion_mnist\nmodel: {mlp: {hiden: [3]}}\nschedule: {constant: {lr: 0.1}}\n",
            "model.mlp.hiden (line 2): unknown field"},
        BadCase{"batch_zero",
                "dataset: fashion_mnist\nschedule: {constant: {lr: 0.1}}\nbatch_size: 0\n",
                "batch_size (line 3): must be >= 1"},
        BadCase{"lr_zero", "dataset: fashion_mnist\nschedule:\n  constant: {lr: 0}\n",
                "schedule.constant.lr (line 3): must be > 0"},
        BadCase{"lr_negative", "dataset: fashion_mnist\nschedule: {one_cycle: {max_lr: -1}}\n",
                "schedule.one_cycle.max_lr"},
        BadCase{
            "pct_start",
            "dataset: fashion_mnist\nschedule:\n  one_cycle:\n    max_lr: 1\n    pct_start: 1.5\n",
            "schedule.one_cycle.pct_start (line 5): must be in (0, 1)"},
        BadCase{"max_below_base",
                "dataset: fashion_mnist\nschedule: {cyclic: {base_lr: 0.5, max_lr: 0.1, "
                "step_size_up: 3}}\n",
                "schedule.cyclic.max_lr"},
        BadCase{"unknown_schedule", "dataset: fashion_mnist\nschedule: {warmup: {lr: 1}}\n",
                "unknown schedule 'warmup'"},
        BadCase{"missing_step_size",
                "dataset: fashion_mnist\nschedule: {cyclic: {base_lr: 0.1, max_lr: 1}}\n",
                "schedule.cyclic.step_size_up (line 2): required"},
        BadCase{"auto_in_trial", "dataset: fashion_mnist\nschedule: {one_cycle: {max_lr: auto}}\n",
                "schedule.one_cycle.max_lr"},
        BadCase{"not_number", "dataset: fashion_mnist\nschedule: {constant: {lr: fast}}\n",
                "expected a number, got 'fast'"},
        BadCase{"no_dataset", "schedule: {constant: {lr: 0.1}}\n", "field 'dataset' is required"},
        BadCase{"no_schedule", "dataset: fashion_mnist\n", "field 'schedule' is required"},
        BadCase{"bad_yaml", "dataset: [fashion_mnist\n", "not valid YAML/JSON"},
        BadCase{"momentum",
                "dataset: fashion_mnist\nschedule: {constant: {lr: 0.1}}\nmomentum: 1.2\n",
                "momentum (line 3): must be in [0, 1)"},
        BadCase{"fold_range",
                "dataset: fashion_mnist\nschedule: {constant: {lr: 0.1}}\nvalidation: {folds: 3, "
                "fold: 3}\n",
                "validation.fold"},
        BadCase{"csv_no_path", "dataset: {csv: {label: y}}\nschedule: {constant: {lr: 0.1}}\n",
                "dataset.csv (line 1): field 'path' is required"},
        BadCase{"hdf5_no_path", "dataset: {hdf5: {inputs: x}}\nschedule: {constant: {lr: 0.1}}\n",
                "dataset.hdf5 (line 1): field 'path' is required"},
        BadCase{"hdf5_empty_inputs",
                "dataset: {hdf5: {path: a.h5, inputs: ''}}\nschedule: {constant: {lr: 0.1}}\n",
                "dataset.hdf5.inputs (line 1): must not be empty"},
        BadCase{"hdf5_unknown_field",
                "dataset: {hdf5: {path: a.h5, label: y}}\nschedule: {constant: {lr: 0.1}}\n",
                "dataset.hdf5.label (line 1): unknown field"},
        BadCase{"hdf5_lumin_not_bool",
                "dataset: {hdf5: {path: a.h5, lumin_folds: maybe}}\nschedule: {constant: {lr: "
                "0.1}}\n",
                "dataset.hdf5.lumin_folds"},
        BadCase{"hdf5_test_split",
                "dataset: {hdf5: {path: a.h5}}\nschedule: {constant: {lr: 0.1}}\nvalidation: "
                "{test_split: true}\n",
                "validation.test_split (line 3): the hdf5 dataset has no test split"},
        BadCase{"activation",
                "dataset: fashion_mnist\nmodel: {mlp: {activation: gelu}}\nschedule: {constant: "
                "{lr: 0.1}}\n",
                "model.mlp.activation (line 2): unknown value 'gelu'"},
        BadCase{"hidden_zero",
                "dataset: fashion_mnist\nmodel: {mlp: {hidden: [4, 0]}}\nschedule: {constant: {lr: "
                "0.1}}\n",
                "model.mlp.hidden[1]"},
        BadCase{"both_step_forms",
                "dataset: fashion_mnist\nschedule: {cosine_restarts: {max_lr: 1, t_0: 3, "
                "t_0_epochs: 1}}\n",
                "give either t_0 or t_0_epochs"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(TrialSpecTest, AutoAllowedForSweeps) {
  ParseOptions o;
  o.allow_auto = true;
  auto s = ParseTrialSpec("dataset: fashion_mnist\nschedule: {one_cycle: {max_lr: auto}}\n", o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->schedule.auto_fields, std::vector<std::string>{"max_lr"});
  EXPECT_EQ(ToJson(s->schedule)["one_cycle"]["max_lr"], "auto");
}

TEST(TrialSpecTest, MissingFileNamesIt) {
  auto s = LoadTrialSpecFile("/nonexistent/trial.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("/nonexistent/trial.yaml"));
}

TEST(CheckUtf8Test, AcceptsWellFormedAndNamesTheFirstBadByte) {
  EXPECT_TRUE(CheckUtf8("plain ascii", "spec").ok());
  EXPECT_TRUE(CheckUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "spec").ok());
  // Lone continuation byte, truncated sequence, overlong '/', UTF-16 surrogate, above U+10FFFF.
  for (const char* bad : {"a\xA8", "a\xC3", "a\xC0\xAF", "a\xED\xA0\x80", "a\xF4\x90\x80\x80"}) {
    const absl::Status s = CheckUtf8(bad, "spec");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr("line 1, column 2")) << s;
  }
  EXPECT_THAT(std::string(CheckUtf8("ok\nname: f\xA8nist", "trial spec").message()),
              HasSubstr("trial spec (line 2, column 8): not valid UTF-8 (byte 0xA8)"));
}

TEST(TrialSpecTest, RejectsNonUtf8NameBeforeItCanReachJson) {
  std::string text = kGood;
  text.replace(text.find("fmnist-1cycle"), 1, "\xA8");
  auto s = ParseTrialSpec(text);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("not valid UTF-8"));
}

}  // namespace
}  // namespace hypersweep
