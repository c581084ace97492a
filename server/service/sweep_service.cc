#include <deque>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/lr_finder.h"
#include "core/metrics.h"
#include "server/service/convert.h"
#include "server/service/services.h"

namespace hypersweep {
namespace {

constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 10'000;
constexpr int kMaxMetricTrials = 10'000;
// Events a watcher may have queued before they coalesce into the latest state.
constexpr size_t kMaxQueuedEvents = 64;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const grpc::Status& s) {
  auto* r = ctx->DefaultReactor();
  r->Finish(s);
  return r;
}

absl::StatusOr<int64_t> PageOffset(const std::string& token) {
  if (token.empty()) return 0;
  int64_t offset;
  if (!absl::SimpleAtoi(token, &offset) || offset < 0) {
    return absl::InvalidArgumentError("page_token: not a token this server gave out");
  }
  return offset;
}

// The page size a request asks for: kDefaultPage when it names none, at most kMaxPage.
int64_t PageSize(int32_t requested) {
  return requested > 0 ? std::min(requested, kMaxPage) : kDefaultPage;
}

// One page of `all` from `offset` into `out`: at most `size` items, and none once the page has
// reached kMaxResponseBytes. Returns the next page's token, "" after the last item.
template <typename T, typename Repeated>
std::string FillPage(const std::vector<T>& all, int64_t offset, int64_t size, Repeated* out) {
  const int64_t n = static_cast<int64_t>(all.size());
  size_t bytes = 0;
  int64_t i = offset;
  for (; i < n && i < offset + size && bytes < kMaxResponseBytes; ++i) {
    auto* item = out->Add();
    ToProto(all[i], item);
    bytes += item->ByteSizeLong();
  }
  return i < n ? absl::StrCat(i) : "";
}

// Streams a sweep's events: the current state first, then one per committed change, until the
// sweep is no longer running or the client goes away.
class WatchReactor : public grpc::ServerWriteReactor<v1::SweepEvent> {
 public:
  WatchReactor(Scheduler* sched, const std::string& sweep_id) : sched_(sched) {
    auto info = sched_->GetSweep(sweep_id);
    if (!info.ok()) {
      Finish(ToGrpc(info.status()));
      return;
    }
    sub_ = sched_->Subscribe(sweep_id, [this](const SweepEvent& e) { Push(e); });
    subscribed_ = true;
    // Taken after subscribing, so no change is missed (one may be seen twice).
    auto now = sched_->GetSweep(sweep_id);
    SweepEvent first;
    first.sweep = *now;
    Push(first, /*front=*/true);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    WriteNextLocked();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }
  void OnDone() override {
    if (subscribed_) sched_->Unsubscribe(sub_);  // after this no Push() runs
    delete this;
  }

 private:
  void Push(const SweepEvent& e, bool front = false) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    v1::SweepEvent p;
    ToProto(e, &p);
    if (!front && queue_.size() >= kMaxQueuedEvents) {
      // A slow reader: what it has not received yet coalesces into the latest state, so a stalled
      // watcher holds at most kMaxQueuedEvents events, whatever the sweep's rate of change.
      queue_.clear();
      p.clear_trial();
      p.clear_epochs();
    }
    front ? queue_.push_front(std::move(p)) : queue_.push_back(std::move(p));
    WriteNextLocked();
  }
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (queue_.empty()) {
      if (ended_) FinishLocked(grpc::Status::OK);
      return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    if (current_.sweep().state() != v1::SWEEP_RUNNING) ended_ = true;
    writing_ = true;
    StartWrite(&current_);
  }
  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  Scheduler* const sched_;
  uint64_t sub_ = 0;
  bool subscribed_ = false;
  absl::Mutex mu_;  // guards the write queue and the stream's progress flags
  std::deque<v1::SweepEvent> queue_ ABSL_GUARDED_BY(mu_);
  v1::SweepEvent current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerUnaryReactor* SweepServiceImpl::SubmitSweep(grpc::CallbackServerContext* ctx,
                                                        const v1::SubmitSweepRequest* req,
                                                        v1::SubmitSweepResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  // Parsing and expanding a spec takes time in proportion to its size: it runs on the submit
  // threads, so that a large spec never holds a callback thread that workers' calls need.
  Scheduler* sched = sched_;
  const bool accepted = submits_.TrySchedule([sched, reactor, req, resp] {
    const bool dry_run = req->dry_run();
    sched->SubmitSweep(
        req->spec(), dry_run, req->max_attempts(),
        [reactor, resp, dry_run](absl::StatusOr<SubmitResult> r) {
          if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
          ToProto(r->sweep, resp->mutable_sweep());
          // The expansion comes back for a dry run (that is its point) and is otherwise
          // summarised by the counts; ListTrials pages through it.
          if (dry_run) {
            size_t bytes = 0;
            for (const auto& t : r->trials) {
              v1::Trial* p = resp->add_trials();
              ToProto(t, p);
              bytes += p->ByteSizeLong();
              if (bytes > kMaxResponseBytes) {
                return reactor->Finish(grpc::Status(
                    grpc::StatusCode::RESOURCE_EXHAUSTED,
                    absl::StrCat("dry run: the expansion of ", r->trials.size(),
                                 " trials is larger than a response may be (", kMaxResponseBytes,
                                 " bytes); submit it and page with "
                                 "ListTrials, or dry-run a smaller grid")));
              }
            }
          }
          reactor->Finish(grpc::Status::OK);
        });
  });
  if (!accepted) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("submit: ", submits_.max_pending(),
                     " submissions are already waiting to be parsed; retry in a moment")));
  }
  return reactor;
}

