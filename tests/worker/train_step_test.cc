// The shared training step and batch order (train_step.h) and the loss (loss.h): the contracts the
// epoch loop and the LR range test rely on.
#include "worker/trainer/train_step.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "worker/trainer/loss.h"

namespace hypersweep {
namespace {

// 10 rows of 4 features, 3 classes, and a small MLP for them.
struct Fixture {
  SplitData split;
  Net model{nullptr};
};

Fixture MakeFixture() {
  torch::manual_seed(0);
  Fixture f;
  f.split.train.x = torch::randn({10, 4});
  f.split.train.y = torch::randint(0, 3, {10}, torch::kInt64);
  f.split.num_classes = 3;
  ModelSpec spec;
  spec.hidden = {8};
  auto model = BuildModel(spec, {4}, 3);
  EXPECT_TRUE(model.ok()) << model.status();
  f.model = *model;
  f.model->train();
  return f;
}

std::vector<torch::Tensor> Snapshot(Net& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

bool SameParameters(Net& model, const std::vector<torch::Tensor>& before) {
  auto now = model->parameters();
  for (size_t i = 0; i < now.size(); ++i) {
    if (!torch::equal(now[i], before[i])) return false;
  }
  return true;
}

TEST(TrainStepTest, EpochOrderIsAReproduciblePermutationPerEpoch) {
  const torch::Tensor a = EpochOrder(7, 3, 100, torch::kCPU);
  EXPECT_TRUE(torch::equal(std::get<0>(a.sort()), torch::arange(100, torch::kInt64)));
  EXPECT_TRUE(torch::equal(a, EpochOrder(7, 3, 100, torch::kCPU)));
  EXPECT_FALSE(torch::equal(a, EpochOrder(7, 4, 100, torch::kCPU)));
  EXPECT_FALSE(torch::equal(a, EpochOrder(8, 3, 100, torch::kCPU)));
}

TEST(TrainStepTest, EpochOrderLeavesTheDefaultRngAlone) {
  torch::manual_seed(11);
  const torch::Tensor expected = torch::rand({4});
  torch::manual_seed(11);
  EpochOrder(7, 3, 100, torch::kCPU);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
}

TEST(TrainStepTest, SeedEpochDependsOnSeedAndEpochOnly) {
  SeedEpoch(7, 3);
  const torch::Tensor a = torch::rand({4});
  torch::rand({100});  // whatever happened before does not matter
  SeedEpoch(7, 3);
  EXPECT_TRUE(torch::equal(torch::rand({4}), a));
  SeedEpoch(7, 4);
  EXPECT_FALSE(torch::equal(torch::rand({4}), a));
}

TEST(TrainStepTest, BatchesCoverTheOrderOnceWithAShortLastBatch) {
  const torch::Tensor order = EpochOrder(1, 0, 10, torch::kCPU);
  std::vector<torch::Tensor> batches;
  for (int64_t b = 0; b < 3; ++b) batches.push_back(BatchRows(order, b, 4));
  EXPECT_EQ(batches[0].size(0), 4);
  EXPECT_EQ(batches[1].size(0), 4);
  EXPECT_EQ(batches[2].size(0), 2);
  EXPECT_TRUE(torch::equal(torch::cat(batches), order));
}

TEST(TrainStepTest, ReturnsTheLossBeforeTheStepAndUpdatesTheModel) {
  Fixture f = MakeFixture();
  const torch::Tensor rows = torch::arange(6, torch::kInt64);
  double expected;
  {
    torch::NoGradGuard no_grad;
    expected = Loss(f.model->forward(f.split.train.x.index_select(0, rows)),
                    f.split.train.y.index_select(0, rows), torch::Tensor(), false)
                   .item<double>();
  }
  Optimizer opt(OptimizerSpec{}, f.model->parameters(), 0.9, 0);
  const auto before = Snapshot(f.model);
  EXPECT_EQ(TrainStep(f.model, opt, f.split, rows, 0.1, 0.9), expected);
  EXPECT_FALSE(SameParameters(f.model, before));
}

TEST(TrainStepTest, NonFiniteLossTakesNoStep) {
  Fixture f = MakeFixture();
  f.split.train_loss_w = torch::ones({10});
  f.split.train_loss_w[2] = std::numeric_limits<float>::infinity();  // loss inf / inf: NaN
  Optimizer opt(OptimizerSpec{}, f.model->parameters(), 0.9, 0);
  const auto before = Snapshot(f.model);
  const double loss = TrainStep(f.model, opt, f.split, torch::arange(4, torch::kInt64), 0.1, 0.9);
  EXPECT_TRUE(std::isnan(loss));
  EXPECT_TRUE(SameParameters(f.model, before));
}

TEST(LossTest, WeightsGiveTheWeightedMeanOfPerRowLosses) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({5, 3});
  const torch::Tensor y = torch::tensor({0, 2, 1, 1, 0}, torch::kInt64);
  const torch::Tensor w = torch::tensor({1.0f, 2.0f, 0.5f, 0.0f, 3.0f});
  const torch::Tensor per_row = torch::nn::functional::cross_entropy(
      logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  EXPECT_NEAR(Loss(logits, y, w, false).item<double>(),
              ((per_row * w).sum() / w.sum()).item<double>(), 1e-6);
  EXPECT_NEAR(Loss(logits, y, torch::ones({5}), false).item<double>(),
              Loss(logits, y, torch::Tensor(), false).item<double>(), 1e-6);
}

TEST(LossTest, BinaryUsesOneLogitPerRow) {
  const torch::Tensor logits = torch::tensor({{0.0f}, {2.0f}});
  const torch::Tensor y = torch::tensor({1, 0}, torch::kInt64);
  // BCE with logits: -log(sigmoid(0)) and -log(1 - sigmoid(2)), averaged.
  const double expected = (std::log(2.0) + std::log1p(std::exp(2.0))) / 2;
  EXPECT_NEAR(Loss(logits, y, torch::Tensor(), true).item<double>(), expected, 1e-6);
}

}  // namespace
}  // namespace hypersweep
