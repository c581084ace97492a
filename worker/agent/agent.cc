// The worker daemon (agent.h): registration, the slots' acquire loop, and one trial from its
// lease to its finish: the spec's data paths confined to the data roots, the built-in trainer or
// a command trial, the LR curve or epochs reported, checkpoints kept or removed. A leased trial's
// report and heartbeat thread (Agent::TrialRun) is in agent_trial_run.cc.
#include "worker/agent/agent.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rpc/connection.h"
#include "worker/agent/agent_internal.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace {

using agent_internal::kRpcTimeout;

std::string Hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

int64_t MemoryBytes() {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return 0;
  return static_cast<int64_t>(si.totalram) * si.mem_unit;
}

}  // namespace

Agent::Agent(AgentOptions options, std::unique_ptr<v1::WorkerService::StubInterface> stub)
    : options_(std::move(options)), stub_(std::move(stub)), cache_(NewDatasetCache()) {
  absl::MutexLock lock(&mu_);
  worker_id_ = options_.worker_id;
}

Agent::~Agent() = default;

void Agent::Log(const std::string& message) {
  absl::MutexLock lock(&log_mu_);
  std::cerr << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())
            << " worker " <<
      [this] {
        absl::MutexLock l(&mu_);
        return worker_id_.empty() ? std::string("-") : worker_id_;
      }() << ": "
            << message << std::endl;
}

void Agent::SleepUnlessStopping(absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  while (!stopping_ && absl::Now() < until) {
    absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
  }
}

RetryOptions Agent::UntilStopping() {
  RetryOptions retry = options_.retry;
  retry.stop = [this] { return stopping_.load(); };
  retry.sleep = [this](absl::Duration d) { SleepUnlessStopping(d); };
  return retry;
}

absl::Status Agent::Register() {
  v1::RegisterWorkerRequest req;
  auto* caps = req.mutable_capabilities();
  caps->set_host(Hostname());
  caps->set_device(options_.device == "auto" ? (CudaAvailable() ? "cuda:0" : "cpu")
                                             : options_.device);
  caps->set_memory_bytes(MemoryBytes());
  caps->set_libtorch_version(LibTorchVersion());
  caps->set_slots(options_.slots);
  caps->set_max_consecutive_failures(options_.max_consecutive_failures);
  {
    absl::MutexLock lock(&mu_);
    req.set_worker_id(worker_id_);
  }
  RetryOptions retry = UntilStopping();
  retry.on_retry = [this](int attempt, const absl::Status& s) {
    if (attempt == 0) {
      Log(absl::StrCat("cannot reach coordinator at ", options_.server, " (", s.message(),
                       "); retrying"));
    }
  };
  v1::RegisterWorkerResponse resp;
  absl::Status s =
      Call(&v1::WorkerService::StubInterface::RegisterWorker, req, &resp, retry, kRpcTimeout);
  if (!s.ok()) {
    if (stopping_) return absl::OkStatus();  // stopped before the coordinator was reachable
    return s;                                // bad token, permission: the operator must fix it
  }
  {
    absl::MutexLock lock(&mu_);
    worker_id_ = resp.worker_id();
    if (resp.lease_ttl_ms() > 0) lease_ttl_ms_ = resp.lease_ttl_ms();
  }
  Log(absl::StrFormat("registered with %s: %d slot(s), device %s, lease ttl %d ms", options_.server,
                      options_.slots, req.capabilities().device(), [this] {
                        absl::MutexLock l(&mu_);
                        return lease_ttl_ms_;
                      }()));
  return absl::OkStatus();
}

int Agent::Run() {
  if (absl::Status s = Register(); !s.ok()) {
    Log(absl::StrCat("registration refused: ", s.message()));
    return 1;
  }
  std::vector<std::thread> slots;
  for (int i = 0; i < options_.slots; ++i) slots.emplace_back([this, i] { SlotLoop(i); });
  for (auto& t : slots) t.join();
  Log("drained; exiting");
  return 0;
}

void Agent::Stop() {
  if (stopping_.exchange(true)) return;
  Log("stopping: no new trials; running trials checkpoint and are handed back");
  absl::MutexLock lock(&mu_);
  for (grpc::ClientContext* ctx : acquiring_) ctx->TryCancel();
}

void Agent::SlotLoop(int slot) {
  int failures = 0;
  bool quarantine_logged = false;
  while (!stopping_) {
    if (quarantined_) {
      if (!quarantine_logged) {
        const int n = consecutive_failures_.load();
        Log(absl::StrCat(n >= options_.max_consecutive_failures
                             ? absl::StrFormat("quarantined after %d consecutive failed trials", n)
                             : std::string("quarantined by the coordinator"),
                         ": taking no work (stop me with SIGTERM once the cause is fixed)"));
        quarantine_logged = true;
      }
      SleepUnlessStopping(absl::Seconds(1));
      continue;
    }
    v1::AcquireTrialRequest req;
    {
      absl::MutexLock lock(&mu_);
      req.set_worker_id(worker_id_);
    }
    req.set_max_wait_ms(options_.acquire_wait_ms);
    if (options_.pack > 1) req.set_max_trials(options_.pack);
    RetryOptions retry = UntilStopping();
    retry.on_retry = [&](int attempt, const absl::Status& s) {
      if (failures++ == 0) {
        Log(absl::StrCat("coordinator unreachable (", s.message(), "); reconnecting with backoff"));
      }
    };
    v1::AcquireTrialResponse resp;
    absl::Status s =
        Call(&v1::WorkerService::StubInterface::AcquireTrial, req, &resp, retry,
             absl::Milliseconds(options_.acquire_wait_ms) + kRpcTimeout, /*cancellable=*/true);
    if (stopping_) break;
    if (!s.ok()) {
      if (absl::IsNotFound(s)) {  // the coordinator lost our registration (e.g. a fresh database)
        Register().IgnoreError();
        continue;
      }
      // Not retryable (or cancelled): keep polling, with backoff, until the operator acts.
      if (!absl::IsCancelled(s)) Log(absl::StrCat("acquire refused: ", s.message(), "; retrying"));
      SleepUnlessStopping(Backoff(retry, failures++));
      continue;
    }
    if (failures > 0) Log("coordinator reachable again");
    failures = 0;
    if (resp.quarantined()) {
      quarantined_ = true;
      continue;
    }
    if (!resp.acquired()) continue;
    RunTrial(slot, resp);
  }
}

}  // namespace hypersweep
