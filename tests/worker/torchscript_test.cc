// TorchScript models (model: {torchscript: {path: F}}): trained like the built-in networks through
// the public trainer API, and checked through BuildModel. The .pt fixtures are committed; they are
// made by tests/data/torchscript/make_fixtures.py (python3-torch is not needed to run this test).
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"
#include "worker/trainer/model.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace {

using ::hypersweep::testing::RecordingSink;
using ::hypersweep::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Fixture(const std::string& name) {
  return std::string(HYPERSWEEP_SOURCE_DIR) + "/tests/data/torchscript/" + name;
}

// Three classes of 12 features (the fixtures' input width); `model` is the torchscript map body.
TrialSpec Spec(const std::string& model, const std::string& extra = "", int classes = 3,
               int features = 12) {
  auto s = ParseTrialSpec(
      "dataset: {synthetic: {samples: 800, features: " + std::to_string(features) +
      ", classes: " + std::to_string(classes) + ", noise: 0.3}}\nmodel: {torchscript: " + model +
      "}\n"
      "schedule: {one_cycle: {max_lr: 0.1}}\n"
      "epochs: 3\nbatch_size: 32\nvalidation: {holdout: 0.2}\n" +
      extra);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TrialSpec Residual(const std::string& extra = "") {
  return Spec("{path: " + Fixture("residual_mlp3.pt") + "}", extra);
}

std::vector<double> Numbers(const std::vector<EpochMetrics>& es) {
  std::vector<double> out;
  for (const auto& e : es) {
    for (const char* name : {metrics::kTrainLoss, metrics::kValLoss, metrics::kValAccuracy,
                             metrics::kLr, metrics::kMomentum, metrics::kSteps}) {
      out.push_back(e.Get(name));
    }
  }
  return out;
}

TrainOptions OneThread() {
  TrainOptions o;
  o.threads = 1;
  return o;
}

TEST(TorchScriptTest, ScriptedResidualMlpTrainsAndItsLossFalls) {
  RecordingSink sink;
  auto r = TrainTrial(Residual(), OneThread(), &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, TrialOutcome::kSucceeded);
  ASSERT_EQ(sink.epochs.size(), 3u);
  EXPECT_LT(sink.epochs.back().Get(metrics::kTrainLoss),
            0.8 * sink.epochs.front().Get(metrics::kTrainLoss));
  EXPECT_GT(sink.epochs.back().Get(metrics::kValAccuracy), 0.6);  // chance is ~0.33
  // 1cycle with cycled momentum reaches the module's parameters like a built-in's.
  EXPECT_LT(sink.epochs.front().Get(metrics::kMomentum), 0.95);
}

TEST(TorchScriptTest, TracedBinaryModelWithOneLogitPerRowTrains) {
  RecordingSink sink;
  auto r =
      TrainTrial(Spec("{path: " + Fixture("one_logit_traced.pt") + "}", "", 2), OneThread(), &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(sink.epochs.size(), 3u);
  EXPECT_LT(sink.epochs.back().Get(metrics::kTrainLoss),
            sink.epochs.front().Get(metrics::kTrainLoss));
  EXPECT_TRUE(std::isfinite(sink.epochs.back().Get(metrics::kValAuc)));  // binary metrics
  EXPECT_GT(sink.epochs.back().Get(metrics::kValAuc), 0.7);
}

TEST(TorchScriptTest, SameSeedSameMetricsAndTheSeedChangesDropoutAndOrder) {
  RecordingSink a, b, c;
  ASSERT_TRUE(TrainTrial(Residual(), OneThread(), &a).ok());
  ASSERT_TRUE(TrainTrial(Residual(), OneThread(), &b).ok());
  ASSERT_TRUE(TrainTrial(Residual("seed: 9\n"), OneThread(), &c).ok());
  EXPECT_EQ(Numbers(a.epochs), Numbers(b.epochs));
  EXPECT_NE(Numbers(a.epochs), Numbers(c.epochs));
}

TEST(TorchScriptTest, ResumeAfterStopMatchesUninterruptedRun) {
  TempDir dir;
  for (const std::string fixture : {"residual_mlp3.pt", "one_logit_traced.pt"}) {
    SCOPED_TRACE(fixture);
    const int classes = fixture == "one_logit_traced.pt" ? 2 : 3;
    const TrialSpec spec = Spec("{path: " + Fixture(fixture) + "}", "", classes);
    RecordingSink full;
    ASSERT_TRUE(TrainTrial(spec, OneThread(), &full).ok());
    // 640 training rows: 20 batches an epoch. Stop mid-epoch 1 (the RNG state and partial sums
    // are restored) and at the start of epoch 2.
    for (int stop_after : {20 + 7, 2 * 20}) {
      SCOPED_TRACE(stop_after);
      TrainOptions first = OneThread();
      first.checkpoint_path = dir.File(fixture + "-" + std::to_string(stop_after) + ".ckpt");
      int polls = 0;
      first.should_stop = [&] { return polls++ == stop_after; };
      RecordingSink part1;
      auto r1 = TrainTrial(spec, first, &part1);
      ASSERT_TRUE(r1.ok()) << r1.status();
      ASSERT_EQ(r1->outcome, TrialOutcome::kStopped);

      TrainOptions second = OneThread();
      second.checkpoint_path = first.checkpoint_path;
      second.resume = true;
      RecordingSink part2;
      auto r2 = TrainTrial(spec, second, &part2);
      ASSERT_TRUE(r2.ok()) << r2.status();
      ASSERT_FALSE(part2.logs.empty());
      EXPECT_THAT(part2.logs.front(), HasSubstr("resumed from checkpoint"));
      std::vector<EpochMetrics> joined = part1.epochs;
      joined.insert(joined.end(), part2.epochs.begin(), part2.epochs.end());
      EXPECT_EQ(Numbers(joined), Numbers(full.epochs));
    }
  }
}

TEST(TorchScriptTest, TrainAndEvalReachTheScriptedModule) {
  torch::manual_seed(0);
  ModelSpec spec;
  spec.kind = ModelSpec::Kind::kTorchScript;
  spec.script_path = Fixture("residual_mlp3.pt");
  auto net = BuildModel(spec, {12}, 3);
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_TRUE((*net)->is_training());
  const torch::Tensor x = torch::randn({64, 12});
  torch::NoGradGuard no_grad;
  // Training mode: dropout (p = 0.5) draws a new mask each call.
  EXPECT_FALSE(torch::equal((*net)->forward(x), (*net)->forward(x)));
  (*net)->eval();
  EXPECT_TRUE(torch::equal((*net)->forward(x), (*net)->forward(x)));
  (*net)->train();
  EXPECT_FALSE(torch::equal((*net)->forward(x), (*net)->forward(x)));
}

TEST(TorchScriptTest, RegisteredParametersAreTheModulesOwn) {
  ModelSpec spec;
  spec.kind = ModelSpec::Kind::kTorchScript;
  spec.script_path = Fixture("residual_mlp3.pt");
  auto net = BuildModel(spec, {12}, 3);
  ASSERT_TRUE(net.ok()) << net.status();
  (*net)->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({8, 12});
  const torch::Tensor before = (*net)->forward(x);
  EXPECT_EQ((*net)->parameters().size(), 6u);  // three layers' weights and biases
  for (auto& p : (*net)->named_parameters()) {
    EXPECT_THAT(p.key(), Not(HasSubstr(".")));
    p.value().add_(0.5);  // what an optimizer does, in place
  }
  EXPECT_FALSE(torch::equal(before, (*net)->forward(x)));
}

TEST(TorchScriptTest, InitFileKeepsTheFilesWeightsAndHeDrawsFromTheSeed) {
  ModelSpec spec;
  spec.kind = ModelSpec::Kind::kTorchScript;
  spec.script_path = Fixture("residual_mlp3.pt");
  auto weights = [&](uint64_t seed) {
    torch::manual_seed(seed);
    auto net = BuildModel(spec, {12}, 3);
    EXPECT_TRUE(net.ok()) << net.status();
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : (*net)->named_parameters()) out[p.key()] = p.value().clone();
    return out;
  };
  auto f1 = weights(1), f2 = weights(2);
  for (const auto& [name, t] : f1) EXPECT_TRUE(torch::equal(t, f2[name])) << name;
  spec.script_init = ScriptInit::kHe;
  auto h1 = weights(1), h1b = weights(1), h2 = weights(2);
  EXPECT_TRUE(torch::equal(h1["inp_weight"], h1b["inp_weight"]));
  EXPECT_FALSE(torch::equal(h1["inp_weight"], h2["inp_weight"]));
  EXPECT_FALSE(torch::equal(h1["inp_weight"], f1["inp_weight"]));
  EXPECT_EQ(h1["inp_bias"].abs().sum().item<double>(), 0.0);
  // He for ReLU: std sqrt(2 / fan_in); the block takes 32 inputs.
  EXPECT_NEAR(h1["block_weight"].std().item<double>(), std::sqrt(2.0 / 32), 0.03);
}

// Every refusal is INVALID_ARGUMENT (a user error: exit 2, FAILED as USER_ERROR) with its reason.
void ExpectUserError(const TrialSpec& spec, const std::string& reason,
                     const TrainOptions& o = OneThread()) {
  RecordingSink sink;
  auto r = TrainTrial(spec, o, &sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("model.torchscript"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(reason));
  EXPECT_TRUE(sink.epochs.empty());
}

TEST(TorchScriptTest, BadFilesAreUserErrorsThatNeverQuoteTheFile) {
  TempDir dir;
  const std::string junk = dir.File("junk.pt");
  hypersweep::testing::WriteFile(junk, "PK\x03\x04 secret-token-in-the-file");
  ExpectUserError(Spec("{path: " + junk + "}"), "is not a TorchScript module");
  RecordingSink sink;
  auto r = TrainTrial(Spec("{path: " + junk + "}"), OneThread(), &sink);
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("secret-token")));

  ExpectUserError(Spec("{path: " + dir.File("missing.pt") + "}"), "not a readable regular file");
  ExpectUserError(Spec("{path: " + dir.path() + "}"), "not a readable regular file");
  TrainOptions small = OneThread();
  small.data_limits.max_bytes = 1000;
  ExpectUserError(Residual(), "above the worker's limit of 1000 bytes", small);
}

TEST(TorchScriptTest, ModulesThatDoNotFitTheTaskAreUserErrors) {
  ExpectUserError(Spec("{path: " + Fixture("residual_mlp5.pt") + "}"),
                  "forward returns [2, 5] for a batch of 2; this task needs [batch, 3]");
  // Three classes from a one-logit module.
  ExpectUserError(Spec("{path: " + Fixture("one_logit_traced.pt") + "}"), "needs [batch, 3]");
  // Binary data, three logits.
  ExpectUserError(Spec("{path: " + Fixture("residual_mlp3.pt") + "}", "", 2),
                  "needs [batch] or [batch, 1]");
  // Rows of 8 features for a module that takes 12.
  ExpectUserError(Spec("{path: " + Fixture("residual_mlp3.pt") + "}", "", 3, 8),
                  "forward of a float [2, 8] batch failed");
  ExpectUserError(Spec("{path: " + Fixture("no_parameters.pt") + "}"),
                  "the module has no trainable parameters");
}

TEST(TorchScriptTest, LrRangeTestRunsOnAScriptedModel) {
  RecordingSink sink;
  auto r = RunLrRangeTest(Residual(), OneThread(), &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->curve.size(), 10u);
}

}  // namespace
}  // namespace hypersweep
