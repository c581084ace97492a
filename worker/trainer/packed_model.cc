#include "worker/trainer/packed_model.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>

namespace hypersweep {
namespace {

// A twin's parameter (or a state tensor of its shape) as one slice of the packed tensor: a
// Linear weight [out, in] becomes [in, out] (the right operand of bmm), a bias [out] becomes
// [1, out] (broadcast over the batch by baddbmm).
torch::Tensor ToSlice(const torch::Tensor& t) { return t.dim() == 2 ? t.t() : t.unsqueeze(0); }
torch::Tensor FromSlice(const torch::Tensor& s, int64_t twin_dim) {
  return twin_dim == 2 ? s.t() : s.squeeze(0);
}

torch::Tensor Stack(std::vector<torch::Tensor> slices) { return torch::stack(slices).contiguous(); }

// The activation step of model.cc's AddActivation, on [K, B, width].
torch::Tensor Activate(torch::Tensor x, Activation a) {
  switch (a) {
    case Activation::kRelu:
      return x.relu_();  // as model.cc: baddbmm keeps no output for its backward
    case Activation::kSelu:
      return torch::selu(x);
    case Activation::kElu:
      return torch::elu(x);
    case Activation::kTanh:
      return torch::tanh(x);
    case Activation::kSilu:
      return torch::silu(x);
  }
  return x;
}

// Per-slot values as a [K, 1, 1] float tensor on `like`'s device (broadcast over each slice).
torch::Tensor PerSlot(const std::vector<double>& v, const torch::Tensor& like) {
  std::vector<float> f(v.begin(), v.end());
  return torch::tensor(f, torch::TensorOptions().dtype(torch::kFloat32))
      .view({static_cast<int64_t>(f.size()), 1, 1})
      .to(like.device());
}

std::string StateKey(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

}  // namespace

PackedMlp::PackedMlp(const std::vector<Net>& nets, const std::vector<Optimizer*>& optimizers,
                     const OptimizerSpec& optimizer, Activation activation)
    : adamw_(optimizer.kind == OptimizerSpec::Kind::kAdamW),
      nesterov_(optimizer.nesterov),
      beta2_(optimizer.beta2),
      eps_(optimizer.eps),
      activation_(activation) {
  torch::NoGradGuard no_grad;
  const size_t k_count = nets.size();
  std::vector<std::vector<torch::Tensor>> twin_params;
  for (const Net& n : nets) twin_params.push_back(n->parameters());
  const size_t n_params = twin_params[0].size();
  for (size_t i = 0; i < n_params; ++i) {
    std::vector<torch::Tensor> ps, bufs, m, v;
    for (size_t k = 0; k < k_count; ++k) {
      const torch::Tensor& p = twin_params[k][i];
      ps.push_back(ToSlice(p));
      const torch::Tensor zeros = torch::zeros_like(ToSlice(p)).contiguous();
      if (!adamw_) {
        // No buffers yet (no step with momentum): zeros, since momentum * 0 + g == g exactly,
        // which is the unpacked optimizer's first buffer.
        auto& b = optimizers[k]->momentum_buffers();
        bufs.push_back(b.size() == n_params ? ToSlice(b[i]) : zeros);
        continue;
      }
      auto& state = optimizers[k]->adamw()->state();
      auto it = state.find(StateKey(p));
      if (it == state.end()) {
        m.push_back(zeros);
        v.push_back(zeros);
        if (i == 0) adam_steps_.push_back(0);
      } else {
        auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
        m.push_back(ToSlice(s.exp_avg()));
        v.push_back(ToSlice(s.exp_avg_sq()));
        if (i == 0) adam_steps_.push_back(s.step());
      }
    }
    params_.push_back(Stack(ps).requires_grad_(true));
    if (!adamw_) {
      buf_.push_back(Stack(bufs));
    } else {
      exp_avg_.push_back(Stack(m));
      exp_avg_sq_.push_back(Stack(v));
    }
  }
}

torch::Tensor PackedMlp::Forward(const torch::Tensor& x) const {
  torch::Tensor h = x.dim() > 3 ? x.flatten(2) : x;
  for (size_t i = 0; i + 1 < params_.size(); i += 2) {
    h = torch::baddbmm(params_[i + 1], h, params_[i]);
    if (i + 2 < params_.size()) h = Activate(h, activation_);
  }
  return h;
}

void PackedMlp::ZeroGrad() {
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
}

void PackedMlp::Step(const std::vector<SlotStep>& steps) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& like = params_[0];
  std::vector<double> lr, neg_lr, mom, wd;
  bool any_wd = false, any_m0 = false, all_m0 = true;
  for (const SlotStep& s : steps) {
    lr.push_back(s.lr);
    neg_lr.push_back(-s.lr);
    mom.push_back(s.momentum);
    wd.push_back(s.weight_decay);
    any_wd |= s.weight_decay != 0;
    any_m0 |= s.momentum == 0;
    all_m0 &= s.momentum == 0;
  }
  if (!adamw_) {
    // Optimizer::Step (SGD): g += wd p; buf = momentum buf + g; p -= lr (nesterov ? g + momentum
    // buf : buf); a slot whose momentum is 0 at this step takes p -= lr g and leaves its buffer.
    const torch::Tensor neg_lr_t = PerSlot(neg_lr, like);
    const torch::Tensor mom_t = PerSlot(mom, like);
    const torch::Tensor wd_t = any_wd ? PerSlot(wd, like) : torch::Tensor();
    torch::Tensor m0_t;
    if (any_m0 && !all_m0) m0_t = (mom_t == 0);
    for (size_t i = 0; i < params_.size(); ++i) {
      torch::Tensor p = params_[i];
      torch::Tensor g = p.grad();
      if (!g.defined()) continue;
      if (any_wd) g = g.addcmul(wd_t, p);
      if (all_m0) {
        p.addcmul_(neg_lr_t, g);
        continue;
      }
      torch::Tensor& buf = buf_[i];
      torch::Tensor update;
      if (!any_m0) {
        buf.mul_(mom_t).add_(g);
        update = nesterov_ ? g.addcmul(mom_t, buf) : buf;
      } else {
        buf.copy_(torch::where(m0_t, buf, buf * mom_t + g));
        update = torch::where(m0_t, g, nesterov_ ? g.addcmul(mom_t, buf) : buf);
      }
      p.addcmul_(neg_lr_t, update);
    }
    return;
  }
  // LibTorch's AdamW::step: p *= 1 - lr wd; m = beta1 m + (1 - beta1) g;
  // v = beta2 v + (1 - beta2) g g; p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), with the
  // bias corrections bc = 1 - beta^step of each slot's own step count and beta1.
  std::vector<double> decay, b1, omb1, sqrt_bc2, neg_step;
  for (size_t k = 0; k < steps.size(); ++k) {
    const int64_t t = ++adam_steps_[k];
    const double beta1 = steps[k].momentum;
    decay.push_back(1 - steps[k].lr * steps[k].weight_decay);
    b1.push_back(beta1);
    omb1.push_back(1 - beta1);
    sqrt_bc2.push_back(std::sqrt(1 - std::pow(beta2_, static_cast<double>(t))));
    neg_step.push_back(-steps[k].lr / (1 - std::pow(beta1, static_cast<double>(t))));
  }
  const torch::Tensor decay_t = any_wd ? PerSlot(decay, like) : torch::Tensor();
  const torch::Tensor b1_t = PerSlot(b1, like), omb1_t = PerSlot(omb1, like);
  const torch::Tensor sqrt_bc2_t = PerSlot(sqrt_bc2, like), neg_step_t = PerSlot(neg_step, like);
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor p = params_[i];
    const torch::Tensor g = p.grad();
    if (!g.defined()) continue;
    if (any_wd) p.mul_(decay_t);
    exp_avg_[i].mul_(b1_t).addcmul_(g, omb1_t);
    exp_avg_sq_[i].mul_(beta2_).addcmul_(g, g, 1 - beta2_);
    const torch::Tensor denom = (exp_avg_sq_[i].sqrt() / sqrt_bc2_t).add_(eps_);
    p.addcmul_(neg_step_t, exp_avg_[i] / denom);
  }
}

