// The worker daemon: registers with the coordinator, runs N slots that each long-poll for a trial,
// train it with the trainer, stream epoch reports, heartbeat, and finish it with the right status
// and failure class. Survives a coordinator restart (buffers reports, reconnects with backoff and
// jitter) and drains gracefully on Stop() (SIGTERM): running trials checkpoint at the next batch
// and are handed back as PREEMPTED.
#ifndef HYPERSWEEP_WORKER_AGENT_AGENT_H_
#define HYPERSWEEP_WORKER_AGENT_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "rpc/connection.h"
#include "rpc/status_policy.h"

namespace hypersweep {

class DatasetCache;

struct AgentOptions {
  std::string token;            // worker bearer token; empty: none
  int slots = 1;                // trials trained at once
  int threads = 0;              // intra-op threads (0: LibTorch's default)
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string checkpoint_dir = "hypersweep-checkpoints";
  std::string data_root;             // relative dataset paths are resolved against this
  int max_consecutive_failures = 3;  // then the worker quarantines itself
  int64_t acquire_wait_ms = 10'000;  // long-poll length of one AcquireTrial
  std::string worker_id;             // keep an id across restarts; empty: the coordinator assigns
  std::string server;                // for log lines only
};

// Thread-safe: Stop() may be called from any thread (e.g. a signal-watching thread).
class Agent {
 public:
  Agent(AgentOptions options, std::unique_ptr<v1::WorkerService::StubInterface> stub);
  ~Agent();

  // Serves until Stop() and every slot has drained. Returns 0 after a clean drain.
  int Run();
  // First call: drain (stop acquiring, checkpoint and hand back running trials). Idempotent.
  void Stop();

 private:
  class TrialRun;

  void SlotLoop(int slot);
  void RunTrial(int slot, const v1::AcquireTrialResponse& acquired);
  absl::Status Register();
  void Log(const std::string& message);
  void SleepUnlessStopping(int64_t ms);
  int64_t BackoffMs(int attempt);

  const AgentOptions options_;
  std::unique_ptr<v1::WorkerService::StubInterface> stub_;
  std::shared_ptr<DatasetCache> cache_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> consecutive_failures_{0};
  std::atomic<bool> quarantined_{false};

  absl::Mutex mu_;  // guards worker_id_, lease_ttl_ms_, acquiring_
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  int64_t lease_ttl_ms_ ABSL_GUARDED_BY(mu_) = 30'000;
  std::set<grpc::ClientContext*> acquiring_ ABSL_GUARDED_BY(mu_);  // cancelled by Stop()
  absl::Mutex log_mu_;                                             // serialises log lines
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_AGENT_AGENT_H_
