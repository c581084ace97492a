// Internal to worker/agent: what agent.cc and agent_trial_run.cc share. Agent::TrialRun, one
// leased trial's reports and heartbeats (defined in agent_trial_run.cc); Agent::Call, the one path
// for WorkerService calls (a template, so defined here for both files); the RPC time limits.
#ifndef HYPERSWEEP_WORKER_AGENT_AGENT_INTERNAL_H_
#define HYPERSWEEP_WORKER_AGENT_AGENT_INTERNAL_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "rpc/connection.h"
#include "rpc/retry.h"
#include "worker/agent/agent.h"
#include "worker/command/command_trial.h"
#include "worker/trainer/packed_trainer.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace agent_internal {

using Clock = std::chrono::steady_clock;

constexpr absl::Duration kRpcTimeout = absl::Seconds(10);
// While draining for SIGTERM, give up on an unreachable coordinator after this long.
constexpr auto kDrainDeadline = std::chrono::milliseconds(20'000);

}  // namespace agent_internal

// One leased trial: buffers epoch reports and sends them with heartbeats from its own thread, so
// training never waits on the network. Thread-safe.
class Agent::TrialRun : public MetricsSink {
 public:
  TrialRun(Agent* agent, v1::LeaseRef lease, int64_t heartbeat_ms);
  ~TrialRun();

  void OnEpoch(const EpochMetrics& m) override;
  void OnLrPoint(const LrCurvePoint& p) override {}
  void OnLog(const std::string& message) override;

  void SetCheckpoint(const std::string& uri);
  // Queues epochs again (idempotent on the coordinator): used for epochs restored from a
  // checkpoint that the coordinator may not have received before the previous attempt died.
  void Requeue(const std::vector<EpochMetrics>& epochs);
  bool cancelled() const { return cancelled_.load(); }
  bool lost() const { return lost_.load(); }
  // From here on the finish path speaks for the trial: a heartbeat that races FinishTrial and is
  // rejected because the trial just finished is not news.
  void MarkFinishing() { finishing_ = true; }

  // Sends every buffered report; retries with backoff until sent, the lease is lost, or (when
  // draining) the drain deadline passes. Returns false when the reports could not be delivered.
  bool Flush();

  // Records that the coordinator no longer honours this lease (IsLeaseLost); logs it once.
  void MarkLost(const absl::Status& s);

  // The coordinator ended the trial PRUNED on a report: the lease is over (lost() from here on,
  // so nothing more is sent for it), training stops and the trial is not finished.
  void MarkPruned(const std::string& reason);
  bool pruned() const { return pruned_.load(); }

  const v1::LeaseRef& lease() const { return lease_; }

 private:
  // Sends pending epochs (or a heartbeat when there are none). The keeper thread and Flush() both
  // call it; send_mu_ makes them take turns so a batch is removed from pending_ exactly once.
  absl::Status SendPending() ABSL_LOCKS_EXCLUDED(mu_);

  // Sends pending epochs as they arrive, else a heartbeat every heartbeat_ms_; retries failed
  // sends with backoff capped at heartbeat_ms_, until done_ or the lease is lost.
  void KeeperLoop();

  bool Done() ABSL_LOCKS_EXCLUDED(mu_);
  void WaitUntilDone(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);

  Agent* agent_;
  const v1::LeaseRef lease_;
  const int64_t heartbeat_ms_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> lost_{false};
  std::atomic<bool> pruned_{false};
  std::atomic<bool> finishing_{false};
  std::atomic<bool> unreachable_logged_{false};
  absl::Mutex send_mu_;  // held across one SendPending() (ordered before mu_)
  absl::Mutex mu_;       // guards pending_, checkpoint_uri_, done_
  std::vector<v1::EpochMetrics> pending_ ABSL_GUARDED_BY(mu_);
  std::string checkpoint_uri_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread keeper_;
};

// One leased trial from its lease to its finish (agent_attempt.cc): the spec parsed and its paths
// confined, the checkpoint to resume from, the training (alone here, or as a member of a pack by
// Agent::RunPack), and the finish the coordinator hears. Used by one slot thread.
class Agent::Attempt {
 public:
  Attempt(Agent* agent, int slot, const v1::LeaseRef& lease, const v1::Trial& trial,
          int64_t heartbeat_ms);

  // Parses the spec, confines its paths and works out the checkpoint to resume from. false: the
  // attempt has ended already (finished FAILED, or handed back as refused).
  bool Prepare();
  // Prepare()d and trainable in a pack: built-in trainer, not an LR range test.
  bool Packable() const;
  // Trains (or runs the range test or command) alone, then Conclude()s.
  void RunAlone();
  // The pack member this attempt is (requires Prepare()).
  PackMember Member();
  // Reports a training result: finish with its status, or drop the trial, as the lease says.
  void Conclude(absl::StatusOr<TrialResult> result);

  const v1::Trial& trial() const { return trial_; }

 private:
  void RangeTest();
  // What a command trial (or its range test) runs with: this attempt's ids, the worker's roots.
  CommandTrialOptions CommandOptions() const;
  void Finish(v1::TrialStatus status, v1::FailureClass fc, const std::string& reason);
  void Failed(const absl::Status& s);

  Agent* const agent_;
  const v1::Trial trial_;
  const agent_internal::Clock::time_point started_;
  TrialRun run_;
  // Calls about this trial retry until they succeed, the lease is lost, or (when draining) the
  // drain deadline passes.
  RetryOptions retry_;
  TrialSpec spec_;
  bool command_ = false;
  TrainOptions to_;
};

template <typename Request, typename Response>
absl::Status Agent::Call(grpc::Status (v1::WorkerService::StubInterface::*method)(
                             grpc::ClientContext*, const Request&, Response*),
                         const Request& request, Response* response, const RetryOptions& retry,
                         absl::Duration timeout, bool cancellable) {
  return Retry(retry, [&](int) {
    grpc::ClientContext ctx;
    AddAuth(&ctx, options_.token);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (cancellable) {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("worker stopping");
      acquiring_.insert(&ctx);
    }
    response->Clear();
    absl::Status s = FromGrpc((stub_.get()->*method)(&ctx, request, response));
    if (cancellable) {
      absl::MutexLock lock(&mu_);
      acquiring_.erase(&ctx);
    }
    return s;
  });
}

}  // namespace hypersweep

#endif  // HYPERSWEEP_WORKER_AGENT_AGENT_INTERNAL_H_
