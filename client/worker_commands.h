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

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_WORKER_COMMANDS_H_
