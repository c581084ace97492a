// Helpers for deployment tests: a synthetic sweep and the shared SweepClient.
#ifndef HYPERSWEEP_TESTS_DEPLOY_SWEEP_CLIENT_H_
#define HYPERSWEEP_TESTS_DEPLOY_SWEEP_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "tests/deploy/command.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/sweep_client.h"

namespace hypersweep::deploy_test {

// A synthetic sweep: `epochs` epochs of 0.8 * `samples` training samples at batch 32 on a 2x128
// MLP (40000 samples: about half a second per epoch on one thread), plus `extra` YAML.
inline std::string SyntheticSweep(const std::string& name, int epochs, int samples,
                                  const std::string& extra) {
  return "name: " + name + "\ndataset: {synthetic: {samples: " + std::to_string(samples) +
         ", features: 32, classes: 3}}\nmodel: {mlp: {hidden: [128, 128]}}\n"
         "schedule: {one_cycle: {max_lr: 0.05}}\nepochs: " +
         std::to_string(epochs) + "\nbatch_size: 32\nvalidation: {holdout: 0.2}\n" + extra;
}

using e2e::SweepClient;

}  // namespace hypersweep::deploy_test

#endif  // HYPERSWEEP_TESTS_DEPLOY_SWEEP_CLIENT_H_
