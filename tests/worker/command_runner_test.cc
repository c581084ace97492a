// The command-trial runner (worker/command/runner.h) with tiny shell programs: outcomes by exit
// code, report parsing and its bounds, the log and its tail, stopping, the budget, and the
// process group (a grandchild goes with the program).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/files.h"
#include "worker/command/runner.h"

namespace hypersweep {
namespace {

using test_support::ReadFile;
using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// Gone: no such process, or a zombie nobody has reaped yet.
bool Gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  const size_t paren = s.rfind(')');
  return paren == std::string::npos || s.substr(paren + 2, 1) == "Z";
}

class RunnerTest : public ::testing::Test {
 protected:
  ProgramResult Run(const std::string& script) {
    ProgramOptions o = options;
    o.argv = {"/bin/sh", "-c", script};
    o.env = {"PATH=/usr/bin:/bin", "MY_VAR=visible"};
    o.workdir = dir.path();
    o.log_path = dir.File("trial.log");
    o.on_epoch = [this](const metrics::EpochMetrics& m) { epochs.push_back(m); };
    return RunProgram(o);
  }
  std::string Log() { return ReadFile(dir.File("trial.log")); }

  TempDir dir{"command-runner"};
  ProgramOptions options;
  std::vector<metrics::EpochMetrics> epochs;
};

TEST_F(RunnerTest, ReportsEpochsAndLogsTheRest) {
  ProgramResult r = Run(R"(
echo '{"epoch": 0, "my_loss": 0.5, "acc": null}'
echo 'plain progress line'
echo 'to stderr' >&2
echo '{"note": "an object without epoch is logged"}'
echo "cwd=$(pwd) var=$MY_VAR"
echo '{"epoch": 1, "my_loss": 0.25}'
)");
  EXPECT_EQ(r.outcome, ProgramOutcome::kSucceeded) << r.reason;
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].epoch, 0);
  EXPECT_DOUBLE_EQ(epochs[0].Get("my_loss"), 0.5);
  EXPECT_TRUE(std::isnan(epochs[0].Get("acc", 0)));
  EXPECT_DOUBLE_EQ(epochs[1].Get("my_loss"), 0.25);
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("plain progress line"));
  EXPECT_THAT(log, HasSubstr("to stderr"));
  EXPECT_THAT(log, HasSubstr("an object without epoch"));
  EXPECT_THAT(log, HasSubstr("cwd=" + dir.path() + " var=visible"));
  EXPECT_THAT(log, Not(HasSubstr("my_loss")));
}

TEST_F(RunnerTest, ExitCodesMapToOutcomes) {
  EXPECT_EQ(Run("echo '{\"epoch\": 0, \"l\": 1}'; exit 3").outcome, ProgramOutcome::kDiverged);

  ProgramResult user = Run("echo 'unknown flag --lrr' >&2; exit 2");
  EXPECT_EQ(user.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(user.reason, HasSubstr("exited with code 2"));
  EXPECT_THAT(user.reason, HasSubstr("unknown flag --lrr"));

  ProgramResult other = Run("echo 'CUDA error: out of luck' >&2; exit 1");
  EXPECT_EQ(other.outcome, ProgramOutcome::kFailed);
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.reason, HasSubstr("CUDA error: out of luck"));

  ProgramResult killed = Run("echo '{\"epoch\": 0, \"l\": 1}'; kill -9 $$");
  EXPECT_EQ(killed.outcome, ProgramOutcome::kFailed);
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_THAT(killed.reason, HasSubstr("signal 9"));
}

