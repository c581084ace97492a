#include "core/spec_limits.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace hypersweep {
namespace {

absl::Status TooBig(const std::string& field, int64_t max, int64_t got) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": must be <= ", max, ", got ", got));
}

std::string ModelField(const ModelSpec& m, const char* leaf) {
  return absl::StrCat("model.", m.kind == ModelSpec::Kind::kCnn ? "cnn." : "mlp.", leaf);
}

// Saturating: every factor is bounded above, but a sum of products may still be large.
int64_t Add(int64_t a, int64_t b) {
  return a > kMaxModelParams || b > kMaxModelParams ? kMaxModelParams + 1 : a + b;
}

}  // namespace

absl::Status CheckModelSize(const ModelSpec& m, const std::vector<int64_t>& input_shape,
                            int64_t outputs) {
  // The file decides a TorchScript model's size; the worker counts it once it has loaded it.
  if (m.kind == ModelSpec::Kind::kTorchScript) return absl::OkStatus();
  int64_t params = 0;
  int64_t in = 1;
  for (int64_t d : input_shape) in *= d;
  if (m.kind == ModelSpec::Kind::kCnn && input_shape.size() == 3) {
    int64_t c = input_shape[0], h = input_shape[1], w = input_shape[2];
    for (int64_t ch : m.channels) {
      params = Add(params, c * m.kernel * m.kernel * ch + ch);
      c = ch;
      if (m.pool > 1) {
        h = std::max<int64_t>(1, h / m.pool);
        w = std::max<int64_t>(1, w / m.pool);
      }
    }
    in = c * h * w;
  }
  for (int64_t width : m.hidden) {
    params = Add(params, (in + 1) * width);
    in = width;
  }
  params = Add(params, (in + 1) * outputs);
  if (params > kMaxModelParams) {
    int64_t width = 1;
    for (int64_t d : input_shape) width *= d;
    return absl::InvalidArgumentError(
        absl::StrCat(ModelField(m, "hidden"), ": the model would have more than ", kMaxModelParams,
                     " parameters (the limit) for an input width of ", width));
  }
  return absl::OkStatus();
}

absl::Status CheckSpecLimits(const TrialSpec& s) {
  const ModelSpec& m = s.model;
  if (s.batch_size > kMaxBatchSize) return TooBig("batch_size", kMaxBatchSize, s.batch_size);
  if (static_cast<int64_t>(m.hidden.size()) > kMaxLayers) {
    return TooBig(absl::StrCat(ModelField(m, "hidden"), " (layers)"), kMaxLayers,
                  static_cast<int64_t>(m.hidden.size()));
  }
  for (size_t i = 0; i < m.hidden.size(); ++i) {
    if (m.hidden[i] > kMaxLayerWidth) {
      return TooBig(absl::StrCat(ModelField(m, "hidden"), "[", i, "]"), kMaxLayerWidth,
                    m.hidden[i]);
    }
  }
  if (m.kind == ModelSpec::Kind::kCnn) {
    if (static_cast<int64_t>(m.channels.size()) > kMaxLayers) {
      return TooBig("model.cnn.channels (layers)", kMaxLayers,
                    static_cast<int64_t>(m.channels.size()));
    }
    for (size_t i = 0; i < m.channels.size(); ++i) {
      if (m.channels[i] > kMaxLayerWidth) {
        return TooBig(absl::StrCat("model.cnn.channels[", i, "]"), kMaxLayerWidth, m.channels[i]);
      }
    }
    if (m.kernel > kMaxKernel) return TooBig("model.cnn.kernel", kMaxKernel, m.kernel);
  }
  const DatasetSpec& d = s.dataset;
  std::vector<int64_t> input;
  int64_t outputs = 1;
  switch (d.kind) {
    case DatasetSpec::Kind::kSynthetic: {
      const SyntheticOptions& o = d.synthetic;
      if (o.samples > kMaxSyntheticSamples) {
        return TooBig("dataset.synthetic.samples", kMaxSyntheticSamples, o.samples);
      }
      if (o.features > kMaxSyntheticFeatures) {
        return TooBig("dataset.synthetic.features", kMaxSyntheticFeatures, o.features);
      }
      if (o.samples * o.features > kMaxSyntheticValues) {
        return TooBig("dataset.synthetic.samples * features", kMaxSyntheticValues,
                      o.samples * o.features);
      }
      if (o.classes > kMaxSyntheticClasses) {
        return TooBig("dataset.synthetic.classes", kMaxSyntheticClasses, o.classes);
      }
      input = {o.features};
      outputs = o.classes == 2 ? 1 : o.classes;
      break;
    }
    case DatasetSpec::Kind::kFashionMnist:
    case DatasetSpec::Kind::kMnist:
      input = m.kind == ModelSpec::Kind::kCnn ? std::vector<int64_t>{1, 28, 28}
                                              : std::vector<int64_t>{1 * 28 * 28};
      outputs = 10;
      break;
    case DatasetSpec::Kind::kCsv:
    case DatasetSpec::Kind::kHdf5:
      input = {1};  // the worker checks again with the file's width
      break;
  }
  return CheckModelSize(m, input, outputs);
}

absl::StatusOr<SweepSpec> ParseSweepSpecWithin(const std::string& text, const SpecLimits& limits) {
  const int64_t bytes = static_cast<int64_t>(text.size());
  if (bytes > limits.max_spec_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("spec: ", bytes, " bytes, above the coordinator's limit of ",
                     limits.max_spec_bytes, " bytes (hypersweepd --max-spec-bytes)"));
  }
  absl::StatusOr<SweepSpec> spec = ParseSweepSpec(text);
  if (!spec.ok()) return spec;
  const int64_t trials = CountTrials(*spec);
  if (trials > limits.max_sweep_trials) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "spec: the sweep expands to ", trials, " trials, above the coordinator's limit of ",
        limits.max_sweep_trials, " per sweep (hypersweepd --max-sweep-trials)"));
  }
  return spec;
}

}  // namespace hypersweep
