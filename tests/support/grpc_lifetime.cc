// Linked into every test executable that creates gRPC objects in its own process (the GRPC option
// of hypersweep_test). gRPC starts process-wide threads (the default executor, timers, pollers) on
// the first grpc_init() and joins them in the grpc_shutdown() that drops the last reference. When
// that last reference is dropped on one of gRPC's own threads (a server or channel destroyed from a
// completion), gRPC 1.51 shuts down on a detached thread instead, and the process may exit before
// the executor threads are joined: ThreadSanitizer then reports a "thread leak" at exit, at random.
// Holding one reference for the whole run and dropping it last, on the main thread, with
// grpc_shutdown_blocking() makes the shutdown synchronous: every thread gRPC started is joined
// before main() returns.
#include <grpc/grpc.h>

#include "gtest/gtest.h"

namespace hypersweep::test_support {
namespace {

class GrpcLifetime : public ::testing::Environment {
 public:
  void SetUp() override { grpc_init(); }
  void TearDown() override { grpc_shutdown_blocking(); }
};

[[maybe_unused]] ::testing::Environment* const kGrpcLifetime =
    ::testing::AddGlobalTestEnvironment(new GrpcLifetime);

}  // namespace
}  // namespace hypersweep::test_support
