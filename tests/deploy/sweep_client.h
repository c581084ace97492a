// Helpers for deployment tests: a synthetic sweep and the shared SweepClient.
#ifndef HYPERSWEEP_TESTS_DEPLOY_SWEEP_CLIENT_H_
#define HYPERSWEEP_TESTS_DEPLOY_SWEEP_CLIENT_H_

#include "tests/e2e/harness.h"
#include "tests/e2e/sweep_client.h"

namespace hypersweep::deploy_test {

using e2e::SweepClient;
using e2e::SyntheticSweep;
using test_support::CommandResult;
using test_support::RunCommand;

}  // namespace hypersweep::deploy_test

#endif  // HYPERSWEEP_TESTS_DEPLOY_SWEEP_CLIENT_H_
