// The coordinator's bounds on untrusted input, as units: spec size and trial count before parsing
// and expansion, the caps on what a worker sends, the listen policy, the submit executor.
#include <atomic>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/spec_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/bounded_executor.h"
#include "server/service/listen_address.h"
#include "server/service/request_limits.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

constexpr char kSpec[] = R"(
name: small
dataset: {synthetic: {}}
epochs: 1
schedule: {constant: {lr: 0.01}}
grid:
  batch_size: [8, 16, 32]
  weight_decay: [0, 0.0001]
)";

TEST(SpecLimitsTest, SizeIsCheckedBeforeParsing) {
  SpecLimits limits;
  limits.max_spec_bytes = 100;
  // Not YAML at all: were it parsed, the error would be a parse error.
  auto r = ParseSweepSpecWithin(std::string(101, '{'), limits);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("101 bytes"));
  EXPECT_THAT(r.status().message(), HasSubstr("--max-spec-bytes"));
}

TEST(SpecLimitsTest, TrialCountIsCheckedBeforeExpansion) {
  SpecLimits limits;
  limits.max_sweep_trials = 5;
  auto r = ParseSweepSpecWithin(kSpec, limits);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("expands to 6 trials"));
  EXPECT_THAT(r.status().message(), HasSubstr("--max-sweep-trials"));
  limits.max_sweep_trials = 6;
  EXPECT_TRUE(ParseSweepSpecWithin(kSpec, limits).ok());
}

TEST(SpecLimitsTest, DefaultsAreDocumentedValues) {
  EXPECT_EQ(SpecLimits().max_spec_bytes, 1 << 20);
  EXPECT_EQ(SpecLimits().max_sweep_trials, 10'000'000);
}

TEST(RequestLimitsTest, RegistrationStrings) {
  v1::RegisterWorkerRequest req;
  req.mutable_capabilities()->set_host("node-1");
  req.mutable_capabilities()->set_slots(2);
  EXPECT_TRUE(CheckRegistration(req).ok());
  req.mutable_capabilities()->set_host(std::string(1 << 20, 'h'));
  auto s = CheckRegistration(req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("capabilities.host"));
  req.mutable_capabilities()->set_host("node-1");
  req.set_worker_id(std::string(65, 'w'));
  EXPECT_THAT(CheckRegistration(req).message(), HasSubstr("worker_id"));
  req.clear_worker_id();
  req.mutable_capabilities()->set_slots(100'000);
  EXPECT_THAT(CheckRegistration(req).message(), HasSubstr("capabilities.slots"));
}

TEST(RequestLimitsTest, EpochReports) {
  v1::ReportEpochsRequest req;
  auto* e = req.add_epochs();
  (*e->mutable_metrics())["val_loss"] = 0.5;
  EXPECT_TRUE(CheckEpochReport(req).ok());
  (*e->mutable_metrics())[std::string(65, 'm')] = 1;
  EXPECT_THAT(CheckEpochReport(req).message(), HasSubstr("metric name"));
  e->mutable_metrics()->clear();
  (*e->mutable_metrics())["bad name\n"] = 1;
  EXPECT_THAT(CheckEpochReport(req).message(), HasSubstr("metric names"));
  e->mutable_metrics()->clear();
  for (int i = 0; i < kMaxMetricsPerEpoch + 1; ++i)
    (*e->mutable_metrics())["m" + std::to_string(i)] = i;
  EXPECT_THAT(CheckEpochReport(req).message(), HasSubstr("epochs.metrics"));
  e->mutable_metrics()->clear();
  for (int i = 0; i < kMaxEpochsPerReport; ++i) req.add_epochs();
  EXPECT_THAT(CheckEpochReport(req).message(), HasSubstr("in one report"));
  req.clear_epochs();
  req.set_checkpoint_uri(std::string(1000, 'c'));
  EXPECT_THAT(CheckEpochReport(req).message(), HasSubstr("checkpoint_uri"));
}

TEST(RequestLimitsTest, ReasonsAreCutAtACharacterBoundary) {
  EXPECT_EQ(BoundedReason("short"), "short");
  std::string long_reason;
  while (long_reason.size() < 10'000) long_reason += "\xC3\xA9";  // é, two bytes
  const std::string cut = BoundedReason(long_reason);
  EXPECT_LE(cut.size(), kMaxReasonBytes);
  EXPECT_THAT(cut, ::testing::EndsWith("... (cut)"));
  const std::string body = cut.substr(0, cut.size() - std::string(" ... (cut)").size());
  EXPECT_EQ(body.size() % 2, 0u);  // no é split in half
}

TEST(ListenAddressTest, LoopbackIsParsedNotPrefixMatched) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:7070"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7070"));
  EXPECT_TRUE(IsLoopbackAddress("[::ffff:127.0.0.1]:7070"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/tmp/hs.sock"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:7070"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:7070"));
  EXPECT_FALSE(IsLoopbackAddress(":7070"));
  EXPECT_FALSE(IsLoopbackAddress("10.1.2.3:7070"));
  // A name that merely starts like a loopback address (it does not resolve here; were it to,
  // its addresses would decide).
  EXPECT_FALSE(IsLoopbackAddress("127.evil.example:7070"));
  EXPECT_FALSE(IsLoopbackAddress("127.0.0.1.evil.example:7070"));
}

TEST(ListenAddressTest, NonLoopbackNeedsTokensAndTls) {
  ListenPolicy p;
  EXPECT_TRUE(CheckListenPolicy("127.0.0.1:0", p).ok());
  EXPECT_THAT(CheckListenPolicy("0.0.0.0:0", p).message(), HasSubstr("--client-token-file"));
  p.client_token = p.worker_token = true;
  auto s = CheckListenPolicy("0.0.0.0:0", p);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("--tls-cert"));
  p.insecure_plaintext = true;
  EXPECT_TRUE(CheckListenPolicy("0.0.0.0:0", p).ok());
  p.insecure_plaintext = false;
  p.tls = true;
  EXPECT_TRUE(CheckListenPolicy("0.0.0.0:0", p).ok());
}

TEST(BoundedExecutorTest, RefusesBeyondItsQueueAndRunsWhatItAccepted) {
  std::atomic<int> ran{0};
  absl::Notification release;
  {
    BoundedExecutor ex(1, 2);
    absl::Notification started;
    ASSERT_TRUE(ex.TrySchedule([&] {
      started.Notify();
      release.WaitForNotification();
      ++ran;
    }));
    started.WaitForNotification();  // the thread is busy; now the queue fills
    EXPECT_TRUE(ex.TrySchedule([&] { ++ran; }));
    EXPECT_TRUE(ex.TrySchedule([&] { ++ran; }));
    EXPECT_FALSE(ex.TrySchedule([&] { ++ran; }));
    release.Notify();
  }  // the destructor runs the accepted tasks
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace hypersweep