void PackedMlp::CopyToTwin(int64_t slot, Net& net, Optimizer& optimizer) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> ps = net->parameters();
  for (size_t i = 0; i < ps.size(); ++i) ps[i].copy_(FromSlice(params_[i][slot], ps[i].dim()));
  if (!adamw_) {
    auto& bufs = optimizer.momentum_buffers();
    bufs.clear();
    for (size_t i = 0; i < ps.size(); ++i) {
      bufs.push_back(FromSlice(buf_[i][slot], ps[i].dim()).clone());
    }
    return;
  }
  auto& state = optimizer.adamw()->state();
  state.clear();
  if (adam_steps_[slot] == 0) return;  // no step yet: LibTorch has no state either
  for (size_t i = 0; i < ps.size(); ++i) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(adam_steps_[slot]);
    s->exp_avg(FromSlice(exp_avg_[i][slot], ps[i].dim()).clone());
    s->exp_avg_sq(FromSlice(exp_avg_sq_[i][slot], ps[i].dim()).clone());
    state[StateKey(ps[i])] = std::move(s);
  }
}

void PackedMlp::Keep(const std::vector<int64_t>& keep) {
  torch::NoGradGuard no_grad;
  const torch::Tensor idx =
      torch::tensor(keep, torch::TensorOptions().dtype(torch::kInt64)).to(params_[0].device());
  auto select = [&](std::vector<torch::Tensor>& ts) {
    for (auto& t : ts) t = t.index_select(0, idx);
  };
  select(params_);
  for (auto& p : params_) p.requires_grad_(true);
  select(buf_);
  select(exp_avg_);
  select(exp_avg_sq_);
  if (adamw_) {
    std::vector<int64_t> steps;
    for (int64_t k : keep) steps.push_back(adam_steps_[static_cast<size_t>(k)]);
    adam_steps_ = std::move(steps);
  }
}

}  // namespace hypersweep
