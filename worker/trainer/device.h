// Device selection: turns TrainOptions::device into a torch::Device. Internal to worker/trainer
// (includes torch). LibTorchVersion() and CudaAvailable(), declared in trainer.h, are defined in
// device.cc too.
#ifndef HYPERSWEEP_WORKER_TRAINER_DEVICE_H_
#define HYPERSWEEP_WORKER_TRAINER_DEVICE_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/statusor.h"

namespace hypersweep {

// The device named `name`:
//   "auto"    cuda:0 when LibTorch sees a CUDA device, else cpu
//   "cpu"     the CPU
//   "cuda"    cuda:0;  "cuda:N" the N-th CUDA device
// Returns INVALID_ARGUMENT, with a message naming `name`, for any other name, for a CUDA name when
// this LibTorch has no CUDA device, and for an index that is malformed or out of range.
absl::StatusOr<torch::Device> PickDevice(const std::string& name);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_TRAINER_DEVICE_H_
