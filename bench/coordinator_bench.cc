// Coordinator benchmark (not a test): starts hypersweepd on a file database and drives it over
// gRPC. Modes:
//   throughput: W simulated workers each loop acquire -> R epoch reports -> finish.
//   query:      a sweep of N trials x E epochs, then ListTrials sorted by best val_loss.
//   idle:       K workers long-polling an empty queue at once; hypersweepd's RSS.
// Prints one JSON object per mode on stdout.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "hypersweep/v1/service.grpc.pb.h"
#include "tests/support/coordinator_process.h"

namespace hypersweep {
namespace {

namespace v1 = ::hypersweep::v1;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// hypersweepd on a free loopback port; exits the benchmark if it does not start.
class Daemon : public test_support::CoordinatorProcess {
 public:
  Daemon(const std::string& binary, const std::string& db, const std::vector<std::string>& extra)
      : CoordinatorProcess(binary, db, extra) {
    if (port() == 0) {
      std::cerr << "hypersweepd did not start: " << first_line() << "\n";
      std::exit(1);
    }
  }
  ~Daemon() { Kill(SIGTERM); }
};

std::unique_ptr<grpc::ClientContext> Ctx(int ms = 60'000) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return c;
}

std::string SweepSpec(int trials, int epochs) {
  return absl::StrCat("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nepochs: ", epochs,
                      "\nrandom: {trials: ", trials,
                      ", params: {weight_decay: {log_uniform: [1e-6, 1e-2]}}}\n");
}

std::string Submit(v1::SweepService::Stub* stub, int trials, int epochs) {
  v1::SubmitSweepRequest req;
  req.set_spec(SweepSpec(trials, epochs));
  v1::SubmitSweepResponse resp;
  grpc::Status s = stub->SubmitSweep(Ctx().get(), req, &resp);
  if (!s.ok()) {
    std::cerr << "submit: " << s.error_message() << "\n";
    std::exit(1);
  }
  return resp.sweep().id();
}

struct Counters {
  std::atomic<int64_t> trials{0}, reports{0}, errors{0};
};

// acquire -> `reports` ReportEpochs calls of `per_call` epochs each -> finish, until no work.
void SimWorker(std::shared_ptr<grpc::Channel> channel, int reports, int per_call, Counters* c) {
  auto stub = v1::WorkerService::NewStub(channel);
  v1::RegisterWorkerRequest reg;
  reg.mutable_capabilities()->set_host("bench");
  v1::RegisterWorkerResponse regr;
  if (!stub->RegisterWorker(Ctx().get(), reg, &regr).ok()) {
    ++c->errors;
    return;
  }
  for (;;) {
    v1::AcquireTrialRequest req;
    req.set_worker_id(regr.worker_id());
    v1::AcquireTrialResponse a;
    if (!stub->AcquireTrial(Ctx().get(), req, &a).ok()) {
      ++c->errors;
      return;
    }
    if (!a.acquired()) return;
    for (int r = 0; r < reports; ++r) {
      v1::ReportEpochsRequest rep;
      *rep.mutable_lease() = a.lease();
      for (int k = 0; k < per_call; ++k) {
        v1::EpochMetrics* m = rep.add_epochs();
        const int e = r * per_call + k;
        m->set_epoch(e);
        auto& mm = *m->mutable_metrics();
        mm["train_loss"] = 1.0 / (e + 1);
        mm["val_loss"] = 1.0 / (e + 1) + (a.trial().index() % 97) * 1e-3;
        mm["val_accuracy"] = 0.5 + 0.004 * e;
        mm["lr"] = 0.1;
        mm["seconds"] = 1.0;
      }
      v1::ReportEpochsResponse repr;
      if (!stub->ReportEpochs(Ctx().get(), rep, &repr).ok()) {
        ++c->errors;
        return;
      }
      ++c->reports;
    }
    v1::FinishTrialRequest f;
    *f.mutable_lease() = a.lease();
    f.set_status(v1::SUCCEEDED);
    v1::FinishTrialResponse fr;
    if (!stub->FinishTrial(Ctx().get(), f, &fr).ok()) {
      ++c->errors;
      return;
    }
    ++c->trials;
  }
}

void RunWorkers(const Daemon& d, int workers, int reports, int per_call, Counters* c) {
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back(SimWorker, d.Channel(i % 16), reports, per_call, c);
  }
  for (auto& t : threads) t.join();
}

// The same simulated worker as SimWorker, as a chain of callback-API calls instead of a blocked
// thread: 64 of them cost the client far less CPU than 64 threads (which matters when client and
// server share a small machine).
class AsyncSimWorker {
 public:
  AsyncSimWorker(v1::WorkerService::Stub* stub, int reports, Counters* c,
                 std::function<void()> done)
      : stub_(stub), reports_(reports), c_(c), done_(std::move(done)) {}

