// Commands about the workers serving the coordinator: workers.
#ifndef HYPERSWEEP_CLIENT_WORKER_COMMANDS_H_
#define HYPERSWEEP_CLIENT_WORKER_COMMANDS_H_

#include <string>

#include "absl/status/status.h"
#include "client/commands.h"
#include "client/sweep_client.h"

namespace hypersweep {

// Every registered worker: capabilities, leases held, when it was last seen, quarantine.
absl::Status RunWorkers(SweepClient& client, const std::string& format, Io& io);

// Lifts a worker's quarantine and resets its failure count. The client's token must be the
// coordinator's operator token (--token-file op.token or HYPERSWEEP_TOKEN).
absl::Status RunClearQuarantine(SweepClient& client, const std::string& worker_id,
                                const std::string& format, Io& io);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_WORKER_COMMANDS_H_
