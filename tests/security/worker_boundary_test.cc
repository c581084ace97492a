// The worker's trust boundaries (issue 15), against real hypersweepd and hypersweep-worker
// processes with client and worker tokens: a worker token cannot make other workers delete a
// file; a client token cannot make a worker read, block on, or exhaust memory with a file
// outside its data roots; a dry run refuses huge specs; bad specs do not quarantine workers.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/worker/hdf5_writer.h"

namespace hypersweep::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kClientToken[] = "client-secret-token";
constexpr char kWorkerToken[] = "worker-secret-token";
constexpr char kSecret[] = "hunter2-do-not-leak";

// A coordinator with both tokens, a data root with a good CSV, and a secret outside it.
class BoundaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_support::WriteFile(c_.dir() + "/client.token", kClientToken);
    test_support::WriteFile(c_.dir() + "/worker.token", kWorkerToken);
    data_ = c_.dir() + "/data";
    std::filesystem::create_directories(data_);
    std::string csv = "x1,x2,y\n";
    for (int i = 0; i < 400; ++i) {
      csv += std::to_string(i % 7) + "," + std::to_string((i * 3) % 5) + "," +
             std::to_string(i % 2) + "\n";
    }
    test_support::WriteFile(data_ + "/good.csv", csv);
    secret_ = c_.dir() + "/secret.csv";
    test_support::WriteFile(secret_, std::string("user,password\n1,") + kSecret + "\n");
    c_.StartCoordinator("2s", {"--client-token-file", c_.dir() + "/client.token",
                               "--worker-token-file", c_.dir() + "/worker.token"});
    client_ = std::make_unique<SweepClient>(c_.address(), kClientToken);
  }
  // Workers tolerate many failures in a row unless `extra` says otherwise: these tests fail
  // trials on purpose, and quarantine is the subject of one test only.
  Process& StartWorker(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--token-file", c_.dir() + "/worker.token", "--data-root",
                                     data_};
    if (std::find(extra.begin(), extra.end(), "--max-consecutive-failures") == extra.end()) {
      extra.insert(extra.end(), {"--max-consecutive-failures", "100"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return c_.StartWorker(id, args);
  }
  std::string CsvSweep(const std::string& name, const std::string& path,
                       const std::string& label = "y") {
    return "name: " + name + "\ndataset: {csv: {path: '" + path + "', label: " + label +
           "}}\nmodel: {mlp: {hidden: [8]}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n";
  }
  // The single trial of a sweep once it is done.
  v1::Trial DoneTrial(const std::string& sweep, std::chrono::seconds timeout = 60s) {
    EXPECT_TRUE(WaitFor([&] { return client_->Done(sweep); }, timeout)) << c_.Logs();
    auto trials = client_->Trials(sweep);
    EXPECT_EQ(trials.size(), 1u);
    return trials.empty() ? v1::Trial() : trials[0];
  }
  std::unique_ptr<grpc::ClientContext> WorkerCtx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", std::string("Bearer ") + kWorkerToken);
    ctx->set_deadline(std::chrono::system_clock::now() + 10s);
    return ctx;
  }

  Cluster c_;
  std::unique_ptr<SweepClient> client_;
  std::string data_, secret_;
};

