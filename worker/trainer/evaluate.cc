#include "worker/trainer/evaluate.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/metrics.h"
#include "core/stats.h"
#include "worker/trainer/loss.h"

namespace hypersweep {

namespace {

// The metrics of one table's rows; `names` are the loss, accuracy, AUC and AMS names to set.
struct MetricNames {
  const char *loss, *accuracy, *auc, *ams;
};

void EvaluateRows(Net& model, const Table& v, const torch::Tensor& loss_w, double weight_scale,
                  bool binary, const MetricNames& names, EpochMetrics* out) {
  torch::NoGradGuard no_grad;
  model->eval();
  const int64_t n = v.rows();
  constexpr int64_t kChunk = 8192;
  double loss_num = 0, loss_den = 0;
  int64_t correct = 0;
  std::vector<torch::Tensor> scores;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = std::min(kChunk, n - i);
    auto x = v.x.narrow(0, i, len);
    auto y = v.y.narrow(0, i, len);
    auto logits = model->forward(x);
    torch::Tensor w =
        loss_w.defined() ? loss_w.narrow(0, i, len) : torch::ones({len}, logits.options());
    auto l = Loss(logits, y, w, binary);
    const double wsum = w.sum().item<double>();
    loss_num += l.item<double>() * wsum;
    loss_den += wsum;
    if (binary) {
      auto logit = logits.squeeze(1);
      correct += ((logit > 0).to(torch::kInt64) == y).sum().item<int64_t>();
      scores.push_back(torch::sigmoid(logit).to(torch::kCPU));
    } else {
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
    }
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  double auc = kNaN, ams = kNaN;
  if (binary) {
    auto sc = torch::cat(scores).contiguous();
    auto yc = v.y.to(torch::kCPU).to(torch::kFloat32).contiguous();
    std::vector<float> sv(sc.data_ptr<float>(), sc.data_ptr<float>() + n);
    std::vector<float> yv(yc.data_ptr<float>(), yc.data_ptr<float>() + n);
    std::vector<float> wv;
    if (v.w.defined()) {  // raw sample weights (AMS needs them unnormalised)
      auto wc = v.w.to(torch::kCPU).contiguous();
      wv.assign(wc.data_ptr<float>(), wc.data_ptr<float>() + n);
    }
    auc = WeightedAuc(sv, yv, wv);
    if (!wv.empty()) ams = BestAms(sv, yv, wv, weight_scale);
  }
  out->Set(names.loss, loss_num / loss_den);
  out->Set(names.accuracy, static_cast<double>(correct) / static_cast<double>(n));
  out->Set(names.auc, auc);
  out->Set(names.ams, ams);
  model->train();
}

}  // namespace

void Evaluate(Net& model, const SplitData& split, EpochMetrics* out) {
  EvaluateRows(model, split.val, split.val_loss_w, split.val_weight_scale, split.binary,
               {metrics::kValLoss, metrics::kValAccuracy, metrics::kValAuc, metrics::kValAms}, out);
}

void EvaluateTest(Net& model, const SplitData& split, EpochMetrics* out) {
  if (!split.has_test()) return;
  // The test file's weights stand for its own sample: no scaling.
  EvaluateRows(model, split.test, split.test_loss_w, 1.0, split.binary,
               {metrics::kTestLoss, metrics::kTestAccuracy, metrics::kTestAuc, metrics::kTestAms},
               out);
}

}  // namespace hypersweep
