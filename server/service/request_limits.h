// Bounds on what a worker may send: every string the coordinator stores and every count it keeps
// in memory has a cap here, checked before the scheduler sees the request, so that no report can
// grow the database or a later response without limit (docs/SECURITY.md lists them).
#ifndef HYPERSWEEP_SERVER_SERVICE_REQUEST_LIMITS_H_
#define HYPERSWEEP_SERVER_SERVICE_REQUEST_LIMITS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "hypersweep/v1/service.pb.h"

namespace hypersweep {

inline constexpr size_t kMaxIdBytes = 64;              // worker ids, trial ids, sweep ids
inline constexpr size_t kMaxHostBytes = 255;           // a DNS name's limit
inline constexpr size_t kMaxCapabilityBytes = 64;      // device, libtorch_version
inline constexpr int kMaxSlots = 256;                  // trials one worker runs at once
inline constexpr int kMaxEpochsPerReport = 1'000;      // epochs in one ReportEpochs
inline constexpr int kMaxMetricsPerEpoch = 64;         // metric values of one epoch
inline constexpr size_t kMaxMetricNameBytes = 64;      // "val_accuracy", "test_auc", ...
inline constexpr size_t kMaxCheckpointRefBytes = 256;  // "<trial>.attempt<N>.pt"
inline constexpr size_t kMaxReasonBytes = 4'096;       // FinishTrial's reason, kept truncated

// INVALID_ARGUMENT naming the field when a registration's strings or counts exceed the caps.
absl::Status CheckRegistration(const v1::RegisterWorkerRequest& req);
// INVALID_ARGUMENT naming the field for too many epochs or metrics, a metric name that is too
// long or not [A-Za-z0-9_.-], or a checkpoint reference that is too long.
absl::Status CheckEpochReport(const v1::ReportEpochsRequest& req);
// `reason` cut to kMaxReasonBytes (at a UTF-8 character boundary) with a note that it was cut: a
// failure's reason is worth keeping even when a program printed too much.
std::string BoundedReason(const std::string& reason);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_REQUEST_LIMITS_H_
