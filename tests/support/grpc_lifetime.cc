// Linked into every test executable that creates gRPC objects in its own process (the GRPC option
// of hypersweep_test). gRPC starts process-wide threads (the default executor, timers, pollers) on
// the first grpc_init() and joins them in the grpc_shutdown() that drops the last reference. When
// that last reference is dropped on one of gRPC's own threads (a server or channel destroyed from a
// completion), gRPC 1.51 shuts down on a detached thread instead, and the process may exit before
// the executor threads are joined: ThreadSanitizer then reports a "thread leak" at exit, at random.
// Holding one reference for the whole run and dropping it with grpc_shutdown_blocking() on the main
// thread makes the shutdown synchronous when ours is the last reference. When it is not (gRPC
// releases some objects later, on its own threads, and the last release then takes the detached
// path), TearDown waits until grpc_is_initialized() says false: it reads the count under gRPC's
// init mutex, which the cleanup thread holds until it has joined every thread, so "false" means
// the join is done. The wait is bounded (10 s); tools/tsan.supp keeps a narrow suppression for
// gRPC's own threads as a backstop, with the same reason.
#include <grpc/grpc.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace hypersweep::test_support {
namespace {

class GrpcLifetime : public ::testing::Environment {
 public:
  void SetUp() override { grpc_init(); }
  void TearDown() override {
    grpc_shutdown_blocking();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (grpc_is_initialized() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
};

[[maybe_unused]] ::testing::Environment* const kGrpcLifetime =
    ::testing::AddGlobalTestEnvironment(new GrpcLifetime);

}  // namespace
}  // namespace hypersweep::test_support
