// The worker agent against a scripted WorkerService (gmock's MockWorkerServiceStub) and an
// injected fake trainer: no server, no LibTorch training. Covers the retry contract of
// worker/agent/agent.h: transient UNAVAILABLE answers are retried (ReportEpochs, ReportLrCurve),
// a stale lease (ABORTED) drops the trial without retrying, a cancel answer stops training.
#include "worker/agent/agent.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hypersweep/v1/service_mock.grpc.pb.h"

namespace hypersweep {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
namespace fs = std::filesystem;

constexpr char kTrainSpec[] =
    R"({"dataset": {"synthetic": {}}, "schedule": {"constant": {"lr": 0.1}}, "epochs": 2})";
constexpr char kRangeTestSpec[] =
    R"({"dataset": {"synthetic": {}}, "schedule": {"lr_range_test": {}}})";

grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"); }
grpc::Status Aborted() { return grpc::Status(grpc::StatusCode::ABORTED, "stale lease token"); }

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hs-agent-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    options_.checkpoint_dir = dir_;
    options_.device = "cpu";
    options_.acquire_wait_ms = 100;
    options_.retry.initial_backoff = absl::Milliseconds(1);
    options_.retry.max_backoff = absl::Milliseconds(5);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Builds the agent and scripts registration (lease TTL 300 ms: a heartbeat every 100 ms) and
  // acquisition: the first AcquireTrial hands out one trial with `spec_json`, the next one stops
  // the agent. Heartbeat answers OK unless the test scripts it.
  void Start(const std::string& spec_json) {
    auto stub = std::make_unique<NiceMock<v1::MockWorkerServiceStub>>();
    stub_ = stub.get();
    agent_ = std::make_unique<Agent>(options_, std::move(stub));
    ON_CALL(*stub_, RegisterWorker(_, _, _))
        .WillByDefault(Invoke([](grpc::ClientContext*, const v1::RegisterWorkerRequest&,
                                 v1::RegisterWorkerResponse* resp) {
          resp->set_worker_id("w-1");
          resp->set_lease_ttl_ms(300);
          return grpc::Status::OK;
        }));
    ON_CALL(*stub_, Heartbeat(_, _, _)).WillByDefault(Invoke([this](auto*, const auto&, auto*) {
      ++heartbeats_;
      return grpc::Status::OK;
    }));
    EXPECT_CALL(*stub_, AcquireTrial(_, _, _))
        .WillOnce(Invoke([spec_json, this](grpc::ClientContext*, const v1::AcquireTrialRequest& req,
                                           v1::AcquireTrialResponse* resp) {
          EXPECT_EQ(req.worker_id(), "w-1");
          resp->set_acquired(true);
          v1::Trial* t = resp->mutable_trial();
          t->set_id("t-1");
          t->set_attempt(attempt_);
          t->set_checkpoint_uri(checkpoint_uri_);
          t->set_spec_json(spec_json);
          resp->mutable_lease()->set_trial_id("t-1");
          resp->mutable_lease()->set_attempt(attempt_);
          resp->mutable_lease()->set_lease_token("lease-1");
          return grpc::Status::OK;
        }))
        .WillRepeatedly(Invoke([this](auto*, const auto&, auto*) {
          acquired_again_ = true;
          agent_->Stop();
          return grpc::Status(grpc::StatusCode::CANCELLED, "stopping");
        }));
  }

