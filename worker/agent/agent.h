// The worker daemon: registers with the coordinator, runs N slots that each long-poll for a trial,
// train it with the trainer, stream epoch reports, heartbeat, and finish it with the right status
// and failure class. Survives a coordinator restart (buffers reports, reconnects with backoff and
// jitter) and drains gracefully on Stop() (SIGTERM): running trials checkpoint at the next batch
// and are handed back as PREEMPTED.
//
// Every WorkerService call goes through one path, Agent::Call(): a fresh context per attempt with
// the bearer token and a deadline, retried with backoff (rpc/retry.h) for the codes
// rpc/status_policy.h calls retryable. A lease-lost answer (ABORTED, NOT_FOUND,
// FAILED_PRECONDITION) drops the trial without retrying.
#ifndef HYPERSWEEP_WORKER_AGENT_AGENT_H_
#define HYPERSWEEP_WORKER_AGENT_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "rpc/retry.h"
#include "worker/data_paths.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {

struct AgentOptions {
  std::string token;  // worker bearer token; empty: none
  int slots = 1;      // trials trained at once
  // Trial packing (docs/PACKING.md): each slot asks for up to this many packable trials and
  // trains them as one batched model. 1 (the default): no packing. Opt-in, for the reasons in
  // docs/PACKING.md ("The default"); 8 was the fastest K end to end on the 2-core machine.
  int pack = 1;
  int threads = 0;              // intra-op threads (0: LibTorch's default)
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string checkpoint_dir = "hypersweep-checkpoints";
  std::string data_root;  // relative dataset paths are resolved against this
  // Further directories a spec's data paths may name (worker/data_paths.h); data_root and these
  // are the only places a trial reads data from.
  std::vector<std::string> allowed_data_roots = {kDefaultAllowedDataRoot};
  DataLimits data_limits;  // --max-data-bytes, --max-data-rows, --max-data-features
  // --allow-command: argv[0] prefixes of command trials this worker runs (worker/command/
  // command_trial.h, CommandAllowed); empty: it refuses them, and they go to another worker.
  std::vector<std::string> allow_command;
  absl::Duration command_grace = absl::Seconds(10);  // SIGTERM -> SIGKILL of a program
  // Then the worker quarantines itself. USER_ERROR failures (the spec's fault) do not count.
  int max_consecutive_failures = 3;
  int64_t acquire_wait_ms = 10'000;  // long-poll length of one AcquireTrial
  std::string worker_id;             // keep an id across restarts; empty: the coordinator assigns
  std::string server;                // for log lines only
  // Backoff between attempts of one call (initial 200 ms, doubling, at most 5 s, jittered).
  // max_attempts, deadline, stop, sleep and on_retry are set per call by the agent.
  RetryOptions retry;
  // The trainer; null: TrainTrial and RunLrRangeTest (worker/trainer/trainer.h). Tests inject
  // fakes that report epochs to the sink and honour options.should_stop.
  std::function<absl::StatusOr<TrialResult>(const TrialSpec&, const TrainOptions&, MetricsSink*)>
      train;
  std::function<absl::StatusOr<LrRangeResult>(const TrialSpec&, const TrainOptions&, MetricsSink*)>
      lr_range_test;
};

// Thread-safe: Stop() may be called from any thread (e.g. a signal-watching thread). The stub
// may be a gmock MockWorkerServiceStub (hypersweep/v1/service_mock.grpc.pb.h).
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
  class Attempt;

  void SlotLoop(int slot);
  // One acquire's trials: alone, or with pack-mates (acquired.pack()) as one pack.
  void RunTrial(int slot, const v1::AcquireTrialResponse& acquired);
  void RunPack(int slot, const v1::AcquireTrialResponse& acquired);
  int64_t HeartbeatMs();
  absl::Status Register();
  void Log(const std::string& message);
  void SleepUnlessStopping(absl::Duration d);
  // Retry options for calls that give up when the agent stops (Register, AcquireTrial).
  RetryOptions UntilStopping();

  // The one path for WorkerService calls: calls stub_->*method with a fresh context per attempt
  // (token, `timeout`), retrying under `retry` (rpc/retry.h). When `cancellable`, Stop() cancels
  // an attempt in flight. Returns the last attempt's status.
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::WorkerService::StubInterface::*method)(grpc::ClientContext*,
                                                                             const Request&,
                                                                             Response*),
                    const Request& request, Response* response, const RetryOptions& retry,
                    absl::Duration timeout, bool cancellable = false);

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
