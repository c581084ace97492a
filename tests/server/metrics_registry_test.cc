// server/metrics: the registry and its text format (escaping, cumulative histogram buckets with
// +Inf, _sum and _count, the series bound), the cost of an increment from several threads, the
// /metrics HTTP server (200, 404, 401 with a token) and the group-commit observer hook.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/coordinator_metrics.h"
#include "server/metrics/http_server.h"
#include "server/metrics/registry.h"
#include "server/store/group_commit.h"
#include "server/store/store.h"

namespace hypersweep::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\n"
                             "d"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeHelp("x\\y\n\"z\""), "x\\\\y\\n\"z\"");
  Registry r;
  r.AddCounter("hs_test_total", "help with \\ and\nnewline", {"path"})
      .With({"C:\\dir \"quoted\"\nnext"})
      ->Inc(3);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# HELP hs_test_total help with \\\\ and\\nnewline\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE hs_test_total counter\n"));
  EXPECT_THAT(text, HasSubstr("hs_test_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 3\n"));
}

TEST(MetricsTextTest, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");  // shortest that reads back
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTextTest, ValidNames) {
  EXPECT_TRUE(IsValidMetricName("hypersweep_rpc_requests_total"));
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName("9abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName(""));
}

TEST(MetricsTextTest, GaugeWithoutLabels) {
  Registry r;
  auto* g = r.AddGauge("hs_gauge", "a gauge").With({});
  g->Set(2.5);
  g->Add(-1);
  EXPECT_THAT(r.Render(), HasSubstr("# TYPE hs_gauge gauge\nhs_gauge 1.5\n"));
}

TEST(MetricsTextTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.AddHistogram("hs_latency_seconds", "latency", {"method"}, {0.1, 1, 10});
  auto* a = h.With({"A"});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0}) a->Observe(v);
  h.With({"B"});  // a series with no observations
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE hs_latency_seconds histogram\n"));
  // 0.1 falls in le="0.1" (upper bounds are inclusive).
  EXPECT_THAT(text, HasSubstr("hs_latency_seconds_bucket{method=\"A\",le=\"0.1\"} 2\n"
                              "hs_latency_seconds_bucket{method=\"A\",le=\"1\"} 3\n"
                              "hs_latency_seconds_bucket{method=\"A\",le=\"10\"} 4\n"
                              "hs_latency_seconds_bucket{method=\"A\",le=\"+Inf\"} 6\n"
                              "hs_latency_seconds_sum{method=\"A\"} 52.65\n"
                              "hs_latency_seconds_count{method=\"A\"} 6\n"));
  EXPECT_THAT(text, HasSubstr("hs_latency_seconds_bucket{method=\"B\",le=\"+Inf\"} 0\n"
                              "hs_latency_seconds_sum{method=\"B\"} 0\n"
                              "hs_latency_seconds_count{method=\"B\"} 0\n"));
  Registry plain;
  plain.AddHistogram("hs_sizes", "sizes", {}, {1, 2}).With({})->Observe(2);
  EXPECT_THAT(plain.Render(), HasSubstr("hs_sizes_bucket{le=\"1\"} 0\nhs_sizes_bucket{le=\"2\"} 1\n"
                                        "hs_sizes_bucket{le=\"+Inf\"} 1\nhs_sizes_sum 2\n"
                                        "hs_sizes_count 1\n"));
}

TEST(MetricsTextTest, ScrapeHooksRunBeforeRendering) {
  Registry r;
  auto* g = r.AddGauge("hs_scraped", "set at scrape time").With({});
  int scrapes = 0;
  r.AddScrapeHook([&] { g->Set(++scrapes); });
  EXPECT_THAT(r.Render(), HasSubstr("hs_scraped 1\n"));
  EXPECT_THAT(r.Render(), HasSubstr("hs_scraped 2\n"));
}

TEST(MetricsTextTest, SeriesPerFamilyAreBounded) {
  Registry r;
  auto& f = r.AddCounter("hs_bounded_total", "bounded", {"k"});
  for (size_t i = 0; i < kMaxSeriesPerFamily + 50; ++i) f.With({std::to_string(i)})->Inc();
  const std::string text = r.Render();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'),
            2 + static_cast<long>(kMaxSeriesPerFamily) + 1);
  EXPECT_THAT(text, HasSubstr("hs_bounded_total{k=\"other\"} 50\n"));
  // A known label set keeps its own series.
  f.With({"7"})->Inc();
  EXPECT_THAT(r.Render(), HasSubstr("hs_bounded_total{k=\"7\"} 2\n"));
}

