// The worker daemon (agent.h): registration, the slots' acquire loop, and one trial from its
// lease to its finish: the spec's data paths confined to the data roots, the built-in trainer or
// a command trial, the LR curve or epochs reported, checkpoints kept or removed. A leased trial's
// report and heartbeat thread (Agent::TrialRun) is in agent_trial_run.cc.
#include "worker/agent/agent.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/checkpoint_ref.h"
#include "core/trial_spec.h"
#include "rpc/connection.h"
#include "rpc/status_policy.h"
#include "worker/agent/agent_internal.h"
#include "worker/command/command_trial.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace {

using agent_internal::Clock;
using agent_internal::kDrainDeadline;
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

void Agent::RunTrial(int slot, const v1::AcquireTrialResponse& acquired) {
  const v1::Trial& trial = acquired.trial();
  const auto started = Clock::now();
  int64_t ttl;
  {
    absl::MutexLock lock(&mu_);
    ttl = lease_ttl_ms_;
  }
  TrialRun run(this, acquired.lease(), std::max<int64_t>(100, ttl / 3));
  // Calls about this trial retry until they succeed, the lease is lost, or (when draining) the
  // drain deadline passes.
  RetryOptions trial_retry = options_.retry;
  trial_retry.stop = [&] {
    return run.lost() || (stopping_ && Clock::now() - started > kDrainDeadline);
  };
  run.OnLog(absl::StrFormat("acquired on slot %d (%d epochs reported before)", slot,
                            trial.epochs_reported()));

  auto finish = [&](v1::TrialStatus status, v1::FailureClass fc, const std::string& reason) {
    run.Flush();
    if (run.lost()) return;
    run.MarkFinishing();
    v1::FinishTrialRequest req;
    *req.mutable_lease() = run.lease();
    req.set_status(status);
    req.set_failure_class(fc);
    req.set_reason(reason);
    v1::FinishTrialResponse resp;
    absl::Status s =
        Call(&v1::WorkerService::StubInterface::FinishTrial, req, &resp, trial_retry, kRpcTimeout);
    if (s.ok()) {
      run.OnLog(absl::StrFormat(
          "finished %s%s in %.1fs%s", v1::TrialStatus_Name(status),
          status == v1::FAILED ? absl::StrCat(" (", v1::FailureClass_Name(fc), ")") : "",
          std::chrono::duration<double>(Clock::now() - started).count(),
          reason.empty() ? "" : absl::StrCat(": ", reason)));
    } else if (!IsRetryable(s)) {
      run.OnLog(absl::StrCat("finish rejected (", s.message(), "); dropping the trial"));
    }  // else: gave up while draining; the lease expires and the trial is requeued
  };
  auto failed = [&](const absl::Status& s) {
    const v1::FailureClass fc = FailureClassOf(s);
    // A USER_ERROR is the spec's fault (a bad data path, a model too large): it says nothing
    // about this worker, so it does not move the worker towards quarantining itself; otherwise
    // any client could quarantine every worker with a few bad sweeps.
    if (fc != v1::USER_ERROR &&
        consecutive_failures_.fetch_add(1) + 1 >= options_.max_consecutive_failures) {
      quarantined_ = true;
    }
    finish(v1::FAILED, fc, std::string(s.message()));
  };

  auto spec = ParseTrialSpec(trial.spec_json(), {});
  if (!spec.ok()) return failed(spec.status());
  // A command trial runs a program (worker/command/, docs/COMMAND_TRIALS.md). One this worker does
  // not allow goes back to the queue without using up an attempt, for a worker that allows it;
  // this slot waits a little before polling again so that such a worker gets it first.
  const bool command = spec->command.present();
  if (command && !CommandAllowed(options_.allow_command, spec->command.argv[0])) {
    finish(v1::FAILED, v1::PREEMPTED,
           "refused: this worker does not run command trials of this program (--allow-command)");
    return SleepUnlessStopping(absl::Seconds(2));
  }
  if (!command) {
    if (absl::Status s = ConfineDataPaths(options_, spec->dataset); !s.ok()) return failed(s);
    if (absl::Status s = ConfineModelPath(options_, spec->model); !s.ok()) return failed(s);
  }

  TrainOptions to;
  to.device = options_.device;
  to.threads = options_.threads;
  to.cache = cache_;
  to.data_limits = options_.data_limits;
  to.should_stop = [&] { return stopping_.load() || run.cancelled() || run.lost(); };
  CommandTrialOptions co{trial.id(),
                         trial.attempt(),
                         options_.checkpoint_dir,
                         DataRoots{options_.data_root, options_.allowed_data_roots},
                         options_.command_grace,
                         InheritedEnvironment(environ),
                         to.should_stop};

  if (std::holds_alternative<LrRangeTestSchedule>(spec->schedule.kind)) {
    auto r = command                  ? RunCommandLrRangeTest(*spec, co, &run)
             : options_.lr_range_test ? options_.lr_range_test(*spec, to, &run)
                                      : RunLrRangeTest(*spec, to, &run);
    if (!r.ok()) {
      if (absl::IsCancelled(r.status()) && stopping_)
        return finish(v1::FAILED, v1::PREEMPTED, "worker stopping");
      if (absl::IsCancelled(r.status())) return;  // cancelled or lease lost
      return failed(r.status());
    }
    v1::ReportLrCurveRequest req;
    *req.mutable_lease() = run.lease();
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
    absl::Status s = Call(&v1::WorkerService::StubInterface::ReportLrCurve, req, &resp, trial_retry,
                          kRpcTimeout);
    if (IsLeaseLost(s)) return run.MarkLost(s);
    if (run.lost()) return;
    if (!s.ok())
      return failed(absl::UnavailableError(absl::StrCat("reporting the LR curve: ", s.message())));
    consecutive_failures_ = 0;
    if (!r->suggestions.AnyOk()) {  // no rule has an LR (e.g. the loss never fell): say why
      return finish(v1::FAILED, v1::USER_ERROR,
                    std::string(r->suggestions.Get(SuggestRule::kMinDiv10).status().message()));
    }
    return finish(v1::SUCCEEDED, v1::FAILURE_CLASS_UNSPECIFIED, "");
  }

  // Each attempt writes its own checkpoint file, so a stale attempt (a worker that was paused past
  // its lease) can never overwrite the current one's. The previous attempt's file, as last
  // reported to the coordinator, is where a requeued trial resumes from when it is readable here.
  // The coordinator hears only the file name (core/checkpoint_ref.h); a reference it hands back is
  // looked up in --checkpoint-dir alone, so no report can point a worker at another file.
  const std::string own_name = CheckpointFileName(trial.id(), trial.attempt());
  to.checkpoint_path = (std::filesystem::path(options_.checkpoint_dir) / own_name).string();
  const std::string& ref = trial.checkpoint_uri();
  if (std::string path = ResolveCheckpointRef(options_.checkpoint_dir, trial.id(), ref);
      !path.empty()) {
    to.resume = true;
    to.resume_path = path;
  } else if (!ref.empty() && !IsOwnCheckpointRef(ref, trial.id(), trial.attempt())) {
    run.OnLog(absl::StrFormat(
        "checkpoint '%s' of the earlier attempt is not under --checkpoint-dir; restarting from "
        "epoch 0",
        ref));
  } else if (trial.epochs_reported() > 0 || !ref.empty()) {
    run.OnLog(absl::StrFormat(
        "checkpoint '%s' of the earlier attempt is not readable here; restarting from epoch 0",
        ref));
  }
  run.SetCheckpoint(own_name);
  auto result = command          ? RunCommandTrial(*spec, co, &run)
                : options_.train ? options_.train(*spec, to, &run)
                                 : TrainTrial(*spec, to, &run);
  if (!result.ok() && absl::IsCancelled(result.status())) {  // stopped while loading
    if (run.lost()) return;
    if (run.cancelled())
      return finish(v1::CANCELLED, v1::FAILURE_CLASS_UNSPECIFIED, "sweep cancelled");
    if (stopping_) return finish(v1::FAILED, v1::PREEMPTED, "worker stopping");
  }
  if (!result.ok()) return failed(result.status());
  // Epochs restored from the checkpoint may postdate the last report that reached the coordinator.
  std::vector<EpochMetrics> restored(
      result->epochs.begin(),
      result->epochs.begin() + std::min<size_t>(result->start_epoch, result->epochs.size()));
  run.Requeue(restored);
  switch (result->outcome) {
    case TrialOutcome::kSucceeded:
    case TrialOutcome::kDiverged:
      consecutive_failures_ = 0;
      finish(result->outcome == TrialOutcome::kSucceeded ? v1::SUCCEEDED : v1::DIVERGED,
             v1::FAILURE_CLASS_UNSPECIFIED, result->reason);
      // A trial pruned on its last report is final too: its checkpoint is of no further use.
      if (!run.lost() ||
          run.pruned()) {  // only files this worker wrote for this trial, in --checkpoint-dir
        RemoveOwnCheckpoint(options_.checkpoint_dir, trial.id(), to.checkpoint_path);
        if (to.resume) RemoveOwnCheckpoint(options_.checkpoint_dir, trial.id(), to.resume_path);
      }
      return;
    case TrialOutcome::kStopped:
      if (run.pruned()) {  // final on the coordinator: nothing to finish, nothing to resume
        RemoveOwnCheckpoint(options_.checkpoint_dir, trial.id(), to.checkpoint_path);
        if (to.resume) RemoveOwnCheckpoint(options_.checkpoint_dir, trial.id(), to.resume_path);
        return;
      }
      if (run.lost()) {
        run.OnLog("lease lost; trial dropped");
        return;
      }
      if (run.cancelled()) {
        // Tell the coordinator now rather than letting the lease run out.
        finish(v1::CANCELLED, v1::FAILURE_CLASS_UNSPECIFIED, "sweep cancelled");
        return;
      }
      finish(v1::FAILED, v1::PREEMPTED, absl::StrCat("worker stopping; ", result->reason));
      return;
  }
}

}  // namespace hypersweep
