// Size bounds on what a client submits.
// - A sweep spec's size and trial count (SpecLimits, hypersweepd's --max-spec-bytes and
//   --max-sweep-trials): checked before parsing and before expansion (ParseSweepSpecWithin).
// - A trial spec's data and model sizes, so that no spec can make a worker allocate without
//   limit: the coordinator refuses a spec over them on submit (and dry run), naming the field, and
//   a worker checks the model again against the real input width once data is loaded.
// docs/SECURITY.md lists them all.
#ifndef HYPERSWEEP_CORE_SPEC_LIMITS_H_
#define HYPERSWEEP_CORE_SPEC_LIMITS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"

namespace hypersweep {

inline constexpr int64_t kMaxSyntheticSamples = 10'000'000;
inline constexpr int64_t kMaxSyntheticFeatures = 100'000;
inline constexpr int64_t kMaxSyntheticValues = 500'000'000;  // samples * features (2 GB of floats)
inline constexpr int64_t kMaxSyntheticClasses = 10'000;
inline constexpr int64_t kMaxLayerWidth = 65'536;  // model.*.hidden[i], model.cnn.channels[i]
inline constexpr int64_t kMaxLayers = 64;          // entries of model.*.hidden, model.cnn.channels
inline constexpr int64_t kMaxKernel = 31;          // model.cnn.kernel
inline constexpr int64_t kMaxModelParams = 100'000'000;
inline constexpr int64_t kMaxBatchSize = 1'000'000;

// INVALID_ARGUMENT "field: must be <= N, got M" for the first bound the spec exceeds. The model's
// parameters are counted for the input width the dataset implies (synthetic: features; idx:
// 28x28); a CSV's width is known only to the worker, which calls CheckModelSize.
absl::Status CheckSpecLimits(const TrialSpec& spec);

// The model's parameter count for inputs of `input_shape` (without the batch dimension) and
// `outputs` logits against kMaxModelParams.
absl::Status CheckModelSize(const ModelSpec& model, const std::vector<int64_t>& input_shape,
                            int64_t outputs);

inline constexpr int64_t kDefaultMaxSpecBytes = int64_t{1} << 20;  // 1 MiB
inline constexpr int64_t kDefaultMaxSweepTrials = 10'000'000;

struct SpecLimits {
  int64_t max_spec_bytes = kDefaultMaxSpecBytes;
  int64_t max_sweep_trials = kDefaultMaxSweepTrials;  // at most kMaxTrialsPerSweep
};

// ParseSweepSpec within `limits`: RESOURCE_EXHAUSTED naming the limit for a spec longer than
// max_spec_bytes (the text is not parsed) or one that expands to more than max_sweep_trials
// trials (nothing is expanded); otherwise ParseSweepSpec's result.
absl::StatusOr<SweepSpec> ParseSweepSpecWithin(const std::string& text, const SpecLimits& limits);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_SPEC_LIMITS_H_
