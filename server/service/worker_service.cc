#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/lr_finder.h"
#include "core/packing.h"
#include "server/scheduler/clock.h"
#include "server/service/convert.h"
#include "server/service/request_limits.h"
#include "server/service/services.h"

namespace hypersweep {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const grpc::Status& s) {
  auto* r = ctx->DefaultReactor();
  r->Finish(s);
  return r;
}

void ToProto(const TrialRecord& t, v1::LeaseRef* l) {
  l->set_trial_id(t.id);
  l->set_attempt(t.attempt);
  l->set_lease_token(t.lease_token);
}

void ToProto(const AcquireResult& r, v1::AcquireTrialResponse* resp) {
  resp->set_acquired(true);
  ToProto(r.trial, resp->mutable_lease());
  ToProto(r.trial, resp->mutable_trial());
  resp->set_lease_expiry_unix_ms(r.trial.lease_expiry_ms);
  for (const TrialRecord& t : r.pack) {
    v1::PackedTrial* p = resp->add_pack();
    ToProto(t, p->mutable_lease());
    ToProto(t, p->mutable_trial());
    p->set_lease_expiry_unix_ms(t.lease_expiry_ms);
  }
}

// A long-poll. The scheduler answers it exactly once (a lease, the deadline, or a cancel); if the
// client goes away first, OnCancel withdraws the waiter so the answer comes at once.
class AcquireReactor : public grpc::ServerUnaryReactor {
 public:
  AcquireReactor(Scheduler* sched, v1::AcquireTrialResponse* resp) : sched_(sched), resp_(resp) {}

  void Start(const std::string& worker_id, int64_t deadline_ms, int max_trials) {
    auto state = state_;
    Scheduler* const sched = sched_;
    const uint64_t id =
        sched->Acquire(worker_id, deadline_ms, max_trials, [this](absl::StatusOr<AcquireResult> r) {
          if (!r.ok()) return Finish(ToGrpc(r.status()));
          if (r->acquired) ToProto(*r, resp_);
          resp_->set_quarantined(r->quarantined);
          Finish(grpc::Status::OK);
        });
    // `this` may be gone here (answered at once); only the shared state is touched.
    bool cancel_now = false;
    {
      absl::MutexLock lock(&state->mu);
      state->waiter_id = id;
      cancel_now = state->cancelled;
    }
    if (cancel_now && id != 0) sched->CancelAcquire(id);
  }

  void OnCancel() override {
    uint64_t id;
    {
      absl::MutexLock lock(&state_->mu);
      state_->cancelled = true;
      id = state_->waiter_id;
    }
    if (id != 0) sched_->CancelAcquire(id);
  }
  void OnDone() override { delete this; }