TEST_F(BoundaryTest, AWorkerTokenCannotMakeAnotherWorkerDeleteAFile) {
  const std::string victim = c_.dir() + "/victim.txt";
  test_support::WriteFile(victim, "precious");
  const std::string sweep = client_->Submit(SyntheticSweep("victim", 2, 600, "", 8));
  auto stub = v1::WorkerService::NewStub(
      grpc::CreateChannel(c_.address(), grpc::InsecureChannelCredentials()));
  v1::RegisterWorkerRequest reg;
  reg.mutable_capabilities()->set_slots(1);
  v1::RegisterWorkerResponse regr;
  ASSERT_TRUE(stub->RegisterWorker(WorkerCtx().get(), reg, &regr).ok());
  v1::AcquireTrialRequest acq;
  acq.set_worker_id(regr.worker_id());
  acq.set_max_wait_ms(2000);
  v1::AcquireTrialResponse a;
  ASSERT_TRUE(WaitFor(
      [&] { return stub->AcquireTrial(WorkerCtx().get(), acq, &a).ok() && a.acquired(); }, 20s));
  const std::string id = a.lease().trial_id();
  for (const std::string& uri : {victim, std::string("../victim.txt"), "file://" + victim,
                                 id + ".attempt1.pt/../../victim.txt", id + ".attempt2.pt"}) {
    v1::ReportEpochsRequest rep;
    *rep.mutable_lease() = a.lease();
    auto* e = rep.add_epochs();
    e->set_epoch(0);
    (*e->mutable_metrics())["val_loss"] = 0.5;
    rep.set_checkpoint_uri(uri);
    v1::ReportEpochsResponse repr;
    grpc::Status s = stub->ReportEpochs(WorkerCtx().get(), rep, &repr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << uri;
    EXPECT_THAT(s.error_message(), HasSubstr("checkpoint_uri")) << uri;
  }
  // Nothing about the trial changed: no epoch, no checkpoint.
  auto before = client_->Trials(sweep);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].epochs_reported(), 0);
  EXPECT_EQ(before[0].checkpoint_uri(), "");
  v1::FinishTrialRequest fin;
  *fin.mutable_lease() = a.lease();
  fin.set_status(v1::FAILED);
  fin.set_failure_class(v1::PREEMPTED);
  v1::FinishTrialResponse finr;
  ASSERT_TRUE(stub->FinishTrial(WorkerCtx().get(), fin, &finr).ok());

  StartWorker("w1");
  const v1::Trial t = DoneTrial(sweep);
  EXPECT_EQ(t.status(), v1::SUCCEEDED) << c_.Logs();
  EXPECT_EQ(test_support::ReadFile(victim), "precious");
  // The real worker reports its checkpoint by file name only.
  EXPECT_THAT(t.checkpoint_uri(), ::testing::AnyOf("", id + ".attempt2.pt"));
}

TEST_F(BoundaryTest, AClientTokenCannotReadFilesOutsideTheDataRoots) {
  StartWorker("w1");
  std::filesystem::create_symlink(secret_, data_ + "/link.csv");
  std::string shape;  // the reason with the path taken out: the same for every refused path
  for (const std::string& path : {secret_, std::string("../secret.csv"), std::string("link.csv"),
                                  c_.dir() + "/nonexistent.csv", std::string("../nope.csv")}) {
    const v1::Trial t = DoneTrial(client_->Submit(CsvSweep("read", path, "user")));
    EXPECT_EQ(t.status(), v1::FAILED) << path;
    EXPECT_EQ(t.failure_class(), v1::USER_ERROR) << path;
    EXPECT_EQ(t.attempt(), 1) << "a user error is not retried";
    EXPECT_THAT(t.reason(), HasSubstr("dataset.csv.path"));
    EXPECT_THAT(t.reason(), Not(HasSubstr(kSecret)));
    std::string r = t.reason();
    if (size_t at = r.find(path); at != std::string::npos) r.replace(at, path.size(), "<P>");
    if (shape.empty()) shape = r;
    EXPECT_EQ(r, shape) << "existing and missing files outside the roots look alike";
  }
  const v1::Trial etc = DoneTrial(client_->Submit(CsvSweep("passwd", "/etc/passwd", "root")));
  EXPECT_EQ(etc.failure_class(), v1::USER_ERROR);
  EXPECT_THAT(etc.reason(), Not(HasSubstr("root:")));
  // Inside the root, a bad value is named by row and column, not quoted.
  test_support::WriteFile(data_ + "/bad.csv", std::string("a,y\n1,0\n") + kSecret + ",1\n");
  const v1::Trial bad = DoneTrial(client_->Submit(CsvSweep("bad", "bad.csv")));
  EXPECT_EQ(bad.failure_class(), v1::USER_ERROR);
  EXPECT_THAT(bad.reason(), HasSubstr("dataset.csv.path: column 1 of line 3 is not a number"));
  EXPECT_THAT(bad.reason(), Not(HasSubstr(kSecret)));
  // And a good file under the root trains.
  EXPECT_EQ(DoneTrial(client_->Submit(CsvSweep("good", "good.csv"))).status(), v1::SUCCEEDED)
      << c_.Logs();
}

