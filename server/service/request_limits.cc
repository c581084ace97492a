#include "server/service/request_limits.h"

#include "absl/strings/str_cat.h"

namespace hypersweep {
namespace {

absl::Status TooLong(const std::string& field, size_t size, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", size, " bytes; at most ", limit, " are accepted"));
}

bool IsMetricNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

absl::Status CheckRegistration(const v1::RegisterWorkerRequest& req) {
  const auto& c = req.capabilities();
  if (req.worker_id().size() > kMaxIdBytes) {
    return TooLong("worker_id", req.worker_id().size(), kMaxIdBytes);
  }
  if (c.host().size() > kMaxHostBytes) {
    return TooLong("capabilities.host", c.host().size(), kMaxHostBytes);
  }
  if (c.device().size() > kMaxCapabilityBytes) {
    return TooLong("capabilities.device", c.device().size(), kMaxCapabilityBytes);
  }
  if (c.libtorch_version().size() > kMaxCapabilityBytes) {
    return TooLong("capabilities.libtorch_version", c.libtorch_version().size(),
                   kMaxCapabilityBytes);
  }
  if (c.slots() > kMaxSlots) {
    return absl::InvalidArgumentError(
        absl::StrCat("capabilities.slots: ", c.slots(), "; at most ", kMaxSlots));
  }
  return absl::OkStatus();
}

absl::Status CheckEpochReport(const v1::ReportEpochsRequest& req) {
  if (req.epochs_size() > kMaxEpochsPerReport) {
    return absl::InvalidArgumentError(absl::StrCat(
        "epochs: ", req.epochs_size(), " in one report; at most ", kMaxEpochsPerReport));
  }
  for (const auto& e : req.epochs()) {
    if (e.metrics_size() > kMaxMetricsPerEpoch) {
      return absl::InvalidArgumentError(absl::StrCat("epochs.metrics: ", e.metrics_size(),
                                                     " metrics in epoch ", e.epoch(), "; at most ",
                                                     kMaxMetricsPerEpoch));
    }
    for (const auto& [name, value] : e.metrics()) {
      if (name.empty() || name.size() > kMaxMetricNameBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "epochs.metrics: a metric name must have 1 to ", kMaxMetricNameBytes, " bytes"));
      }
      for (char ch : name) {
        if (!IsMetricNameChar(ch)) {
          return absl::InvalidArgumentError(
              "epochs.metrics: metric names are letters, digits, '_', '.' and '-'");
        }
      }
    }
  }
  if (req.checkpoint_uri().size() > kMaxCheckpointRefBytes) {
    return TooLong("checkpoint_uri", req.checkpoint_uri().size(), kMaxCheckpointRefBytes);
  }
  return absl::OkStatus();
}

std::string BoundedReason(const std::string& reason) {
  if (reason.size() <= kMaxReasonBytes) return reason;
  constexpr char kNote[] = " ... (cut)";
  size_t end = kMaxReasonBytes - (sizeof(kNote) - 1);
  // Back up over UTF-8 continuation bytes so no character is split.
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(reason.substr(0, end), kNote);
}

}  // namespace hypersweep
