// Agent::Attempt (agent_internal.h): one leased trial from its lease to its finish, and the two
// ways a slot trains what it acquired: alone (Agent::RunTrial) or as a pack (Agent::RunPack,
// docs/PACKING.md), where every member keeps its own lease, reports, checkpoint and finish.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/checkpoint_ref.h"
#include "core/trial_spec.h"
#include "rpc/status_policy.h"
#include "worker/agent/agent_internal.h"
#include "worker/command/command_trial.h"
#include "worker/trainer/packed_trainer.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace {

using agent_internal::Clock;
using agent_internal::kDrainDeadline;
using agent_internal::kRpcTimeout;

// Replaces the data paths the spec names by their canonical paths when they lie under the
// worker's data roots; INVALID_ARGUMENT naming the field otherwise (nothing is opened).
absl::Status ConfineDataPaths(const AgentOptions& o, DatasetSpec& d) {
  const DataRoots roots{o.data_root, o.allowed_data_roots};
  auto confine = [&](std::string& path, const std::string& field, PathKind kind) -> absl::Status {
    auto c = ConfineDataPath(roots, path, field, kind);
    if (!c.ok()) return c.status();
    path = *c;
    return absl::OkStatus();
  };
  switch (d.kind) {
    case DatasetSpec::Kind::kFashionMnist:
    case DatasetSpec::Kind::kMnist:
      return confine(
          d.root,
          d.kind == DatasetSpec::Kind::kMnist ? "dataset.mnist.root" : "dataset.fashion_mnist.root",
          PathKind::kDirectory);
    case DatasetSpec::Kind::kCsv:
      if (absl::Status s = confine(d.csv.path, "dataset.csv.path", PathKind::kFile); !s.ok())
        return s;
      if (d.csv.test_path.empty()) return absl::OkStatus();
      return confine(d.csv.test_path, "dataset.csv.test_path", PathKind::kFile);
    case DatasetSpec::Kind::kHdf5:
      return confine(d.hdf5.path, "dataset.hdf5.path", PathKind::kFile);
    case DatasetSpec::Kind::kSynthetic:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// A TorchScript model file is named by the spec as a data file is, and confined the same way.
absl::Status ConfineModelPath(const AgentOptions& o, ModelSpec& m) {
  if (m.kind != ModelSpec::Kind::kTorchScript) return absl::OkStatus();
  auto c = ConfineDataPath(DataRoots{o.data_root, o.allowed_data_roots}, m.script_path,
                           "model.torchscript.path", PathKind::kFile);
  if (!c.ok()) return c.status();
  m.script_path = *c;
  return absl::OkStatus();
}

v1::FailureClass FailureClassOf(const absl::Status& s) {
  if (absl::IsInvalidArgument(s)) return v1::USER_ERROR;
  if (absl::IsResourceExhausted(s)) return v1::OUT_OF_MEMORY;
  return v1::TRANSIENT;
}

}  // namespace

int64_t Agent::HeartbeatMs() {
  absl::MutexLock lock(&mu_);
  return std::max<int64_t>(100, lease_ttl_ms_ / 3);
}

Agent::Attempt::Attempt(Agent* agent, int slot, const v1::LeaseRef& lease, const v1::Trial& trial,
                        int64_t heartbeat_ms)
    : agent_(agent),
      trial_(trial),
      started_(Clock::now()),
      run_(agent, lease, heartbeat_ms),
      retry_(agent->options_.retry) {
  retry_.stop = [this] {
    return run_.lost() || (agent_->stopping_ && Clock::now() - started_ > kDrainDeadline);
  };
  run_.OnLog(absl::StrFormat("acquired on slot %d (%d epochs reported before)", slot,
                             trial.epochs_reported()));
}

void Agent::Attempt::Finish(v1::TrialStatus status, v1::FailureClass fc,
                            const std::string& reason) {
  run_.Flush();
  if (run_.lost()) return;
  run_.MarkFinishing();
  v1::FinishTrialRequest req;
  *req.mutable_lease() = run_.lease();
  req.set_status(status);
  req.set_failure_class(fc);
  req.set_reason(reason);
  v1::FinishTrialResponse resp;
  absl::Status s =
      agent_->Call(&v1::WorkerService::StubInterface::FinishTrial, req, &resp, retry_, kRpcTimeout);
  if (s.ok()) {
    run_.OnLog(absl::StrFormat(
        "finished %s%s in %.1fs%s", v1::TrialStatus_Name(status),
        status == v1::FAILED ? absl::StrCat(" (", v1::FailureClass_Name(fc), ")") : "",
        std::chrono::duration<double>(Clock::now() - started_).count(),
        reason.empty() ? "" : absl::StrCat(": ", reason)));
  } else if (!IsRetryable(s)) {
    run_.OnLog(absl::StrCat("finish rejected (", s.message(), "); dropping the trial"));
  }  // else: gave up while draining; the lease expires and the trial is requeued
}

void Agent::Attempt::Failed(const absl::Status& s) {
  const v1::FailureClass fc = FailureClassOf(s);
  // A USER_ERROR is the spec's fault (a bad data path, a model too large): it says nothing
  // about this worker, so it does not move the worker towards quarantining itself; otherwise
  // any client could quarantine every worker with a few bad sweeps.
  if (fc != v1::USER_ERROR &&
      agent_->consecutive_failures_.fetch_add(1) + 1 >= agent_->options_.max_consecutive_failures) {
    agent_->quarantined_ = true;
  }
  Finish(v1::FAILED, fc, std::string(s.message()));
}

bool Agent::Attempt::Prepare() {
  const AgentOptions& o = agent_->options_;
  auto spec = ParseTrialSpec(trial_.spec_json(), {});
  if (!spec.ok()) {
    Failed(spec.status());
    return false;
  }
  spec_ = *std::move(spec);
  // A command trial runs a program (worker/command/, docs/COMMAND_TRIALS.md). One this worker does
  // not allow goes back to the queue without using up an attempt, for a worker that allows it;
  // this slot waits a little before polling again so that such a worker gets it first.
  command_ = spec_.command.present();
  if (command_ && !CommandAllowed(o.allow_command, spec_.command.argv[0])) {
    Finish(v1::FAILED, v1::PREEMPTED,
           "refused: this worker does not run command trials of this program (--allow-command)");
    agent_->SleepUnlessStopping(absl::Seconds(2));
    return false;
  }
  if (!command_) {
    absl::Status s = ConfineDataPaths(o, spec_.dataset);
    if (s.ok()) s = ConfineModelPath(o, spec_.model);
    if (!s.ok()) {
      Failed(s);
      return false;
    }
  }
  to_.device = o.device;
  to_.threads = o.threads;
  to_.cache = agent_->cache_;
  to_.data_limits = o.data_limits;
  to_.should_stop = [this] { return agent_->stopping_.load() || run_.cancelled() || run_.lost(); };
  if (std::holds_alternative<LrRangeTestSchedule>(spec_.schedule.kind)) return true;

  // Each attempt writes its own checkpoint file, so a stale attempt (a worker that was paused past
  // its lease) can never overwrite the current one's. The previous attempt's file, as last
  // reported to the coordinator, is where a requeued trial resumes from when it is readable here.
  // The coordinator hears only the file name (core/checkpoint_ref.h); a reference it hands back is
  // looked up in --checkpoint-dir alone, so no report can point a worker at another file.
  const std::string own_name = CheckpointFileName(trial_.id(), trial_.attempt());
  to_.checkpoint_path = (std::filesystem::path(o.checkpoint_dir) / own_name).string();
  const std::string& ref = trial_.checkpoint_uri();
  if (std::string path = ResolveCheckpointRef(o.checkpoint_dir, trial_.id(), ref); !path.empty()) {
    to_.resume = true;
    to_.resume_path = path;
  } else if (!ref.empty() && !IsOwnCheckpointRef(ref, trial_.id(), trial_.attempt())) {
    run_.OnLog(absl::StrFormat(
        "checkpoint '%s' of the earlier attempt is not under --checkpoint-dir; restarting from "
        "epoch 0",
        ref));
  } else if (trial_.epochs_reported() > 0 || !ref.empty()) {
    run_.OnLog(absl::StrFormat(
        "checkpoint '%s' of the earlier attempt is not readable here; restarting from epoch 0",
        ref));
  }
  run_.SetCheckpoint(own_name);
  return true;
}

bool Agent::Attempt::Packable() const {
  return !command_ && !agent_->options_.train &&
         !std::holds_alternative<LrRangeTestSchedule>(spec_.schedule.kind);
}

PackMember Agent::Attempt::Member() {
  PackMember m;
  m.spec = spec_;
  m.checkpoint_path = to_.checkpoint_path;
  m.resume = to_.resume;
  m.resume_path = to_.resume_path;
  m.should_stop = to_.should_stop;
  m.sink = &run_;
  return m;
}

CommandTrialOptions Agent::Attempt::CommandOptions() const {
  const AgentOptions& o = agent_->options_;
  return CommandTrialOptions{trial_.id(),      trial_.attempt(),
                             o.checkpoint_dir, DataRoots{o.data_root, o.allowed_data_roots},
                             o.command_grace,  InheritedEnvironment(environ),
                             to_.should_stop};
}

void Agent::Attempt::RangeTest() {
  const AgentOptions& o = agent_->options_;
  auto r = command_          ? RunCommandLrRangeTest(spec_, CommandOptions(), &run_)
           : o.lr_range_test ? o.lr_range_test(spec_, to_, &run_)
                             : RunLrRangeTest(spec_, to_, &run_);
  if (!r.ok()) {
    if (absl::IsCancelled(r.status()) && agent_->stopping_)
      return Finish(v1::FAILED, v1::PREEMPTED, "worker stopping");
    if (absl::IsCancelled(r.status())) return;  // cancelled or lease lost
    return Failed(r.status());
  }
  v1::ReportLrCurveRequest req;
  *req.mutable_lease() = run_.lease();
  for (size_t i = 0; i < r->curve.size(); ++i) {
    auto* p = req.add_points();
    p->set_step(static_cast<int64_t>(i));
    p->set_lr(r->curve[i].lr);
    if (std::isfinite(r->curve[i].loss) && std::isfinite(r->curve[i].smoothed)) {
      p->set_loss(r->curve[i].loss);
      p->set_smoothed_loss(r->curve[i].smoothed);
    } else {
      p->set_diverged(true);
    }
  }
  // No suggested_lr: the coordinator applies the sweep's rule to the curve (the worker does not
  // know it).
  v1::ReportLrCurveResponse resp;
  absl::Status s = agent_->Call(&v1::WorkerService::StubInterface::ReportLrCurve, req, &resp,
                                retry_, kRpcTimeout);
  if (IsLeaseLost(s)) return run_.MarkLost(s);
  if (run_.lost()) return;
  if (!s.ok())
    return Failed(absl::UnavailableError(absl::StrCat("reporting the LR curve: ", s.message())));
  agent_->consecutive_failures_ = 0;
  if (!r->suggestions.AnyOk()) {  // no rule has an LR (e.g. the loss never fell): say why
    return Finish(v1::FAILED, v1::USER_ERROR,
                  std::string(r->suggestions.Get(SuggestRule::kMinDiv10).status().message()));
  }
  Finish(v1::SUCCEEDED, v1::FAILURE_CLASS_UNSPECIFIED, "");
}

void Agent::Attempt::RunAlone() {
  if (std::holds_alternative<LrRangeTestSchedule>(spec_.schedule.kind)) return RangeTest();
  const AgentOptions& o = agent_->options_;
  if (command_) {
    return Conclude(RunCommandTrial(spec_, CommandOptions(), &run_));
  }
  Conclude(o.train ? o.train(spec_, to_, &run_) : TrainTrial(spec_, to_, &run_));
}

void Agent::Attempt::Conclude(absl::StatusOr<TrialResult> result) {
  const std::string& dir = agent_->options_.checkpoint_dir;
  if (!result.ok() && absl::IsCancelled(result.status())) {  // stopped while loading
    if (run_.lost()) return;
    if (run_.cancelled())
      return Finish(v1::CANCELLED, v1::FAILURE_CLASS_UNSPECIFIED, "sweep cancelled");
    if (agent_->stopping_) return Finish(v1::FAILED, v1::PREEMPTED, "worker stopping");
  }
  if (!result.ok()) return Failed(result.status());
  // Epochs restored from the checkpoint may postdate the last report that reached the coordinator.
  std::vector<EpochMetrics> restored(
      result->epochs.begin(),
      result->epochs.begin() + std::min<size_t>(result->start_epoch, result->epochs.size()));
  run_.Requeue(restored);
  auto remove_checkpoints = [&] {  // only files this worker wrote for this trial, in dir
    RemoveOwnCheckpoint(dir, trial_.id(), to_.checkpoint_path);
    if (to_.resume) RemoveOwnCheckpoint(dir, trial_.id(), to_.resume_path);
  };
  switch (result->outcome) {
    case TrialOutcome::kSucceeded:
    case TrialOutcome::kDiverged:
      agent_->consecutive_failures_ = 0;
      Finish(result->outcome == TrialOutcome::kSucceeded ? v1::SUCCEEDED : v1::DIVERGED,
             v1::FAILURE_CLASS_UNSPECIFIED, result->reason);
      // A trial pruned on its last report is final too: its checkpoint is of no further use.
      if (!run_.lost() || run_.pruned()) remove_checkpoints();
      return;
    case TrialOutcome::kStopped:
      if (run_.pruned()) {  // final on the coordinator: nothing to finish, nothing to resume
        remove_checkpoints();
        return;
      }
      if (run_.lost()) {
        run_.OnLog("lease lost; trial dropped");
        return;
      }
      if (run_.cancelled()) {
        // Tell the coordinator now rather than letting the lease run out.
        Finish(v1::CANCELLED, v1::FAILURE_CLASS_UNSPECIFIED, "sweep cancelled");
        return;
      }
      Finish(v1::FAILED, v1::PREEMPTED, absl::StrCat("worker stopping; ", result->reason));
      return;
  }
}

void Agent::RunTrial(int slot, const v1::AcquireTrialResponse& acquired) {
  if (acquired.pack_size() > 0) return RunPack(slot, acquired);
  Attempt a(this, slot, acquired.lease(), acquired.trial(), HeartbeatMs());
  if (a.Prepare()) a.RunAlone();
}

void Agent::RunPack(int slot, const v1::AcquireTrialResponse& acquired) {
  // Every trial's lease is kept (heartbeats, reports) from here until its own finish, by its own
  // Attempt, whether it trains in the pack or alone after it.
  const int64_t heartbeat_ms = HeartbeatMs();
  std::vector<std::unique_ptr<Attempt>> all;
  all.push_back(
      std::make_unique<Attempt>(this, slot, acquired.lease(), acquired.trial(), heartbeat_ms));
  for (const v1::PackedTrial& p : acquired.pack()) {
    all.push_back(std::make_unique<Attempt>(this, slot, p.lease(), p.trial(), heartbeat_ms));
  }
  std::vector<Attempt*> packed, alone;
  for (auto& a : all) {
    if (!a->Prepare()) continue;
    (a->Packable() ? packed : alone).push_back(a.get());
  }
  if (packed.size() == 1) {
    alone.insert(alone.begin(), packed[0]);
    packed.clear();
  }
  if (!packed.empty()) {
    // A member that leaves the pack early (diverged, stopped, fewer epochs) is concluded at once
    // on a thread of its own, so its finish neither waits for the pack nor holds it up (a finish
    // retries while the coordinator is unreachable).
    std::vector<std::thread> early;
    std::vector<bool> concluded(packed.size(), false);  // touched by this thread only
    std::vector<PackMember> members;
    for (size_t i = 0; i < packed.size(); ++i) {
      members.push_back(packed[i]->Member());
      members.back().on_done = [&, i](const absl::StatusOr<TrialResult>& r) {
        concluded[i] = true;
        early.emplace_back([a = packed[i], r] { a->Conclude(r); });
      };
    }
    Log(absl::StrFormat("slot %d: training %d trials as one pack", slot, packed.size()));
    PackOptions po;
    po.device = options_.device;
    po.threads = options_.threads;
    po.cache = cache_;
    po.data_limits = options_.data_limits;
    std::vector<absl::StatusOr<TrialResult>> results = TrainPack(members, po);
    for (std::thread& t : early) t.join();
    for (size_t i = 0; i < packed.size(); ++i) {
      if (!concluded[i]) packed[i]->Conclude(std::move(results[i]));
    }
  }
  for (Attempt* a : alone) a->RunAlone();
}

}  // namespace hypersweep