  void Start() {
    auto* req = new v1::RegisterWorkerRequest;
    auto* resp = new v1::RegisterWorkerResponse;
    ctx_ = Ctx();
    stub_->async()->RegisterWorker(ctx_.get(), req, resp, [this, req, resp](grpc::Status s) {
      worker_id_ = resp->worker_id();
      delete req;
      delete resp;
      if (!s.ok()) return Fail();
      Acquire();
    });
  }

 private:
  void Fail() {
    ++c_->errors;
    done_();
  }
  void Acquire() {
    ctx_ = Ctx();
    acquire_req_.set_worker_id(worker_id_);
    acquire_resp_.Clear();
    stub_->async()->AcquireTrial(ctx_.get(), &acquire_req_, &acquire_resp_, [this](grpc::Status s) {
      if (!s.ok()) return Fail();
      if (!acquire_resp_.acquired()) return done_();
      Report(0);
    });
  }
  void Report(int r) {
    if (r == reports_) return Finish();
    ctx_ = Ctx();
    report_req_.Clear();
    *report_req_.mutable_lease() = acquire_resp_.lease();
    v1::EpochMetrics* m = report_req_.add_epochs();
    m->set_epoch(r);
    auto& mm = *m->mutable_metrics();
    mm["train_loss"] = 1.0 / (r + 1);
    mm["val_loss"] = 1.0 / (r + 1) + (acquire_resp_.trial().index() % 97) * 1e-3;
    mm["val_accuracy"] = 0.5 + 0.004 * r;
    mm["lr"] = 0.1;
    mm["seconds"] = 1.0;
    stub_->async()->ReportEpochs(ctx_.get(), &report_req_, &report_resp_,
                                 [this, r](grpc::Status s) {
                                   if (!s.ok()) return Fail();
                                   ++c_->reports;
                                   Report(r + 1);
                                 });
  }
  void Finish() {
    ctx_ = Ctx();
    finish_req_.Clear();
    *finish_req_.mutable_lease() = acquire_resp_.lease();
    finish_req_.set_status(v1::SUCCEEDED);
    stub_->async()->FinishTrial(ctx_.get(), &finish_req_, &finish_resp_, [this](grpc::Status s) {
      if (!s.ok()) return Fail();
      ++c_->trials;
      Acquire();
    });
  }

  v1::WorkerService::Stub* const stub_;
  const int reports_;
  Counters* const c_;
  std::function<void()> done_;
  std::string worker_id_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  v1::AcquireTrialRequest acquire_req_;
  v1::AcquireTrialResponse acquire_resp_;
  v1::ReportEpochsRequest report_req_;
  v1::ReportEpochsResponse report_resp_;
  v1::FinishTrialRequest finish_req_;
  v1::FinishTrialResponse finish_resp_;
};

void RunAsyncWorkers(const Daemon& d, int workers, int reports, Counters* c) {
  std::vector<std::unique_ptr<v1::WorkerService::Stub>> stubs;
  for (int i = 0; i < 16; ++i) stubs.push_back(v1::WorkerService::NewStub(d.Channel(i)));
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  std::vector<std::unique_ptr<AsyncSimWorker>> sims;
  for (int i = 0; i < workers; ++i) {
    sims.push_back(std::make_unique<AsyncSimWorker>(stubs[i % 16].get(), reports, c, [&] {
      std::lock_guard<std::mutex> l(mu);
      ++finished;
      cv.notify_all();
    }));
  }
  for (auto& s : sims) s->Start();
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return finished == workers; });
}

