// Pure address helpers shared by every process that listens: hypersweepd (gRPC) and
// `hypersweep dashboard` (HTTP) decide with the same rule whether an address is reachable only
// from this machine. Thread-safe.
#ifndef HYPERSWEEP_RPC_LOOPBACK_H_
#define HYPERSWEEP_RPC_LOOPBACK_H_

#include <string>

namespace hypersweep {

// The host part of host:port or [v6]:port (without the brackets); empty for ":port".
std::string HostOf(const std::string& address);

// Whether `listen` (host:port, [v6]:port or unix:path) is reachable only from this machine: a Unix
// socket, an IP literal in 127.0.0.0/8 or ::1 (also v4-mapped), or a name all of whose addresses
// are such (resolved now). "127.evil.example" is a name, not an address: it is resolved like any
// other name.
bool IsLoopbackAddress(const std::string& listen);

}  // namespace hypersweep

#endif  // HYPERSWEEP_RPC_LOOPBACK_H_