 private:
  struct State {
    absl::Mutex mu;  // guards both fields
    uint64_t waiter_id ABSL_GUARDED_BY(mu) = 0;
    bool cancelled ABSL_GUARDED_BY(mu) = false;
  };
  Scheduler* const sched_;
  v1::AcquireTrialResponse* const resp_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

grpc::ServerUnaryReactor* WorkerServiceImpl::RegisterWorker(grpc::CallbackServerContext* ctx,
                                                            const v1::RegisterWorkerRequest* req,
                                                            v1::RegisterWorkerResponse* resp) {
  if (auto s = Authorize(auth_, Role::kWorker, ctx); !s.ok()) return Done(ctx, s);
  const std::string peer = PeerHost(ctx->peer());
  if (!registrations_.Allow(peer, SystemClock::Get()->NowMs())) {
    return Done(
        ctx, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("more than ", registrations_.rate(),
                                       " RegisterWorker calls per second (bursts of ",
                                       registrations_.burst(), ") from ", peer, "; retry later")));
  }
  if (auto s = CheckRegistration(*req); !s.ok()) return Done(ctx, ToGrpc(s));
  WorkerRecord w = FromProto(req->capabilities());
  w.id = req->worker_id();
  auto* reactor = ctx->DefaultReactor();
  const int64_t ttl = lease_ttl_ms_;
  sched_->RegisterWorker(w, [reactor, resp, ttl](absl::StatusOr<WorkerRecord> r) {
    if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
    resp->set_worker_id(r->id);
    resp->set_lease_ttl_ms(ttl);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::AcquireTrial(grpc::CallbackServerContext* ctx,
                                                          const v1::AcquireTrialRequest* req,
                                                          v1::AcquireTrialResponse* resp) {
  if (auto s = Authorize(auth_, Role::kWorker, ctx); !s.ok()) return Done(ctx, s);
  const int64_t now = SystemClock::Get()->NowMs();
  int64_t wait = std::clamp<int64_t>(req->max_wait_ms(), 0, max_wait_ms_);
  // Answer a little before the call's deadline so the empty answer arrives rather than
  // DEADLINE_EXCEEDED.
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    const int64_t left = std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - std::chrono::system_clock::now())
                             .count();
    wait = std::min(wait, std::max<int64_t>(0, left - std::min<int64_t>(200, left / 10)));
  }
  auto* reactor = new AcquireReactor(sched_, resp);
  // Old workers send no max_trials (0): one trial. Larger asks are cut to the server's bound.
  const int max_trials = std::clamp<int>(req->max_trials(), 1, kMaxPackTrials);
  reactor->Start(req->worker_id(), now + wait, max_trials);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(grpc::CallbackServerContext* ctx,
                                                       const v1::HeartbeatRequest* req,
                                                       v1::HeartbeatResponse* resp) {
  if (auto s = Authorize(auth_, Role::kWorker, ctx); !s.ok()) return Done(ctx, s);
  auto r = sched_->Heartbeat(req->worker_id(), FromProto(req->lease()));
  if (!r.ok()) return Done(ctx, ToGrpc(r.status()));
  resp->set_lease_expiry_unix_ms(r->lease_expiry_ms);
  resp->set_cancel(r->cancel);
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportEpochs(grpc::CallbackServerContext* ctx,
                                                          const v1::ReportEpochsRequest* req,
                                                          v1::ReportEpochsResponse* resp) {
  if (auto s = Authorize(auth_, Role::kWorker, ctx); !s.ok()) return Done(ctx, s);
  if (auto s = CheckEpochReport(*req); !s.ok()) return Done(ctx, ToGrpc(s));
  std::vector<EpochRecord> epochs;
  epochs.reserve(req->epochs_size());
  for (const auto& e : req->epochs()) epochs.push_back(FromProto(e));
  auto* reactor = ctx->DefaultReactor();
  sched_->ReportEpochs(FromProto(req->lease()), std::move(epochs), req->checkpoint_uri(),
                       [reactor, resp](absl::StatusOr<ReportResult> r) {
                         if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
                         resp->set_epochs_reported(r->epochs_reported);
                         resp->set_cancel(r->cancel);
                         resp->set_pruned(r->pruned);
                         resp->set_prune_reason(r->prune_reason);
                         reactor->Finish(grpc::Status::OK);
                       });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportLrCurve(grpc::CallbackServerContext* ctx,
                                                           const v1::ReportLrCurveRequest* req,
                                                           v1::ReportLrCurveResponse* resp) {
  if (auto s = Authorize(auth_, Role::kWorker, ctx); !s.ok()) return Done(ctx, s);
  if (req->points_size() > kMaxLrCurvePoints) {
    // The rule reads the curve under the scheduler's lock: its length is bounded.
    return Done(
        ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("points: ", req->points_size(),
                                       " points; a curve may have at most ", kMaxLrCurvePoints)));
  }
  LrCurveRecord curve;
  for (const auto& p : req->points()) {
    // A non-finite loss is a divergence however the worker said it.
    const bool diverged =
        p.diverged() || !std::isfinite(p.loss()) || !std::isfinite(p.smoothed_loss());
    curve.points.push_back(LrPoint{p.step(), p.lr(), diverged ? 0 : p.loss(),
                                   diverged ? 0 : p.smoothed_loss(), diverged});
  }
  // req->suggested_lr() is not read: the scheduler stores the LR of the sweep's rule instead.
  auto* reactor = ctx->DefaultReactor();
  sched_->ReportLrCurve(FromProto(req->lease()), std::move(curve),
                        [reactor](absl::StatusOr<bool> r) { reactor->Finish(ToGrpc(r.status())); });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::FinishTrial(grpc::CallbackServerContext* ctx,
                                                         const v1::FinishTrialRequest* req,
                                                         v1::FinishTrialResponse* resp) {
  if (auto s = Authorize(auth_, Role::kWorker, ctx); !s.ok()) return Done(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  if (req->status() == v1::TRIAL_STATUS_UNSPECIFIED || !v1::TrialStatus_IsValid(req->status())) {
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "status: unknown value"));
  }
  if (!v1::FailureClass_IsValid(req->failure_class())) {
    return Done(ctx,
                grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "failure_class: unknown value"));
  }
  sched_->FinishTrial(FromProto(req->lease()), FromProto(req->status()),
                      FromProto(req->failure_class()), BoundedReason(req->reason()),
                      [reactor, resp](absl::StatusOr<TrialStatus> r) {
                        if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
                        resp->set_status(ToProto(*r));
                        reactor->Finish(grpc::Status::OK);
                      });
  return reactor;
}

}  // namespace hypersweep