// The hot path: the interceptor's per-call work (lookup of a method's entry, a counter and a
// histogram observation) from 4 threads. A gRPC call costs tens of microseconds; this must stay
// far below that.
TEST(MetricsCostTest, RecordingACallIsCheap) {
  Registry r;
  RpcMetrics rpc(r);
  constexpr int kThreads = 4, kCalls = 200'000;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&rpc] {
      for (int i = 0; i < kCalls; ++i) {
        RpcMetrics::Method* m = rpc.Lookup("/hypersweep.v1.WorkerService/Heartbeat", false);
        rpc.Record(m, 0, 0.0002);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double calls_per_second = kThreads * kCalls / seconds;
  std::printf("METRICS_COST %d threads recorded %.2f million calls/s (%.0f ns per call)\n",
              kThreads, calls_per_second / 1e6, 1e9 / calls_per_second);
  // hypersweepd handles thousands of calls a second; recording must not be what limits it.
  EXPECT_GT(calls_per_second, 200'000);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("hypersweep_rpc_requests_total{method=\"hypersweep.v1.WorkerService/"
                              "Heartbeat\",code=\"OK\"} 800000\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_rpc_duration_seconds_count{method=\"hypersweep.v1."
                              "WorkerService/Heartbeat\"} 800000\n"));
  // AcquireTrial and streams go to the long-poll histogram, not the latency one.
  rpc.Record(rpc.Lookup("/hypersweep.v1.WorkerService/AcquireTrial", false), 0, 30);
  rpc.Record(rpc.Lookup("/hypersweep.v1.SweepService/WatchSweep", true), 1, 600);
  const std::string more = r.Render();
  EXPECT_THAT(more, HasSubstr("hypersweep_rpc_long_poll_duration_seconds_count{method=\"hypersweep."
                              "v1.WorkerService/AcquireTrial\"} 1\n"));
  EXPECT_THAT(more, HasSubstr("hypersweep_rpc_long_poll_duration_seconds_count{method=\"hypersweep."
                              "v1.SweepService/WatchSweep\"} 1\n"));
  EXPECT_THAT(more, HasSubstr("code=\"CANCELLED\"} 1\n"));
  EXPECT_THAT(more, Not(HasSubstr("hypersweep_rpc_duration_seconds_count{method=\"hypersweep.v1."
                                  "WorkerService/AcquireTrial\"}")));
}

TEST(MetricsHttpTest, ServesMetricsOnly) {
  Registry r;
  r.AddCounter("hs_served_total", "served").With({})->Inc(5);
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  auto server = HttpServer::Start(o, [&r] { return r.Render(); });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client c("127.0.0.1", (*server)->port());
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_THAT(res->body, HasSubstr("hs_served_total 5\n"));
  auto other = c.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  auto post = c.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_NE(post->status, 200);
  (*server)->Stop();
  (*server)->Stop();  // idempotent
}

TEST(MetricsHttpTest, BearerTokenRequired) {
  Registry r;
  r.AddCounter("hs_secret_total", "secret").With({})->Inc();
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.bearer_token = "s3cret-token";
  auto server = HttpServer::Start(o, [&r] { return r.Render(); });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client c("127.0.0.1", (*server)->port());
  auto none = c.Get("/metrics");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_THAT(none->body, Not(HasSubstr("hs_secret_total")));
  auto wrong = c.Get("/metrics", {{"Authorization", "Bearer s3cret-tokeX"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto elsewhere = c.Get("/nothing");  // 401 before 404: nothing is said without the token
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(elsewhere->status, 401);
  auto good = c.Get("/metrics", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_THAT(good->body, HasSubstr("hs_secret_total 1\n"));
}

TEST(MetricsHttpTest, BadAddressesAreRefused) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(SplitHostPort("[::1]:9464", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9464);
  EXPECT_FALSE(SplitHostPort("127.0.0.1", &host, &port));
  EXPECT_FALSE(SplitHostPort("127.0.0.1:99999", &host, &port));
  EXPECT_FALSE(SplitHostPort(":9464", &host, &port));
  HttpServerOptions o;
  o.listen = "nonsense";
  EXPECT_EQ(HttpServer::Start(o, [] { return std::string(); }).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The group-commit observer: every transaction is seen with its size, and trials made final are
// counted by status once the transaction commits.
TEST(CoordinatorMetricsTest, CommitObserverCountsGroupsAndFinishedTrials) {
  CoordinatorMetrics m(":memory:");
  StoreOptions so;
  so.path = ":memory:";
  auto store = Store::Open(so);
  ASSERT_TRUE(store.ok()) << store.status();
  auto* gc = dynamic_cast<GroupCommitStore*>(store->get());
  ASSERT_NE(gc, nullptr);
  gc->SetCommitObserver(m.Observer());
  WriteBatch put;
  SweepRecord sweep;
  sweep.id = "s1";
  sweep.name = "s1";
  sweep.trial_count = 2;
  put.put_sweeps.push_back(sweep);
  for (int i = 0; i < 2; ++i) {
    TrialRecord t;
    t.id = "s1-t" + std::to_string(i);
    t.sweep_id = "s1";
    t.index = i;
    t.status = TrialStatus::kQueued;
    put.insert_trials.push_back(t);
  }
  ASSERT_TRUE((*store)->Write(put).ok());
  WriteBatch finish;
  TrialRecord done = put.insert_trials[0];
  done.status = TrialStatus::kSucceeded;
  finish.update_trials.push_back(done);
  TrialRecord failed = put.insert_trials[1];
  failed.status = TrialStatus::kFailed;
  finish.update_trials.push_back(failed);
  ASSERT_TRUE((*store)->Write(finish).ok());
  const std::string text = m.registry().Render();
  EXPECT_THAT(text, HasSubstr("hypersweep_trials_finished_total{status=\"SUCCEEDED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_trials_finished_total{status=\"FAILED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_trials_finished_total{status=\"CANCELLED\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_commits_total 2\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_commit_errors_total 0\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_commit_group_batches_count 2\n"));
  EXPECT_THAT(text, HasSubstr("hypersweep_commit_duration_seconds_count 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("hypersweep_database_size_bytes")));  // :memory:
  gc->SetCommitObserver(nullptr);
  ASSERT_TRUE((*store)->Write(finish).ok());
  EXPECT_THAT(m.registry().Render(), HasSubstr("hypersweep_commits_total 2\n"));
  (*store)->Close();
}

}  // namespace
}  // namespace hypersweep::metrics