grpc::ServerUnaryReactor* SweepServiceImpl::GetSweep(grpc::CallbackServerContext* ctx,
                                                     const v1::GetSweepRequest* req,
                                                     v1::GetSweepResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto info = sched_->GetSweep(req->sweep_id());
  if (!info.ok()) return Done(ctx, ToGrpc(info.status()));
  ToProto(*info, resp->mutable_sweep());
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SweepServiceImpl::ListSweeps(grpc::CallbackServerContext* ctx,
                                                       const v1::ListSweepsRequest* req,
                                                       v1::ListSweepsResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto offset = PageOffset(req->page_token());
  if (!offset.ok()) return Done(ctx, ToGrpc(offset.status()));
  resp->set_next_page_token(
      FillPage(sched_->ListSweeps(), *offset, PageSize(req->page_size()), resp->mutable_sweeps()));
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SweepServiceImpl::CancelSweep(grpc::CallbackServerContext* ctx,
                                                        const v1::CancelSweepRequest* req,
                                                        v1::CancelSweepResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  sched_->CancelSweep(req->sweep_id(), [reactor, resp](absl::StatusOr<SweepInfo> r) {
    if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
    ToProto(*r, resp->mutable_sweep());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* SweepServiceImpl::ListTrials(grpc::CallbackServerContext* ctx,
                                                       const v1::ListTrialsRequest* req,
                                                       v1::ListTrialsResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto offset = PageOffset(req->page_token());
  if (!offset.ok()) return Done(ctx, ToGrpc(offset.status()));
  auto sweep = sched_->GetSweep(req->sweep_id());
  if (!sweep.ok()) return Done(ctx, ToGrpc(sweep.status()));
  TrialQuery q;
  q.sweep_id = req->sweep_id();
  for (int s : req->status()) {
    if (s == v1::TRIAL_STATUS_UNSPECIFIED || !v1::TrialStatus_IsValid(s)) {
      return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "status: unknown value"));
    }
    q.statuses.insert(FromProto(static_cast<v1::TrialStatus>(s)));
  }
  q.sort_metric = req->sort_metric();
  if (metrics::IsTestMetric(q.sort_metric)) {
    // The test split is for reporting the final models; ranking on it is model selection on the
    // test set.
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  absl::StrCat("sort_metric: ", q.sort_metric,
                                               " is the final model's test-split score, reported "
                                               "but never used to rank trials; sort by a "
                                               "validation metric (val_*)")));
  }
  q.sort_by_final = req->sort_by() == v1::ListTrialsRequest::FINAL;
  q.order_by_index = req->sort_by() == v1::ListTrialsRequest::INDEX;
  if (req->goal() == v1::GOAL_UNSPECIFIED) {
    q.maximize = q.sort_metric == sweep->record.objective_metric && sweep->record.maximize;
  } else {
    q.maximize = req->goal() == v1::MAXIMIZE;
  }
  q.offset = *offset;
  q.limit = PageSize(req->page_size());
  auto page = sched_->ListTrials(q);
  if (!page.ok()) return Done(ctx, ToGrpc(page.status()));
  // A page ends early when it reaches kMaxResponseBytes; its token says where the next begins.
  size_t bytes = 0;
  int64_t next = q.offset;
  for (const auto& e : page->trials) {
    if (bytes >= kMaxResponseBytes) break;
    v1::Trial* t = resp->add_trials();
    ToProto(e.trial, t);
    if (e.best_value) t->set_best_value(*e.best_value);
    if (e.final_value) t->set_final_value(*e.final_value);
    bytes += t->ByteSizeLong();
    ++next;
  }
  resp->set_total(page->total);
  if (next < page->total) resp->set_next_page_token(absl::StrCat(next));
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SweepServiceImpl::GetTrialMetrics(grpc::CallbackServerContext* ctx,
                                                            const v1::GetTrialMetricsRequest* req,
                                                            v1::GetTrialMetricsResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  if (req->trial_ids_size() > kMaxMetricTrials) {
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  absl::StrCat("trial_ids: at most ", kMaxMetricTrials)));
  }
  std::set<std::string> metrics(req->metrics().begin(), req->metrics().end());
  // The answer may cover only the first trial_ids when the whole would pass kMaxResponseBytes;
  // the client asks again for the rest.
  size_t bytes = 0;
  for (const auto& id : req->trial_ids()) {
    if (bytes >= kMaxResponseBytes) break;
    auto epochs = sched_->GetEpochs(id, metrics);
    if (!epochs.ok()) return Done(ctx, ToGrpc(epochs.status()));
    v1::TrialMetrics* tm = resp->add_trials();
    tm->set_trial_id(id);
    for (const auto& e : *epochs) ToProto(e, tm->add_epochs());
    bytes += tm->ByteSizeLong();
  }
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SweepServiceImpl::GetLrCurve(grpc::CallbackServerContext* ctx,
                                                       const v1::GetLrCurveRequest* req,
                                                       v1::GetLrCurveResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto view = sched_->GetLrCurve(req->trial_id());
  if (!view.ok()) return Done(ctx, ToGrpc(view.status()));
  const LrCurveRecord* curve = &view->curve;
  if (view->rule) resp->set_rule(SuggestRuleName(*view->rule));
  resp->set_rule_error(view->rule_error);
  for (const auto& p : curve->points) {
    v1::LrCurvePoint* o = resp->add_points();
    o->set_step(p.step);
    o->set_lr(p.lr);
    if (p.diverged) {
      o->set_diverged(true);
    } else {
      o->set_loss(p.loss);
      o->set_smoothed_loss(p.smoothed_loss);
    }
  }
  if (curve->suggested_lr) resp->set_suggested_lr(*curve->suggested_lr);
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::SweepEvent>* SweepServiceImpl::WatchSweep(
    grpc::CallbackServerContext* ctx, const v1::WatchSweepRequest* req) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) {
    class Refused : public grpc::ServerWriteReactor<v1::SweepEvent> {
     public:
      explicit Refused(const grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refused(s);
  }
  return new WatchReactor(sched_, req->sweep_id());
}

grpc::ServerUnaryReactor* SweepServiceImpl::ListWorkers(grpc::CallbackServerContext* ctx,
                                                        const v1::ListWorkersRequest* req,
                                                        v1::ListWorkersResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto offset = PageOffset(req->page_token());
  if (!offset.ok()) return Done(ctx, ToGrpc(offset.status()));
  resp->set_next_page_token(FillPage(sched_->ListWorkers(), *offset, PageSize(req->page_size()),
                                     resp->mutable_workers()));
  return Done(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* SweepServiceImpl::ClearQuarantine(grpc::CallbackServerContext* ctx,
                                                            const v1::ClearQuarantineRequest* req,
                                                            v1::ClearQuarantineResponse* resp) {
  if (auto s = Authorize(auth_, Role::kOperator, ctx); !s.ok()) return Done(ctx, s);
  if (req->worker_id().empty()) {
    return Done(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "worker_id: required"));
  }
  auto* reactor = ctx->DefaultReactor();
  sched_->ClearQuarantine(req->worker_id(), [reactor, resp](absl::StatusOr<WorkerRecord> r) {
    if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
    ToProto(WorkerInfo{*r, 0}, resp->mutable_worker());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* SweepServiceImpl::ResumeSweep(grpc::CallbackServerContext* ctx,
                                                        const v1::ResumeSweepRequest* req,
                                                        v1::ResumeSweepResponse* resp) {
  if (auto s = Authorize(auth_, Role::kClient, ctx); !s.ok()) return Done(ctx, s);
  auto* reactor = ctx->DefaultReactor();
  sched_->ResumeSweep(req->sweep_id(), [reactor, resp](absl::StatusOr<SweepInfo> r) {
    if (!r.ok()) return reactor->Finish(ToGrpc(r.status()));
    ToProto(*r, resp->mutable_sweep());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace hypersweep
