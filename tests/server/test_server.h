// Test helper: a coordinator in this process on 127.0.0.1 with a free port, wired by the same
// Coordinator as server/main.cc, plus stubs and token helpers.
#ifndef HYPERSWEEP_TESTS_SERVER_TEST_SERVER_H_
#define HYPERSWEEP_TESTS_SERVER_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "server/coordinator.h"

namespace hypersweep {

struct TestServerOptions {
  std::string db = ":memory:";
  AuthConfig auth;
  std::string tls_cert_pem, tls_key_pem;
  int64_t lease_ttl_ms = 30'000;
  int64_t max_wait_ms = 10'000;
};

class TestServer {
 public:
  explicit TestServer(const TestServerOptions& o) {
    CoordinatorOptions c;
    c.store.path = o.db;
    c.store.sync = false;
    c.scheduler.lease_ttl_ms = o.lease_ttl_ms;
    c.scheduler.max_acquire_wait_ms = o.max_wait_ms;
    c.auth = o.auth;
    c.grpc.listen = "127.0.0.1:0";
    c.grpc.tls_cert_pem = o.tls_cert_pem;
    c.grpc.tls_key_pem = o.tls_key_pem;
    auto coordinator = Coordinator::Start(c);
    EXPECT_TRUE(coordinator.ok()) << coordinator.status();
    coordinator_ = *std::move(coordinator);
    port_ = coordinator_->port();
  }
  ~TestServer() { coordinator_->Shutdown(absl::Seconds(2)); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  Scheduler* scheduler() { return coordinator_->scheduler(); }

 private:
  std::unique_ptr<Coordinator> coordinator_;
  int port_ = 0;
};

// A context with a bearer token (none when empty) and a deadline.
inline std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "",
                                                int deadline_ms = 10'000) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  return ctx;
}

}  // namespace hypersweep

#endif  // HYPERSWEEP_TESTS_SERVER_TEST_SERVER_H_