// dataset.hdf5.path is confined like dataset.csv.path: outside the data roots the trial fails as
// a user error with the same message whether or not the file exists, before HDF5 sees a byte.
TEST_F(BoundaryTest, AClientTokenCannotReadHdf5FilesOutsideTheDataRoots) {
  StartWorker("w1");
  auto sweep = [](const std::string& name, const std::string& path) {
    return "name: " + name + "\ndataset: {hdf5: {path: '" + path +
           "'}}\nmodel: {mlp: {hidden: [8]}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n";
  };
  {
    hypersweep::testing::H5Writer outside(c_.dir() + "/secret.h5");
    outside.Floats("inputs", {1, 2, 3, 4}, {2, 2});
    outside.Ints("targets", {0, 1}, {2});
  }
  std::filesystem::create_symlink(c_.dir() + "/secret.h5", data_ + "/link.h5");
  std::string shape;
  for (const std::string& path : {c_.dir() + "/secret.h5", std::string("../secret.h5"),
                                  std::string("link.h5"), std::string("../nope.h5")}) {
    const v1::Trial t = DoneTrial(client_->Submit(sweep("read", path)));
    EXPECT_EQ(t.status(), v1::FAILED) << path;
    EXPECT_EQ(t.failure_class(), v1::USER_ERROR) << path;
    EXPECT_EQ(t.attempt(), 1) << "a user error is not retried";
    EXPECT_THAT(t.reason(), HasSubstr("dataset.hdf5.path: '" + path +
                                      "' is not a readable file under the worker's data roots"));
    std::string r = t.reason();
    if (size_t at = r.find(path); at != std::string::npos) r.replace(at, path.size(), "<P>");
    if (shape.empty()) shape = r;
    EXPECT_EQ(r, shape) << "existing and missing files outside the roots look alike";
  }
  // Inside the root, a file without the named dataset names the file and the dataset.
  {
    hypersweep::testing::H5Writer inside(data_ + "/no-targets.h5");
    inside.Floats("inputs", {1, 2, 3, 4}, {2, 2});
  }
  const v1::Trial bad = DoneTrial(client_->Submit(sweep("bad", "no-targets.h5")));
  EXPECT_EQ(bad.failure_class(), v1::USER_ERROR);
  EXPECT_THAT(bad.reason(), HasSubstr("dataset.hdf5.path (no-targets.h5): dataset 'targets' "
                                      "(dataset.hdf5.targets) is not in the file"));
  // And a good file under the root trains.
  {
    hypersweep::testing::H5Writer good(data_ + "/good.h5");
    std::vector<float> x;
    std::vector<int32_t> y;
    for (int i = 0; i < 400; ++i) {
      x.insert(x.end(), {static_cast<float>(i % 7), static_cast<float>((i * 3) % 5)});
      y.push_back(i % 2);
    }
    good.Floats("inputs", x, {400, 2});
    good.Ints("targets", y, {400});
  }
  EXPECT_EQ(DoneTrial(client_->Submit(sweep("good", "good.h5"))).status(), v1::SUCCEEDED)
      << c_.Logs();
}

// A TorchScript model file is named by the spec like a data file, and confined the same way.
TEST_F(BoundaryTest, AClientTokenCannotLoadAModelFileOutsideTheDataRoots) {
  StartWorker("w1");
  auto model_sweep = [](const std::string& name, const std::string& path) {
    return "name: " + name + "\ndataset: {synthetic: {samples: 200, features: 12}}\n" +
           "model: {torchscript: {path: '" + path +
           "'}}\nschedule: {constant: {lr: 0.1}}\nepochs: 1\n";
  };
  std::filesystem::create_symlink(secret_, data_ + "/link.pt");
  std::string shape;
  for (const std::string& path : {secret_, std::string("../secret.csv"), std::string("link.pt"),
                                  c_.dir() + "/nonexistent.pt"}) {
    const v1::Trial t = DoneTrial(client_->Submit(model_sweep("model", path)));
    EXPECT_EQ(t.status(), v1::FAILED) << path;
    EXPECT_EQ(t.failure_class(), v1::USER_ERROR) << path;
    EXPECT_EQ(t.attempt(), 1) << "a user error is not retried";
    EXPECT_THAT(t.reason(), HasSubstr("model.torchscript.path"));
    EXPECT_THAT(t.reason(), Not(HasSubstr(kSecret)));
    std::string r = t.reason();
    if (size_t at = r.find(path); at != std::string::npos) r.replace(at, path.size(), "<P>");
    if (shape.empty()) shape = r;
    EXPECT_EQ(r, shape) << "existing and missing files outside the roots look alike";
  }
  // Inside the root: a file that is no TorchScript archive is refused without quoting it, and a
  // real module (the test fixture, binary: one logit) trains.
  test_support::WriteFile(data_ + "/junk.pt", std::string("PK\x03\x04") + kSecret);
  const v1::Trial junk = DoneTrial(client_->Submit(model_sweep("junk", "junk.pt")));
  EXPECT_EQ(junk.failure_class(), v1::USER_ERROR);
  EXPECT_THAT(junk.reason(), HasSubstr("is not a TorchScript module"));
  EXPECT_THAT(junk.reason(), Not(HasSubstr(kSecret)));
  std::filesystem::copy_file(
      std::string(HYPERSWEEP_SOURCE_DIR) + "/tests/data/torchscript/one_logit_traced.pt",
      data_ + "/good.pt");
  EXPECT_EQ(DoneTrial(client_->Submit(model_sweep("good", "good.pt"))).status(), v1::SUCCEEDED)
      << c_.Logs();
}