  // A trainer that reports `epochs` epochs, then (when `wait_for_stop`) trains until the agent
  // asks it to stop.
  void FakeTrainer(int epochs, bool wait_for_stop) {
    options_.train = [=](const TrialSpec&, const TrainOptions& to,
                         MetricsSink* sink) -> absl::StatusOr<TrialResult> {
      TrialResult r;
      for (int e = 1; e <= epochs; ++e) {
        EpochMetrics m;
        m.epoch = e;
        m.Set(metrics::kTrainLoss, 1.0 / e);
        sink->OnEpoch(m);
        r.epochs.push_back(m);
      }
      if (wait_for_stop) {
        const absl::Time give_up = absl::Now() + absl::Seconds(10);
        while (!to.should_stop() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
        EXPECT_TRUE(to.should_stop()) << "the agent never asked the trainer to stop";
        r.outcome = TrialOutcome::kStopped;
        r.reason = "stopped";
      }
      return r;
    };
  }

  void FakeRangeTest() {
    options_.lr_range_test = [](const TrialSpec&, const TrainOptions&,
                                MetricsSink*) -> absl::StatusOr<LrRangeResult> {
      LrRangeResult r;
      for (double lr : {1e-3, 1e-2, 1e-1}) r.curve.push_back({lr, 1.0, 1.0});
      r.suggestions.by_rule = {{SuggestRule::kSteepest, 0.01},
                               {SuggestRule::kMinDiv10, 0.005},
                               {SuggestRule::kMin, 0.05},
                               {SuggestRule::kValley, 0.02}};
      return r;
    };
  }

  std::string dir_;
  AgentOptions options_;
  NiceMock<v1::MockWorkerServiceStub>* stub_ = nullptr;  // owned by agent_
  std::unique_ptr<Agent> agent_;
  std::atomic<int> heartbeats_{0};
  int attempt_ = 1;             // of the trial Start() hands out
  std::string checkpoint_uri_;  // the coordinator's checkpoint reference for it
  std::atomic<bool> acquired_again_{false};
};

TEST_F(AgentTest, TransientUnavailableOnReportEpochsIsRetriedAndEveryEpochArrivesOnce) {
  FakeTrainer(2, /*wait_for_stop=*/false);
  Start(kTrainSpec);
  absl::Mutex mu;
  std::multiset<int> delivered;
  std::atomic<int> calls{0};
  EXPECT_CALL(*stub_, ReportEpochs(_, _, _))
      .Times(::testing::AtLeast(2))
      .WillRepeatedly(Invoke(
          [&](grpc::ClientContext*, const v1::ReportEpochsRequest& req, v1::ReportEpochsResponse*) {
            EXPECT_EQ(req.lease().lease_token(), "lease-1");
            if (calls++ == 0) return Unavailable();
            absl::MutexLock lock(&mu);
            for (const auto& e : req.epochs()) delivered.insert(static_cast<int>(e.epoch()));
            return grpc::Status::OK;
          }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _))
      .WillOnce(Invoke([](auto*, const v1::FinishTrialRequest& req, auto*) {
        EXPECT_EQ(req.status(), v1::SUCCEEDED);
        return grpc::Status::OK;
      }));
  EXPECT_EQ(agent_->Run(), 0);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(delivered, (std::multiset<int>{1, 2}));
}

// The agent copies the trainer's map as it is: a metric no agent code names reaches the
// coordinator, a NaN (not measured) is left out, and the partial flag travels as 1.
TEST_F(AgentTest, EveryMetricInTheMapReachesTheReportWithoutAgentCode) {
  options_.train = [](const TrialSpec&, const TrainOptions&,
                      MetricsSink* sink) -> absl::StatusOr<TrialResult> {
    TrialResult r;
    EpochMetrics m;
    m.epoch = 0;
    m.Set("my_metric", 42.5);
    m.Set(metrics::kValLoss, 0.25);
    m.Set(metrics::kValAuc, std::numeric_limits<double>::quiet_NaN());
    m.Set(metrics::kPartial, 1);
    sink->OnEpoch(m);
    r.epochs.push_back(m);
    return r;
  };
  Start(kTrainSpec);
  absl::Mutex mu;
  std::vector<v1::EpochMetrics> delivered;
  EXPECT_CALL(*stub_, ReportEpochs(_, _, _))
      .Times(::testing::AtLeast(1))
      .WillRepeatedly(Invoke(
          [&](grpc::ClientContext*, const v1::ReportEpochsRequest& req, v1::ReportEpochsResponse*) {
            absl::MutexLock lock(&mu);
            delivered.insert(delivered.end(), req.epochs().begin(), req.epochs().end());
            return grpc::Status::OK;
          }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _)).WillOnce(Invoke([](auto*, const auto&, auto*) {
    return grpc::Status::OK;
  }));
  EXPECT_EQ(agent_->Run(), 0);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(delivered.size(), 1u);
  const auto& got = delivered[0].metrics();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(got.at("my_metric"), 42.5);
  EXPECT_EQ(got.at(metrics::kValLoss), 0.25);
  EXPECT_EQ(got.at(metrics::kPartial), 1);
  EXPECT_EQ(got.count(metrics::kValAuc), 0u);
}

TEST_F(AgentTest, AbortedReportDropsTheTrialWithoutRetrying) {
  FakeTrainer(1, /*wait_for_stop=*/true);
  Start(kTrainSpec);
  EXPECT_CALL(*stub_, ReportEpochs(_, _, _)).WillOnce(Invoke([](auto*, const auto&, auto*) {
    return Aborted();
  }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _)).Times(0);
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, CancelAnswerStopsTrainingAndFinishesCancelled) {
  FakeTrainer(0, /*wait_for_stop=*/true);
  Start(kTrainSpec);
  EXPECT_CALL(*stub_, Heartbeat(_, _, _))
      .WillRepeatedly(Invoke([](auto*, const auto&, v1::HeartbeatResponse* resp) {
        resp->set_cancel(true);
        return grpc::Status::OK;
      }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _))
      .WillOnce(Invoke([](auto*, const v1::FinishTrialRequest& req, auto*) {
        EXPECT_EQ(req.status(), v1::CANCELLED);
        return grpc::Status::OK;
      }));
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, PrunedAnswerStopsTrainingWithoutFinishingOrSendingMore) {
  FakeTrainer(1, /*wait_for_stop=*/true);
  Start(kTrainSpec);
  EXPECT_CALL(*stub_, ReportEpochs(_, _, _))
      .WillOnce(Invoke([](auto*, const auto&, v1::ReportEpochsResponse* resp) {
        resp->set_epochs_reported(1);
        resp->set_pruned(true);
        resp->set_prune_reason("pruned by asha at epoch 1");
        return grpc::Status::OK;
      }));
  // The trial is final on the coordinator: no finish, and the keeper sends nothing more for it.
  EXPECT_CALL(*stub_, FinishTrial(_, _, _)).Times(0);
  const int heartbeats_before = heartbeats_.load();
  EXPECT_EQ(agent_->Run(), 0);
  EXPECT_EQ(heartbeats_.load(), heartbeats_before);
  EXPECT_TRUE(acquired_again_);  // the slot went back to polling for work
}

TEST_F(AgentTest, PrunedOnTheLastReportIsNotFinishedEither) {
  FakeTrainer(2, /*wait_for_stop=*/false);
  Start(kTrainSpec);
  EXPECT_CALL(*stub_, ReportEpochs(_, _, _))
      .WillRepeatedly(
          Invoke([](auto*, const v1::ReportEpochsRequest& req, v1::ReportEpochsResponse* resp) {
            // Pruned on the report that carries the last epoch (whichever batch it is in).
            for (const auto& e : req.epochs()) {
              if (e.epoch() == 2) resp->set_pruned(true);
            }
            return grpc::Status::OK;
          }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _)).Times(0);
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, TransientUnavailableOnReportLrCurveIsRetried) {
  FakeRangeTest();
  Start(kRangeTestSpec);
  EXPECT_CALL(*stub_, ReportLrCurve(_, _, _))
      .WillOnce(Invoke([](auto*, const auto&, auto*) { return Unavailable(); }))
      .WillOnce(Invoke([](auto*, const v1::ReportLrCurveRequest& req, auto*) {
        EXPECT_EQ(req.points_size(), 3);
        // The coordinator applies the sweep's rule: the worker suggests nothing.
        EXPECT_FALSE(req.has_suggested_lr());
        return grpc::Status::OK;
      }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _))
      .WillOnce(Invoke([](auto*, const v1::FinishTrialRequest& req, auto*) {
        EXPECT_EQ(req.status(), v1::SUCCEEDED);
        return grpc::Status::OK;
      }));
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, RangeTestWithNoRuleFailsWithTheReasonAfterReportingTheCurve) {
  options_.lr_range_test = [](const TrialSpec&, const TrainOptions&,
                              MetricsSink*) -> absl::StatusOr<LrRangeResult> {
    LrRangeResult r;
    for (double lr : {1e-3, 1e-2, 1e-1}) r.curve.push_back({lr, 1.0, 1.0});
    r.suggestions = SuggestLr(r.curve);  // 3 points: too short for any rule
    return r;
  };
  Start(kRangeTestSpec);
  EXPECT_CALL(*stub_, ReportLrCurve(_, _, _)).WillOnce(Return(grpc::Status::OK));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _))
      .WillOnce(Invoke([](auto*, const v1::FinishTrialRequest& req, auto*) {
        EXPECT_EQ(req.status(), v1::FAILED);
        EXPECT_EQ(req.failure_class(), v1::USER_ERROR);
        EXPECT_THAT(req.reason(), HasSubstr("too short"));
        return grpc::Status::OK;
      }));
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, AbortedLrCurveDropsTheTrialWithoutRetrying) {
  FakeRangeTest();
  Start(kRangeTestSpec);
  EXPECT_CALL(*stub_, ReportLrCurve(_, _, _)).WillOnce(Invoke([](auto*, const auto&, auto*) {
    return Aborted();
  }));
  EXPECT_CALL(*stub_, FinishTrial(_, _, _)).Times(0);
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, RefusedRegistrationIsNotRetried) {
  auto stub = std::make_unique<NiceMock<v1::MockWorkerServiceStub>>();
  EXPECT_CALL(*stub, RegisterWorker(_, _, _)).WillOnce(Invoke([](auto*, const auto&, auto*) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
  }));
  EXPECT_CALL(*stub, AcquireTrial(_, _, _)).Times(0);
  Agent agent(options_, std::move(stub));
  EXPECT_EQ(agent.Run(), 1);
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

