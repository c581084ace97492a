// Our fused SGD must give torch.optim.SGD's updates (LibTorch's SGD is the same algorithm).
#include "worker/trainer/optimizer.h"

#include <sstream>

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

struct Case {
  double momentum, weight_decay;
  bool nesterov;
};

TEST(OptimizerTest, SgdMatchesLibTorchSgd) {
  for (const Case& c :
       {Case{0.9, 0, false}, Case{0.9, 1e-3, true}, Case{0, 1e-2, false}, Case{0.5, 0, true}}) {
    torch::manual_seed(1);
    auto a = torch::randn({7, 5}, torch::requires_grad());
    auto b = a.detach().clone().requires_grad_(true);
    OptimizerSpec spec;
    spec.nesterov = c.nesterov;
    Optimizer ours(spec, {a}, c.momentum, c.weight_decay);
    torch::optim::SGD theirs({b}, torch::optim::SGDOptions(0.1)
                                      .momentum(c.momentum)
                                      .weight_decay(c.weight_decay)
                                      .nesterov(c.nesterov));
    for (int step = 0; step < 6; ++step) {
      const double lr = 0.1 / (step + 1);
      ours.Set(lr, c.momentum);
      static_cast<torch::optim::SGDOptions&>(theirs.param_groups()[0].options()).lr(lr);
      auto target = torch::randn({7, 5});
      ours.ZeroGrad();
      (a - target).pow(2).sum().backward();
      ours.Step();
      theirs.zero_grad();
      (b - target).pow(2).sum().backward();
      theirs.step();
      ASSERT_TRUE(torch::allclose(a, b, 1e-6, 1e-7))
          << "step " << step << " momentum " << c.momentum;
    }
  }
}

TEST(OptimizerTest, MomentumBuffersSurviveSaveAndLoad) {
  auto p = torch::ones({3}, torch::requires_grad());
  OptimizerSpec spec;
  Optimizer opt(spec, {p}, 0.9, 0);
  opt.Set(0.1, 0.9);
  p.sum().backward();
  opt.Step();
  torch::serialize::OutputArchive out;
  opt.Save(out);
  std::stringstream buf;
  out.save_to(buf);
  auto q = p.detach().clone().requires_grad_(true);
  Optimizer restored(spec, {q}, 0.9, 0);
  torch::serialize::InputArchive in;
  in.load_from(buf);
  restored.Load(in);
  for (auto* o : {&opt, &restored}) o->Set(0.1, 0.9);
  opt.ZeroGrad();
  p.sum().backward();
  opt.Step();
  restored.ZeroGrad();
  q.sum().backward();
  restored.Step();
  EXPECT_TRUE(torch::equal(p, q));  // the second step used the restored momentum buffer
}

}  // namespace
}  // namespace hypersweep