TEST_F(BoundaryTest, FifosAndDevicesAreRefusedPromptlyAndNotRetried) {
  ASSERT_EQ(::mkfifo((data_ + "/fifo.csv").c_str(), 0600), 0);
  // /dev allowed, so that /dev/zero is refused for what it is, not for where it is.
  StartWorker("w1", {"--allow-data-root", "/dev"});
  StartWorker("w2", {"--allow-data-root", "/dev"});
  const auto start = std::chrono::steady_clock::now();
  const v1::Trial fifo = DoneTrial(client_->Submit(CsvSweep("fifo", "fifo.csv")), 30s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(fifo.status(), v1::FAILED);
  EXPECT_EQ(fifo.failure_class(), v1::USER_ERROR);
  EXPECT_THAT(fifo.reason(), HasSubstr("not a regular file"));
  const v1::Trial zero = DoneTrial(client_->Submit(CsvSweep("zero", "/dev/zero")), 30s);
  EXPECT_EQ(zero.status(), v1::FAILED);
  EXPECT_EQ(zero.failure_class(), v1::USER_ERROR);
  EXPECT_THAT(zero.reason(), HasSubstr("not a regular file"));
  EXPECT_EQ(zero.attempt(), 1) << "not retried on another worker";
  EXPECT_TRUE(c_.worker("w1").running());
  EXPECT_TRUE(c_.worker("w2").running());
}

TEST_F(BoundaryTest, ADryRunRefusesHugeDataAndModelsNamingTheField) {
  auto dry = [&](const std::string& spec) {
    v1::SubmitSweepRequest req;
    req.set_spec(spec);
    req.set_dry_run(true);
    v1::SubmitSweepResponse resp;
    return client_->stub().SubmitSweep(client_->Context().get(), req, &resp);
  };
  grpc::Status samples =
      dry("dataset: {synthetic: {samples: 1000000000000}}\nschedule: {constant: {lr: 0.1}}\n");
  EXPECT_EQ(samples.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(samples.error_message(), HasSubstr("dataset.synthetic.samples"));
  grpc::Status wide =
      dry("dataset: {synthetic: {}}\nmodel: {mlp: {hidden: [1000000000]}}\n"
          "schedule: {constant: {lr: 0.1}}\n");
  EXPECT_EQ(wide.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(wide.error_message(), HasSubstr("model.mlp.hidden[0]"));
  EXPECT_TRUE(dry("dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\n").ok());
}

TEST_F(BoundaryTest, BadDataPathsDoNotQuarantineTheWorker) {
  StartWorker("w1", {"--max-consecutive-failures", "3"});
  for (int i = 0; i < 3; ++i) {
    const v1::Trial t =
        DoneTrial(client_->Submit(CsvSweep("bad" + std::to_string(i), "/etc/shadow")));
    EXPECT_EQ(t.failure_class(), v1::USER_ERROR);
  }
  const std::string good = client_->Submit(SyntheticSweep("after", 1, 600, "", 8));
  // The worker does not quarantine itself; the coordinator must not quarantine it either (its
  // side of issue 15 lives in server/scheduler).
  EXPECT_THAT(c_.worker("w1").log(), Not(HasSubstr("quarantined after")));
  ASSERT_TRUE(WaitFor([&] { return client_->Done(good); }, 60s))
      << "the good sweep never ran: is the worker quarantined by the coordinator?\n"
      << c_.Logs();
  EXPECT_EQ(client_->Trials(good).at(0).status(), v1::SUCCEEDED);
  EXPECT_THAT(c_.worker("w1").log(), Not(HasSubstr("quarantined")));
}

}  // namespace
}  // namespace hypersweep::e2e
