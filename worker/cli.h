// The hypersweep-worker command line: local commands (train, lr-find, schedule) and, later, the
// daemon mode. Torch-free.
#ifndef HYPERSWEEP_WORKER_CLI_H_
#define HYPERSWEEP_WORKER_CLI_H_

namespace hypersweep {

// Exit codes: 0 succeeded, 2 bad input, 3 diverged, 1 other failure.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitDiverged = 3;

int RunWorkerCli(int argc, char** argv);

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_CLI_H_