// Issue 15: a checkpoint reference from the coordinator is only a file name in --checkpoint-dir;
// an absolute path (an old database, or a forged report) or a symlink there pointing out is
// neither resumed from nor deleted, and the worker reports its own checkpoint by name.
TEST_F(AgentTest, ACheckpointReferenceOutsideTheCheckpointDirIsNeitherFollowedNorDeleted) {
  const std::string victim = dir_ + "/../" + fs::path(dir_).filename().string() + "-victim.txt";
  std::ofstream(victim) << "precious";
  for (const std::string& ref : {victim, std::string("t-1.attempt1.pt")}) {
    fs::remove(dir_ + "/t-1.attempt1.pt");
    fs::create_symlink(victim, dir_ + "/t-1.attempt1.pt");  // the trial's own name, pointing out
    attempt_ = 2;
    checkpoint_uri_ = ref;
    options_.train = [](const TrialSpec&, const TrainOptions& to,
                        MetricsSink* sink) -> absl::StatusOr<TrialResult> {
      EXPECT_FALSE(to.resume) << to.resume_path;
      EpochMetrics m;
      m.epoch = 0;
      m.Set(metrics::kTrainLoss, 1.0);
      sink->OnEpoch(m);
      std::ofstream(to.checkpoint_path) << "ckpt";  // as the trainer would
      TrialResult r;
      r.epochs.push_back(m);
      return r;
    };
    Start(kTrainSpec);
    ON_CALL(*stub_, ReportEpochs(_, _, _))
        .WillByDefault(Invoke([](auto*, const v1::ReportEpochsRequest& req, auto*) {
          EXPECT_EQ(req.checkpoint_uri(), "t-1.attempt2.pt");
          return grpc::Status::OK;
        }));
    EXPECT_EQ(agent_->Run(), 0);
    EXPECT_TRUE(fs::exists(victim)) << ref;
    EXPECT_TRUE(fs::is_symlink(dir_ + "/t-1.attempt1.pt")) << ref;
    EXPECT_FALSE(fs::exists(dir_ + "/t-1.attempt2.pt")) << "its own checkpoint is removed";
    agent_.reset();
  }
  fs::remove(victim);
}

