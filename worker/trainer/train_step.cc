#include "worker/trainer/train_step.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "worker/trainer/loss.h"

namespace hypersweep {
namespace {

// What a derived seed is for: distinct salts give independent streams for the same epoch.
constexpr uint64_t kOrderSalt = 1;
constexpr uint64_t kDropoutSalt = 2;

// A seed derived from the trial seed, the epoch and a salt (splitmix64 finaliser), non-negative
// so that it is a valid torch seed.
uint64_t MixSeed(uint64_t seed, int64_t epoch, uint64_t salt) {
  uint64_t z =
      seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ULL + salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

}  // namespace

void SeedEpoch(uint64_t seed, int64_t epoch) {
  torch::manual_seed(MixSeed(seed, epoch, kDropoutSalt));
}

torch::Tensor EpochOrder(uint64_t seed, int64_t epoch, int64_t rows, const torch::Device& device) {
  auto gen = at::detail::createCPUGenerator(MixSeed(seed, epoch, kOrderSalt));
  return torch::randperm(rows, gen, torch::TensorOptions().dtype(torch::kInt64)).to(device);
}

torch::Tensor BatchRows(const torch::Tensor& order, int64_t batch, int64_t batch_size) {
  const int64_t start = batch * batch_size;
  return order.narrow(0, start, std::min(batch_size, order.size(0) - start));
}

double TrainStep(Net& model, Optimizer& optimizer, const SplitData& split,
                 const torch::Tensor& rows, double lr, double momentum) {
  const Table& train = split.train;
  torch::Tensor x = train.x.index_select(0, rows);
  torch::Tensor y = train.y.index_select(0, rows);
  torch::Tensor w;
  if (split.train_loss_w.defined()) w = split.train_loss_w.index_select(0, rows);
  optimizer.Set(lr, momentum);
  optimizer.ZeroGrad();
  torch::Tensor loss = Loss(model->forward(x), y, w, split.binary);
  const double value = loss.item<double>();
  if (std::isfinite(value)) {
    loss.backward();
    optimizer.Step();
  }
  return value;
}

}  // namespace hypersweep
