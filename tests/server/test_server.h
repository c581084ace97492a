// Test helper: a coordinator in this process on 127.0.0.1 with a free port, wired the way
// server/main.cc wires it, plus stubs and token helpers.
#ifndef HYPERSWEEP_TESTS_SERVER_TEST_SERVER_H_
#define HYPERSWEEP_TESTS_SERVER_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "server/scheduler/scheduler.h"
#include "server/service/services.h"
#include "server/store/store.h"

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
    StoreOptions so;
    so.path = o.db;
    so.sync = false;
    auto store = Store::Open(so);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    SchedulerOptions sched;
    sched.lease_ttl_ms = o.lease_ttl_ms;
    sched.max_acquire_wait_ms = o.max_wait_ms;
    auto s = Scheduler::Create(store_.get(), SystemClock::Get(), sched);
    EXPECT_TRUE(s.ok()) << s.status();
    sched_ = *std::move(s);
    sched_->StartReaper();
    sweeps_ = std::make_unique<SweepServiceImpl>(sched_.get(), o.auth);
    workers_ =
        std::make_unique<WorkerServiceImpl>(sched_.get(), o.auth, o.lease_ttl_ms, o.max_wait_ms);
    GrpcServerOptions g;
    g.listen = "127.0.0.1:0";
    g.tls_cert_pem = o.tls_cert_pem;
    g.tls_key_pem = o.tls_key_pem;
    auto server = StartGrpcServer(g, {sweeps_.get(), workers_.get()}, &port_);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  ~TestServer() {
    sched_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    store_->Close();
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  Scheduler* scheduler() { return sched_.get(); }

 private:
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> sched_;
  std::unique_ptr<SweepServiceImpl> sweeps_;
  std::unique_ptr<WorkerServiceImpl> workers_;
  std::unique_ptr<grpc::Server> server_;
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