TEST_F(AgentTest, ATorchScriptModelOutsideTheDataRootsIsAUserErrorAndNeverOpened) {
  options_.data_root = dir_;
  Start(R"({"dataset": {"synthetic": {}},
            "model": {"torchscript": {"path": "/etc/passwd"}},
            "schedule": {"constant": {"lr": 0.1}}})");
  EXPECT_CALL(*stub_, FinishTrial(_, _, _))
      .WillOnce(Invoke([](auto*, const v1::FinishTrialRequest& req, auto*) {
        EXPECT_EQ(req.status(), v1::FAILED);
        EXPECT_EQ(req.failure_class(), v1::USER_ERROR);
        EXPECT_THAT(req.reason(), HasSubstr("model.torchscript.path: '/etc/passwd' is not a "
                                            "readable file under the worker's data roots"));
        EXPECT_THAT(req.reason(), ::testing::Not(HasSubstr("root:")));
        return grpc::Status::OK;
      }));
  EXPECT_EQ(agent_->Run(), 0);
}

TEST_F(AgentTest, UserErrorsDoNotQuarantineTheWorker) {
  options_.max_consecutive_failures = 1;
  options_.data_root = dir_;
  Start(R"({"dataset": {"csv": {"path": "/etc/passwd", "label": "root"}},
            "schedule": {"constant": {"lr": 0.1}}})");
  EXPECT_CALL(*stub_, FinishTrial(_, _, _))
      .WillOnce(Invoke([](auto*, const v1::FinishTrialRequest& req, auto*) {
        EXPECT_EQ(req.failure_class(), v1::USER_ERROR);
        EXPECT_THAT(req.reason(), HasSubstr("dataset.csv.path"));
        EXPECT_THAT(req.reason(), ::testing::Not(HasSubstr("root:")));
        return grpc::Status::OK;
      }));
  // A quarantined worker would never ask again: stop it after a while in that case.
  std::thread guard([this] {
    for (int i = 0; i < 100 && !acquired_again_; ++i) absl::SleepFor(absl::Milliseconds(50));
    agent_->Stop();
  });
  EXPECT_EQ(agent_->Run(), 0);
  guard.join();
  EXPECT_TRUE(acquired_again_) << "the worker quarantined itself after a user error";
}

