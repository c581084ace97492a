// Optimizers with per-step lr and momentum. Internal to worker/trainer (includes torch).
#ifndef HYPERSWEEP_WORKER_TRAINER_OPTIMIZER_H_
#define HYPERSWEEP_WORKER_TRAINER_OPTIMIZER_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/trial_spec.h"

namespace hypersweep {

// The optimizer, with a per-step setter for lr and momentum (beta1 for AdamW).
//
// SGD is our own, with torch.optim.SGD's exact update (L2 weight decay added to the gradient,
// momentum buffer initialised to the first gradient, dampening 0, optional Nesterov) but done with
// _foreach ops: three dispatcher calls per step instead of three per parameter, which matters at
// small batch sizes. AdamW is LibTorch's.
class Optimizer {
 public:
  Optimizer(const OptimizerSpec& spec, std::vector<torch::Tensor> params, double momentum,
            double weight_decay)
      : adamw_(spec.kind == OptimizerSpec::Kind::kAdamW),
        nesterov_(spec.nesterov),
        weight_decay_(weight_decay),
        momentum_(momentum),
        params_(std::move(params)) {
    if (adamw_) {
      adam_ = std::make_unique<torch::optim::AdamW>(params_, torch::optim::AdamWOptions(1e-3)
                                                                 .betas({momentum, spec.beta2})
                                                                 .eps(spec.eps)
                                                                 .weight_decay(weight_decay));
    }
  }

  // lr and momentum (beta1 for AdamW) for the next Step().
  void Set(double lr, double momentum) {
    lr_ = lr;
    momentum_ = momentum;
    if (!adamw_) return;
    for (auto& g : adam_->param_groups()) {
      auto& o = static_cast<torch::optim::AdamWOptions&>(g.options());
      o.lr(lr);
      o.betas({momentum, std::get<1>(o.betas())});
    }
  }

  // Gradients are dropped rather than zeroed: the next backward assigns instead of accumulating.
  void ZeroGrad() {
    for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  }

  void Step() {
    if (adamw_) {
      adam_->step();
      return;
    }
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> ps, grads;
    ps.reserve(params_.size());
    grads.reserve(params_.size());
    for (auto& p : params_) {
      if (!p.grad().defined()) continue;
      ps.push_back(p);
      grads.push_back(p.grad());
    }
    if (ps.empty()) return;
    if (weight_decay_ != 0) at::_foreach_add_(grads, ps, weight_decay_);
    if (momentum_ == 0) {
      at::_foreach_add_(ps, grads, -lr_);
      return;
    }
    if (buffers_.empty()) {
      for (auto& g : grads) buffers_.push_back(g.clone());
    } else {
      at::_foreach_mul_(buffers_, momentum_);
      at::_foreach_add_(buffers_, grads);
    }
    if (nesterov_) {
      at::_foreach_add_(grads, buffers_, momentum_);
      at::_foreach_add_(ps, grads, -lr_);
    } else {
      at::_foreach_add_(ps, buffers_, -lr_);
    }
  }

  void Save(torch::serialize::OutputArchive& archive) {
    if (adamw_) {
      adam_->save(archive);
      return;
    }
    archive.write("momentum_buffers", c10::IValue(static_cast<int64_t>(buffers_.size())));
    for (size_t i = 0; i < buffers_.size(); ++i) {
      archive.write("buffer_" + std::to_string(i), buffers_[i], /*is_buffer=*/true);
    }
  }

  // The state, for the packed trainer (packed_model.h), which copies a trial's slice in and out so
  // that its checkpoints stay in this format. SGD: one momentum buffer per parameter, or none
  // before the first step with momentum. AdamW: LibTorch's optimizer (null for SGD).
  std::vector<torch::Tensor>& momentum_buffers() { return buffers_; }
  torch::optim::AdamW* adamw() { return adam_.get(); }
  const std::vector<torch::Tensor>& params() const { return params_; }

  void Load(torch::serialize::InputArchive& archive) {
    if (adamw_) {
      adam_->load(archive);
      return;
    }
    c10::IValue n;
    archive.read("momentum_buffers", n);
    buffers_.assign(static_cast<size_t>(n.toInt()), torch::Tensor());
    for (size_t i = 0; i < buffers_.size(); ++i) {
      archive.read("buffer_" + std::to_string(i), buffers_[i], /*is_buffer=*/true);
    }
  }

 private:
  bool adamw_;
  bool nesterov_;
  double weight_decay_;
  double lr_ = 1e-3;
  double momentum_;
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> buffers_;  // SGD momentum buffers, one per parameter
  std::unique_ptr<torch::optim::AdamW> adam_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_OPTIMIZER_H_
