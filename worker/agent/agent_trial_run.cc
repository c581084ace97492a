// Agent::TrialRun (agent_internal.h): one leased trial's epoch reports, buffered and sent with
// heartbeats from the run's own keeper thread so that training never waits on the network, and
// what the coordinator answers about the lease (cancelled, pruned, lost).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rpc/status_policy.h"
#include "worker/agent/agent_internal.h"

namespace hypersweep {
namespace {

using agent_internal::Clock;
using agent_internal::kDrainDeadline;
using agent_internal::kRpcTimeout;

// Every metric in the map, by name; a non-finite value (not measured) is left out, as the proto's
// map cannot carry it.
void ToProto(const EpochMetrics& m, v1::EpochMetrics* out) {
  out->set_epoch(m.epoch);
  auto& map = *out->mutable_metrics();
  for (const auto& [name, v] : m.values) {
    if (std::isfinite(v)) map[name] = v;
  }
}

}  // namespace

Agent::TrialRun::TrialRun(Agent* agent, v1::LeaseRef lease, int64_t heartbeat_ms)
    : agent_(agent), lease_(std::move(lease)), heartbeat_ms_(heartbeat_ms) {
  keeper_ = std::thread([this] { KeeperLoop(); });
}

Agent::TrialRun::~TrialRun() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  keeper_.join();
}

void Agent::TrialRun::OnEpoch(const EpochMetrics& m) {
  absl::MutexLock lock(&mu_);
  v1::EpochMetrics p;
  ToProto(m, &p);
  pending_.push_back(std::move(p));
}

void Agent::TrialRun::OnLog(const std::string& message) {
  agent_->Log(
      absl::StrFormat("trial %s attempt %d: %s", lease_.trial_id(), lease_.attempt(), message));
}

void Agent::TrialRun::SetCheckpoint(const std::string& uri) {
  absl::MutexLock lock(&mu_);
  checkpoint_uri_ = uri;
}

void Agent::TrialRun::Requeue(const std::vector<EpochMetrics>& epochs) {
  for (const auto& e : epochs) OnEpoch(e);
}

bool Agent::TrialRun::Flush() {
  if (lost_) return false;
  const auto start = Clock::now();
  RetryOptions retry = agent_->options_.retry;
  retry.stop = [&] {
    return lost_.load() || (agent_->stopping_ && Clock::now() - start > kDrainDeadline);
  };
  return Retry(retry, [this](int) { return SendPending(); }).ok();
}

void Agent::TrialRun::MarkLost(const absl::Status& s) {
  if (!lost_.exchange(true) && !finishing_) {
    OnLog(
        absl::StrCat("lease rejected by the coordinator (", s.message(), "); dropping the trial"));
  }
}

void Agent::TrialRun::MarkPruned(const std::string& reason) {
  pruned_ = true;
  if (!lost_.exchange(true)) OnLog(absl::StrCat("pruned by the coordinator: ", reason));
}

absl::Status Agent::TrialRun::SendPending() {
  absl::MutexLock send_lock(&send_mu_);
  std::vector<v1::EpochMetrics> batch;
  std::string uri;
  {
    absl::MutexLock lock(&mu_);
    batch = pending_;
    uri = checkpoint_uri_;
  }
  // One attempt: the callers (Flush, the keeper) retry by sending what is pending then.
  RetryOptions once = agent_->options_.retry;
  once.max_attempts = 1;
  absl::Status s;
  if (batch.empty()) {
    v1::HeartbeatRequest req;
    v1::HeartbeatResponse resp;
    {
      absl::MutexLock lock(&agent_->mu_);
      req.set_worker_id(agent_->worker_id_);
    }
    *req.mutable_lease() = lease_;
    s = agent_->Call(&v1::WorkerService::StubInterface::Heartbeat, req, &resp, once, kRpcTimeout);
    if (s.ok() && resp.cancel()) cancelled_ = true;
  } else {
    v1::ReportEpochsRequest req;
    v1::ReportEpochsResponse resp;
    *req.mutable_lease() = lease_;
    for (const auto& e : batch) *req.add_epochs() = e;
    req.set_checkpoint_uri(uri);
    s = agent_->Call(&v1::WorkerService::StubInterface::ReportEpochs, req, &resp, once,
                     kRpcTimeout);
    if (s.ok()) {
      if (resp.cancel()) cancelled_ = true;
      if (resp.pruned()) MarkPruned(resp.prune_reason());
      absl::MutexLock lock(&mu_);
      pending_.erase(pending_.begin(),
                     pending_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
    }
  }
  if (IsLeaseLost(s)) {
    MarkLost(s);
  } else if (!s.ok() && !unreachable_logged_.exchange(true)) {
    OnLog(absl::StrCat("coordinator unreachable (", s.message(),
                       "); buffering reports and retrying"));
  } else if (s.ok() && unreachable_logged_.exchange(false)) {
    OnLog("coordinator reachable again");
  }
  return s;
}

void Agent::TrialRun::KeeperLoop() {
  RetryOptions retry = agent_->options_.retry;
  retry.max_backoff = std::min(retry.max_backoff, absl::Milliseconds(heartbeat_ms_));
  retry.stop = [this] { return lost_.load() || Done(); };
  retry.sleep = [this](absl::Duration d) { WaitUntilDone(d); };
  int failures = 0;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto woke = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done_ || !pending_.empty(); };
      // After a failure that Retry gave up on (a code it does not retry), wait before trying
      // again instead of spinning on the pending epochs.
      if (failures > 0) {
        mu_.AwaitWithTimeout(absl::Condition(&done_), Backoff(retry, failures));
      } else {
        mu_.AwaitWithTimeout(absl::Condition(&woke), absl::Milliseconds(heartbeat_ms_));
      }
      if (done_ || lost_) return;
    }
    absl::Status s = Retry(retry, [this](int) { return SendPending(); });
    failures = s.ok() ? 0 : failures + 1;
  }
}

bool Agent::TrialRun::Done() {
  absl::MutexLock lock(&mu_);
  return done_;
}

void Agent::TrialRun::WaitUntilDone(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&done_), d);
}

}  // namespace hypersweep