// dataset.hdf5.path goes through the same confinement as dataset.csv.path: outside the data
// roots the trial fails as a user error before anything is opened; inside, the trainer gets the
// canonical path.
TEST_F(AgentTest, AnHdf5PathIsConfinedToTheDataRoots) {
  options_.data_root = dir_ + "/data";
  fs::create_directories(options_.data_root + "/sub");
  std::ofstream(dir_ + "/outside.h5") << "not for this spec";
  std::ofstream(options_.data_root + "/sub/in.h5") << "hdf5";
  for (const std::string& path :
       {std::string("../outside.h5"), dir_ + "/outside.h5", std::string("sub/in.h5")}) {
    SCOPED_TRACE(path);
    const bool inside = path == "sub/in.h5";
    std::string trained_on;
    options_.train = [&](const TrialSpec& spec, const TrainOptions&,
                         MetricsSink*) -> absl::StatusOr<TrialResult> {
      trained_on = spec.dataset.hdf5.path;
      return TrialResult{};
    };
    Start(R"({"dataset": {"hdf5": {"path": ")" + path +
          R"(", "lumin_folds": true}}, "schedule": {"constant": {"lr": 0.1}}})");
    EXPECT_CALL(*stub_, FinishTrial(_, _, _))
        .WillOnce(Invoke([&](auto*, const v1::FinishTrialRequest& req, auto*) {
          if (inside) return grpc::Status::OK;
          EXPECT_EQ(req.failure_class(), v1::USER_ERROR);
          EXPECT_THAT(req.reason(), HasSubstr("dataset.hdf5.path: '" + path +
                                              "' is not a readable file under the worker's data "
                                              "roots"));
          EXPECT_THAT(req.reason(), ::testing::Not(HasSubstr("not for this spec")));
          return grpc::Status::OK;
        }));
    EXPECT_EQ(agent_->Run(), 0);
    EXPECT_EQ(trained_on, inside ? fs::canonical(options_.data_root + "/sub/in.h5").string() : "");
    agent_.reset();
  }
}

}  // namespace
}  // namespace hypersweep
