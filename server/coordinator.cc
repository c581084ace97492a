#include "server/coordinator.h"

#include <chrono>
#include <utility>

#include "core/status_macros.h"

namespace hypersweep {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options) {
  auto c = std::unique_ptr<Coordinator>(new Coordinator());
  ASSIGN_OR_RETURN(c->store_, Store::Open(options.store));
  ASSIGN_OR_RETURN(c->scheduler_,
                   Scheduler::Create(c->store_.get(), options.clock, options.scheduler));
  c->scheduler_->StartReaper();
  c->sweeps_ = std::make_unique<SweepServiceImpl>(c->scheduler_.get(), options.auth);
  c->workers_ = std::make_unique<WorkerServiceImpl>(
      c->scheduler_.get(), options.auth, options.scheduler.lease_ttl_ms,
      options.scheduler.max_acquire_wait_ms, options.registrations_per_second);
  ASSIGN_OR_RETURN(c->server_,
                   StartGrpcServer(options.grpc, {c->sweeps_.get(), c->workers_.get()}, &c->port_));
  return c;
}

Coordinator::~Coordinator() { Shutdown(absl::Seconds(5)); }

void Coordinator::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (scheduler_) scheduler_->Shutdown();
  if (server_)
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  if (store_) store_->Close();
}

}  // namespace hypersweep
