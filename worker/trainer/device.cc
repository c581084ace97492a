#include "worker/trainer/device.h"

#include <torch/version.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {

absl::StatusOr<torch::Device> PickDevice(const std::string& name) {
  if (name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || absl::StartsWith(name, "cuda:")) {
    if (!torch::cuda::is_available()) {
      return absl::InvalidArgumentError(
          absl::StrCat("device '", name, "': this LibTorch has no CUDA device (use cpu or auto)"));
    }
    int index = 0;
    if (name.size() > 5 && !absl::SimpleAtoi(name.substr(5), &index)) {
      return absl::InvalidArgumentError(absl::StrCat("device '", name, "': bad index"));
    }
    if (index < 0 || static_cast<size_t>(index) >= torch::cuda::device_count()) {
      return absl::InvalidArgumentError(absl::StrCat("device '", name, "': no such CUDA device"));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device '", name, "': expected auto, cpu, cuda or cuda:N"));
}

std::string LibTorchVersion() { return TORCH_VERSION; }

bool CudaAvailable() { return torch::cuda::is_available(); }

}  // namespace hypersweep