int Run(int argc, char** argv) {
  CLI::App app{"hypersweep coordinator benchmark"};
  std::string binary = HYPERSWEEPD_BIN, dir = "/tmp/hs-bench";
  std::string mode = "all";
  int workers = 64, trials = 5000, reports = 10, query_trials = 10'000, query_epochs = 50,
      idle = 1000;
  bool no_sync = false, sync_client = false;
  app.add_flag("--sync-client", sync_client,
               "one blocked thread per simulated worker instead of callback-API chains");
  app.add_option("--hypersweepd", binary, "coordinator binary")->capture_default_str();
  app.add_option("--dir", dir, "directory for the database files")->capture_default_str();
  app.add_option("--mode", mode, "throughput | query | idle | all")->capture_default_str();
  app.add_option("--workers", workers, "simulated workers")->capture_default_str();
  app.add_option("--trials", trials, "trials in the throughput sweep")->capture_default_str();
  app.add_option("--reports", reports, "epoch reports per trial")->capture_default_str();
  app.add_option("--query-trials", query_trials)->capture_default_str();
  app.add_option("--query-epochs", query_epochs)->capture_default_str();
  app.add_option("--idle", idle, "idle long-polling workers")->capture_default_str();
  app.add_flag("--no-sync", no_sync, "run hypersweepd with --no-sync");
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(dir);
  std::vector<std::string> extra;
  if (no_sync) extra.push_back("--no-sync");

  if (mode == "throughput" || mode == "all") {
    const std::string db = dir + "/throughput.db";
    for (auto suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
    Daemon d(binary, db, extra);
    auto sweeps = v1::SweepService::NewStub(d.Channel());
    Submit(sweeps.get(), trials, reports);
    Counters c;
    const double cpu0 = d.CpuSeconds();
    const auto t0 = Clock::now();
    if (sync_client) {
      RunWorkers(d, workers, reports, 1, &c);
    } else {
      RunAsyncWorkers(d, workers, reports, &c);
    }
    const double s = Seconds(Clock::now() - t0);
    const double server_cpu = d.CpuSeconds() - cpu0;
    std::printf(
        "{\"mode\": \"throughput\", \"workers\": %d, \"trials\": %lld, \"reports\": %lld, "
        "\"errors\": %lld, \"seconds\": %.3f, \"trials_per_s\": %.1f, \"reports_per_s\": %.1f, "
        "\"rpcs_per_s\": %.1f, \"server_cpu_s\": %.2f, \"sync\": %s, \"client\": \"%s\"}\n",
        workers, static_cast<long long>(c.trials), static_cast<long long>(c.reports),
        static_cast<long long>(c.errors), s, c.trials / s, c.reports / s,
        (c.trials * 2 + c.reports) / s, server_cpu, no_sync ? "false" : "true",
        sync_client ? "threads" : "callback");
    std::fflush(stdout);
  }
  if (mode == "query" || mode == "all") {
    const std::string db = dir + "/query.db";
    for (auto suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
    Daemon d(binary, db, {"--no-sync"});  // loading speed is not what is measured here
    auto sweeps = v1::SweepService::NewStub(d.Channel());
    const std::string sweep = Submit(sweeps.get(), query_trials, query_epochs);
    Counters c;
    const auto t_load = Clock::now();
    RunWorkers(d, 16, 1, query_epochs, &c);  // all epochs of a trial in one report
    const double load_s = Seconds(Clock::now() - t_load);
    auto time_query = [&](int page_size) {
      std::vector<double> ms;
      v1::ListTrialsResponse resp;
      for (int i = 0; i < 21; ++i) {
        v1::ListTrialsRequest req;
        req.set_sweep_id(sweep);
        req.set_sort_metric("val_loss");
        req.set_page_size(page_size);
        resp.Clear();
        const auto t0 = Clock::now();
        grpc::Status s = sweeps->ListTrials(Ctx().get(), req, &resp);
        ms.push_back(Seconds(Clock::now() - t0) * 1000);
        if (!s.ok()) std::cerr << "ListTrials: " << s.error_message() << "\n";
      }
      std::sort(ms.begin(), ms.end());
      return std::make_pair(ms[ms.size() / 2], ms.back());
    };
    auto [p100_median, p100_max] = time_query(100);
    auto [all_median, all_max] = time_query(10'000);
    std::printf(
        "{\"mode\": \"query\", \"trials\": %lld, \"epochs_per_trial\": %d, \"load_seconds\": %.1f, "
        "\"list_trials_sorted_best_val_loss_page100_ms\": {\"median\": %.2f, \"max\": %.2f}, "
        "\"list_trials_sorted_best_val_loss_page10000_ms\": {\"median\": %.2f, \"max\": %.2f}}\n",
        static_cast<long long>(c.trials), query_epochs, load_s, p100_median, p100_max, all_median,
        all_max);
    std::fflush(stdout);
  }
  if (mode == "idle" || mode == "all") {
    const std::string db = dir + "/idle.db";
    for (auto suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
    Daemon d(binary, db, {"--max-wait", "120s"});
    const double rss_before = d.RssMiB();
    auto channel = d.Channel();
    auto stub = v1::WorkerService::NewStub(channel);
    v1::RegisterWorkerRequest reg;
    v1::RegisterWorkerResponse regr;
    if (!stub->RegisterWorker(Ctx().get(), reg, &regr).ok()) return 1;
    struct Call {
      grpc::ClientContext ctx;
      v1::AcquireTrialRequest req;
      v1::AcquireTrialResponse resp;
    };
    std::vector<std::unique_ptr<Call>> calls;
    std::mutex mu;
    std::condition_variable cv;
    int finished = 0;
    for (int i = 0; i < idle; ++i) {
      auto call = std::make_unique<Call>();
      call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      call->req.set_worker_id(regr.worker_id());
      call->req.set_max_wait_ms(30'000);
      stub->async()->AcquireTrial(&call->ctx, &call->req, &call->resp, [&](grpc::Status) {
        std::lock_guard<std::mutex> l(mu);
        ++finished;
        cv.notify_all();
      });
      calls.push_back(std::move(call));
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));  // all parked
    const double rss_idle = d.RssMiB();
    int returned_early;
    {
      std::lock_guard<std::mutex> l(mu);
      returned_early = finished;  // should be 0: every call is parked
    }
    // One submit wakes waiters: as many as there are trials.
    auto sweeps = v1::SweepService::NewStub(d.Channel());
    Submit(sweeps.get(), 10, 1);
    const auto t0 = Clock::now();
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, std::chrono::seconds(10), [&] { return finished >= 10; });
    }
    const double wake_ms = Seconds(Clock::now() - t0) * 1000;
    int early;
    {
      std::lock_guard<std::mutex> l(mu);
      early = finished;
    }
    for (auto& c : calls) c->ctx.TryCancel();
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, std::chrono::seconds(30), [&] { return finished >= idle; });
    }
    std::printf(
        "{\"mode\": \"idle\", \"long_polls\": %d, \"rss_mib_before\": %.1f, "
        "\"rss_mib_with_long_polls\": %.1f, \"returned_before_submit\": %d, "
        "\"woken_by_submit\": %d, \"wake_ms\": %.1f}\n",
        idle, rss_before, rss_idle, returned_early, early - returned_early, wake_ms);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace hypersweep

int main(int argc, char** argv) { return hypersweep::Run(argc, argv); }