TEST_F(RunnerTest, ExitZeroWithoutAReportIsAUserError) {
  ProgramResult r = Run("echo 'trained, forgot to report'");
  EXPECT_EQ(r.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(r.reason, HasSubstr("without reporting an epoch"));
  EXPECT_THAT(r.reason, HasSubstr("forgot to report"));
}

TEST_F(RunnerTest, MalformedReportsEndTheTrialAsUserError) {
  for (const char* line :
       {R"({"epoch": "zero", "l": 1})", R"({"epoch": 0, "l": "high"})", R"({"epoch": 0, "l": )",
        R"({"epoch": -1})", R"({"epoch": 0, "bad name!": 1})"}) {
    epochs.clear();
    // The program would run for a minute: the runner stops it at the bad line.
    const auto start = std::chrono::steady_clock::now();
    ProgramResult r = Run(std::string("echo '") + line + "'; sleep 60");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
    EXPECT_EQ(r.outcome, ProgramOutcome::kUserError) << line;
    EXPECT_THAT(r.reason, HasSubstr("stdout line 1")) << line;
    EXPECT_TRUE(epochs.empty());
  }
  ProgramResult backwards = Run(R"(echo '{"epoch": 1}'; echo '{"epoch": 0}')");
  EXPECT_EQ(backwards.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(backwards.reason, HasSubstr("stdout line 2: epoch 0 after epoch 1"));
  // Not a report: a line that is not JSON and does not name "epoch" is only logged.
  ProgramResult garbage = Run(R"(echo '{not json'; echo '{"epoch": 0, "l": 1}')");
  EXPECT_EQ(garbage.outcome, ProgramOutcome::kSucceeded) << garbage.reason;
  EXPECT_THAT(Log(), HasSubstr("{not json"));
}

TEST_F(RunnerTest, TooManyMetricsIsAUserError) {
  std::string line = "{\"epoch\": 0";
  for (size_t i = 0; i <= kMaxReportMetrics; ++i) line += ", \"m" + std::to_string(i) + "\": 1";
  line += "}";
  ProgramResult r = Run("echo '" + line + "'");
  EXPECT_EQ(r.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(r.reason, HasSubstr("at most 64"));
}

TEST_F(RunnerTest, HugeLineIsCutNotReported) {
  // 1 MiB on one line that starts like a report, then a real report.
  ProgramResult r =
      Run("printf '{\"epoch\": 0, \"x\": \"'; head -c 1048576 /dev/zero | tr '\\0' a; echo '\"}'; "
          "echo '{\"epoch\": 0, \"l\": 2}'");
  EXPECT_EQ(r.outcome, ProgramOutcome::kSucceeded) << r.reason;
  ASSERT_EQ(epochs.size(), 1u);
  EXPECT_DOUBLE_EQ(epochs[0].Get("l"), 2);
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("bytes cut]"));
  EXPECT_LT(log.size(), 4096u);
}

TEST_F(RunnerTest, BudgetStopsANeverReportingProgram) {
  options.budget_seconds = 0.5;
  options.grace = absl::Milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  ProgramResult r = Run("echo 'loading...'; sleep 60");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(r.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(r.reason, HasSubstr("budget of 0.5s reached before the program reported"));
  EXPECT_THAT(r.reason, HasSubstr("loading..."));

  epochs.clear();
  r = Run("echo '{\"epoch\": 0, \"l\": 1}'; sleep 60");
  EXPECT_EQ(r.outcome, ProgramOutcome::kBudget);
  EXPECT_EQ(epochs.size(), 1u);
}

TEST_F(RunnerTest, StopReachesTheWholeProcessGroup) {
  // The program starts a grandchild, records both pids, and waits; SIGTERM to the group must end
  // both.
  std::atomic<bool> stop{false};
  options.should_stop = [&] { return stop.load(); };
  options.grace = absl::Seconds(5);
  std::thread stopper([&] {
    for (int i = 0; i < 200 && !std::filesystem::exists(dir.File("pids")); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  const auto start = std::chrono::steady_clock::now();
  ProgramResult r = Run("sleep 300 & echo \"$$ $!\" > pids.tmp; mv pids.tmp pids; wait");
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(4));  // no SIGKILL needed
  EXPECT_EQ(r.outcome, ProgramOutcome::kStopped);
  std::ifstream pids(dir.File("pids"));
  pid_t program = 0, grandchild = 0;
  pids >> program >> grandchild;
  ASSERT_GT(program, 0);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(Gone(program));
  for (int i = 0; i < 100 && !Gone(grandchild); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Gone(grandchild));
}

TEST_F(RunnerTest, ProgramIgnoringSigtermIsKilledAfterTheGrace) {
  // Stop once the trap is set.
  options.should_stop = [this] { return std::filesystem::exists(dir.File("ready")); };
  options.grace = absl::Milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  ProgramResult r = Run("trap '' TERM; touch ready; while :; do sleep 1; done");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.outcome, ProgramOutcome::kStopped);
  EXPECT_EQ(r.signal, SIGKILL);
}

TEST_F(RunnerTest, LeftoverChildrenDieWithTheProgram) {
  ProgramResult r = Run("sleep 300 & echo $! > child; echo '{\"epoch\": 0, \"l\": 1}'; exit 0");
  EXPECT_EQ(r.outcome, ProgramOutcome::kSucceeded) << r.reason;
  pid_t child = 0;
  std::ifstream(dir.File("child")) >> child;
  ASSERT_GT(child, 0);
  for (int i = 0; i < 100 && !Gone(child); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Gone(child));
}

TEST_F(RunnerTest, MissingProgramOrWorkdirIsAUserError) {
  ProgramOptions o;
  o.argv = {"/nonexistent/train"};
  o.workdir = dir.path();
  o.log_path = dir.File("trial.log");
  ProgramResult r = RunProgram(o);
  EXPECT_EQ(r.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(r.reason, HasSubstr("cannot run '/nonexistent/train'"));
  o.argv = {"/bin/true"};
  o.workdir = dir.File("missing");
  r = RunProgram(o);
  EXPECT_EQ(r.outcome, ProgramOutcome::kUserError);
  EXPECT_THAT(r.reason, HasSubstr("working directory"));
}

TEST_F(RunnerTest, LrRangePoints) {
  options.lr_range = true;
  std::vector<std::pair<double, double>> points;
  options.on_lr_point = [&](double lr, double loss) { points.emplace_back(lr, loss); };
  ProgramResult r = Run(R"(
echo '{"lr_range": {"lr": 0.001, "loss": 2.0}}'
echo '{"lr_range": {"lr": 0.01, "loss": 1.5}}'
echo '{"lr_range": {"lr": 0.1, "loss": null}}'
)");
  EXPECT_EQ(r.outcome, ProgramOutcome::kSucceeded) << r.reason;
  ASSERT_EQ(points.size(), 3u);
  EXPECT_DOUBLE_EQ(points[1].first, 0.01);
  EXPECT_TRUE(std::isnan(points[2].second));
  EXPECT_EQ(Run(R"(echo '{"lr_range": {"lr": -1, "loss": 1}}')").outcome,
            ProgramOutcome::kUserError);
}

TEST(LogTail, IsBoundedAndSanitised) {
  TempDir dir("command-tail");
  std::string content(5000, 'x');
  content += "\nline two \x1b[31mred\x1b[0m caf\xc3\xa9\n";
  const std::string path = dir.Write("log", content);
  const std::string tail = LogTail(path, 100);
  EXPECT_LE(tail.size(), 110u);
  EXPECT_THAT(tail, HasSubstr(" | line two ?[31mred?[0m caf??"));
  EXPECT_EQ(LogTail(dir.File("none")), "");
}

}  // namespace
}  // namespace hypersweep
