#include "worker/trainer/loss.h"

namespace hypersweep {

torch::Tensor Loss(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& w,
                   bool binary) {
  namespace F = torch::nn::functional;
  if (!w.defined()) {
    if (binary)
      return F::binary_cross_entropy_with_logits(logits.squeeze(1), y.to(torch::kFloat32));
    return F::cross_entropy(logits, y);
  }
  torch::Tensor per_row =
      binary ? F::binary_cross_entropy_with_logits(
                   logits.squeeze(1), y.to(torch::kFloat32),
                   F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
             : F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return (per_row * w).sum() / w.sum();
}

}  // namespace hypersweep
