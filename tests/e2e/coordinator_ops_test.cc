// What an operator sees of hypersweepd (issue 19): structured logs (one line per event, key=value
// or JSON), the exit code and message for a database from a newer release, and a database
// written by the previous release served by this one.
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/harness.h"

namespace hypersweep::e2e {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Runs one small sweep on a coordinator started with `log_flags` and returns its log (stdout's
// "listening on" line and stderr's event lines).
std::string RunOneSweep(const std::vector<std::string>& log_flags) {
  Cluster c;
  c.StartCoordinator("2s", log_flags);
  if (::testing::Test::HasFatalFailure()) return "";
  c.StartWorker("w1");
  const std::string sweep =
      c.Submit(SyntheticSweep("ops \"log\" test", 1, 400, "grid: {weight_decay: [0, 0.001]}\n"));
  EXPECT_FALSE(sweep.empty());
  EXPECT_TRUE(WaitFor([&] { return c.Done(sweep); }, std::chrono::seconds(120))) << c.Logs();
  EXPECT_EQ(c.StopCoordinator(), 0);
  return c.coordinator().log();
}

TEST(CoordinatorOpsTest, JsonLogsAreOneObjectPerEventWithLevelAndFields) {
  const std::string log = RunOneSweep({"--log-format", "json", "--log-level", "debug"});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  std::map<std::string, nlohmann::json> by_event;
  for (const std::string& line : Lines(log)) {
    if (line.rfind("hypersweepd listening on ", 0) == 0) continue;  // stdout's address line
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << "not JSON: " << line;
    ASSERT_TRUE(j.contains("ts") && j.contains("level") && j.contains("event")) << line;
    EXPECT_EQ(j["prog"], "hypersweepd") << line;
    EXPECT_TRUE(j["level"] == "debug" || j["level"] == "info" || j["level"] == "warn" ||
                j["level"] == "error")
        << line;
    by_event[j["event"].get<std::string>()] = j;
  }
  for (const char* e : {"serving", "worker_registered", "sweep_submitted", "trial_finished",
                        "sweep_completed", "shutting_down", "stopped"}) {
    EXPECT_TRUE(by_event.count(e)) << "no " << e << " event in\n" << log;
  }
  EXPECT_EQ(by_event["sweep_submitted"]["name"], "ops \"log\" test");
  EXPECT_EQ(by_event["sweep_submitted"]["trials"], 2);
  EXPECT_EQ(by_event["sweep_completed"]["succeeded"], 2);
  EXPECT_EQ(by_event["trial_finished"]["status"], "SUCCEEDED");
  EXPECT_EQ(by_event["worker_registered"]["worker"], "w1");
}

TEST(CoordinatorOpsTest, TextLogsAreKeyValueLinesAndInfoLeavesOutSuccesses) {
  const std::string log = RunOneSweep({});  // the defaults: text, info
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const std::regex line_re(
      R"(ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(info|warn|error) prog=hypersweepd )"
      R"(event=[a-z_]+( [a-z_]+=([^ "=]+|"([^"\\]|\\.)*"))*)");
  int events = 0;
  for (const std::string& line : Lines(log)) {
    if (line.rfind("hypersweepd listening on ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, line_re)) << line;
    ++events;
  }
  EXPECT_GE(events, 5);
  EXPECT_NE(log.find(R"(event=sweep_submitted sweep=sw-)"), std::string::npos) << log;
  EXPECT_NE(log.find(R"(name="ops \"log\" test")"), std::string::npos) << log;
  EXPECT_NE(log.find("event=sweep_completed"), std::string::npos) << log;
  // A successful trial is a debug event: not logged at info.
  EXPECT_EQ(log.find("event=trial_finished"), std::string::npos) << log;
}

TEST(CoordinatorOpsTest, ADatabaseFromANewerReleaseIsRefusedWithExitCode3) {
  Cluster c;
  std::filesystem::copy_file(std::string(HYPERSWEEP_FIXTURE_DIR) + "/v3.db", c.db());
  // The newest version this binary knows, plus one.
  auto r = test_support::RunCommand("sqlite3 '" + c.db() +
                                    "' 'UPDATE schema_version SET version = 1000;'");
  ASSERT_EQ(r.status, 0) << r.output;
  auto run = test_support::RunProgram({HYPERSWEEPD_BIN, "--db", c.db(), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_NE(run.err.find("schema version 1000, newer than this hypersweepd's"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("event=start_failed"), std::string::npos) << run.err;
  // Untouched: still the newer version.
  auto v =
      test_support::RunCommand("sqlite3 '" + c.db() + "' 'SELECT version FROM schema_version;'");
  EXPECT_EQ(v.output, "1000\n");
}

// Every released fixture (tests/data/db) is served by this binary: opened, migrated in one
// transaction and answering ListSweeps / ListTrials / GetTrialMetrics with what it holds.
TEST(CoordinatorOpsTest, TheBinaryServesEveryReleasedFixtureDatabase) {
  for (const auto& entry : std::filesystem::directory_iterator(HYPERSWEEP_FIXTURE_DIR)) {
    if (entry.path().extension() != ".db") continue;
    SCOPED_TRACE(entry.path().filename().string());
    Cluster c;
    std::filesystem::copy_file(entry.path(), c.db());
    c.StartCoordinator("2s");
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    grpc::ClientContext ctx;
    v1::ListSweepsRequest req;
    v1::ListSweepsResponse resp;
    ASSERT_TRUE(c.sweeps().ListSweeps(&ctx, req, &resp).ok());
    ASSERT_GE(resp.sweeps_size(), 1);
    int64_t trials = 0, epochs = 0;
    for (const auto& s : resp.sweeps()) {
      auto ts = c.Trials(s.id());
      trials += static_cast<int64_t>(ts.size());
      for (const auto& [id, es] : c.Epochs(ts)) epochs += static_cast<int64_t>(es.size());
    }
    EXPECT_GT(trials, 0);
    EXPECT_GT(epochs, 0);
    std::printf("%s: %d sweeps, %lld trials, %lld epochs served\n", entry.path().filename().c_str(),
                resp.sweeps_size(), static_cast<long long>(trials), static_cast<long long>(epochs));
    EXPECT_EQ(c.StopCoordinator(), 0);
    EXPECT_EQ(c.IntegrityCheck(), "ok");
  }
}

}  // namespace
}  // namespace hypersweep::e2e
