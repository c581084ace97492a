// A command trial on the worker (worker/command/command_trial.h): --allow-command matching, the
// environment without secrets, the files the program gets, and outcomes as the trainer's types.
#include "worker/command/command_trial.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "tests/support/files.h"
#include "tests/worker/test_util.h"

namespace hypersweep {
namespace {

using test_support::ReadFile;
using test_support::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(CommandAllowed, ExactNamesAndDirectoryPrefixes) {
  const std::vector<std::string> allowed = {"python3", "/opt/train/"};
  EXPECT_TRUE(CommandAllowed(allowed, "python3"));
  EXPECT_FALSE(CommandAllowed(allowed, "python3.11"));
  EXPECT_FALSE(CommandAllowed(allowed, "/usr/bin/python3"));
  EXPECT_TRUE(CommandAllowed(allowed, "/opt/train/run.sh"));
  EXPECT_TRUE(CommandAllowed(allowed, "/opt/train/sub/run.sh"));
  EXPECT_FALSE(CommandAllowed(allowed, "/opt/train/../../bin/sh"));
  EXPECT_FALSE(CommandAllowed(allowed, "/opt/train//run.sh"));
  EXPECT_FALSE(CommandAllowed(allowed, "/opt/train/"));
  EXPECT_FALSE(CommandAllowed(allowed, "/opt/training/run.sh"));
  EXPECT_FALSE(CommandAllowed({}, "python3"));
}

TEST(InheritedEnvironment, DropsTheWorkersSecrets) {
  std::vector<std::string> entries = {"PATH=/usr/bin",       "HOME=/root",
                                      "HYPERSWEEP_TOKEN=t1", "HYPERSWEEP_WORKER_TOKEN=t2",
                                      "MY_api_token=t3",     "AWS_SECRET_ACCESS_KEY=t4",
                                      "DB_PASSWORD=t5",      "GOOGLE_APPLICATION_CREDENTIALS=t6",
                                      "HYPERSWEEP_SERVER=x"};
  std::vector<char*> env;
  for (auto& e : entries) env.push_back(e.data());
  env.push_back(nullptr);
  const auto out = InheritedEnvironment(env.data());
  EXPECT_THAT(out, ::testing::ElementsAre("PATH=/usr/bin", "HOME=/root"));
}

class CommandTrialTest : public ::testing::Test {
 protected:
  absl::StatusOr<TrialResult> Run(const std::string& script, const std::string& extra = "") {
    const std::string path = dir.Write("script" + std::to_string(++scripts) + ".sh", script);
    auto spec = ParseTrialSpec(
        "command: {argv: [/bin/sh, " + path +
        ", '{lr}'], env: {FROM_SPEC: spec}, steps_per_epoch: 2}\n"
        "schedule: {one_cycle: {max_lr: 0.4}}\nepochs: 2\nbatch_size: 32\nseed: 5\n" +
        extra);
    EXPECT_TRUE(spec.ok()) << spec.status();
    CommandTrialOptions o;
    o.trial_id = "t-1";
    o.attempt = 2;
    o.checkpoint_dir = dir.path();
    o.base_env = {"PATH=/usr/bin:/bin"};
    o.grace = absl::Milliseconds(200);
    return RunCommandTrial(*spec, o, &sink);
  }
  std::string TrialDir() { return dir.File("command/t-1"); }

  TempDir dir{"command-trial"};
  testing::RecordingSink sink;
  int scripts = 0;
};

TEST_F(CommandTrialTest, ProgramGetsItsPointScheduleAndEnvironment) {
  auto r = Run(
      R"(env > env.txt; echo "argv=$1"; cp "$HYPERSWEEP_TRIAL" seen.json
echo '{"epoch": 0, "my_loss": 1.5}'; echo '{"epoch": 1, "my_loss": 0.5}')");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, TrialOutcome::kSucceeded);
  ASSERT_EQ(sink.epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(sink.epochs[1].Get("my_loss"), 0.5);
  const std::string env = ReadFile(TrialDir() + "/env.txt");
  EXPECT_THAT(env, HasSubstr("FROM_SPEC=spec"));
  EXPECT_THAT(env, HasSubstr("HYPERSWEEP_TRIAL=" + TrialDir() + "/trial.json"));
  EXPECT_THAT(env, HasSubstr("HYPERSWEEP_CHECKPOINT_DIR=" + TrialDir() + "/checkpoints"));
  EXPECT_THAT(env, HasSubstr("HYPERSWEEP_RESUME=0"));
  EXPECT_THAT(env, HasSubstr("HYPERSWEEP_MODE=train"));
  EXPECT_THAT(env, HasSubstr("HYPERSWEEP_SCHEDULE=" + TrialDir() + "/schedule.csv"));
  EXPECT_THAT(ReadFile(TrialDir() + "/trial.log"), HasSubstr("argv=0.4"));
  auto trial = nlohmann::json::parse(ReadFile(TrialDir() + "/seen.json"));
  EXPECT_EQ(trial["lr"], 0.4);
  EXPECT_EQ(trial["batch_size"], 32);
  EXPECT_EQ(trial["seed"], 5);
  EXPECT_EQ(trial["attempt"], 2);
  // 2 epochs x 2 steps: the 1cycle table `hypersweep-worker schedule` prints.
  const std::string csv = ReadFile(TrialDir() + "/schedule.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_THAT(csv, HasSubstr("step,epoch,lr,momentum\n0,0,0.016,"));
}

TEST_F(CommandTrialTest, ResumeWhenCheckpointsExist) {
  std::filesystem::create_directories(TrialDir() + "/checkpoints");
  test_support::WriteFile(TrialDir() + "/checkpoints/last.pt", "x");
  auto r = Run(R"(echo $HYPERSWEEP_RESUME > resume.txt; echo '{"epoch": 0}')");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadFile(TrialDir() + "/resume.txt"), "1\n");
}

TEST_F(CommandTrialTest, OutcomesBecomeStatusesAndResults) {
  auto diverged = Run("exit 3");
  ASSERT_TRUE(diverged.ok());
  EXPECT_EQ(diverged->outcome, TrialOutcome::kDiverged);
  auto user = Run("echo no such flag >&2; exit 2");
  EXPECT_TRUE(absl::IsInvalidArgument(user.status())) << user.status();
  EXPECT_THAT(user.status().message(), HasSubstr("no such flag"));
  auto transient = Run("exit 1");
  EXPECT_TRUE(absl::IsUnavailable(transient.status())) << transient.status();
  auto silent = Run("true");
  EXPECT_TRUE(absl::IsInvalidArgument(silent.status()));
  EXPECT_THAT(silent.status().message(), HasSubstr("without reporting an epoch"));
}

TEST_F(CommandTrialTest, LrRangeTestReadsTheCurveAndSuggests) {
  // A loss that falls to its minimum at lr 1e-2 and then rises steeply; the program would go on
  // for long, the worker's stop rule ends it.
  const std::string path = dir.Write("range.sh", R"(test "$HYPERSWEEP_MODE" = lr_range || exit 2
awk 'BEGIN { for (i = 0; i < 400; i++) { lr = 1e-5 * 10 ^ (i / 50); x = log(lr) / log(10) + 2;
  printf "{\"lr_range\": {\"lr\": %g, \"loss\": %g}}\n", lr, (x < 0 ? -x : 20 * x * x) + 1 } }'
sleep 60)");
  auto spec = ParseTrialSpec("command: {argv: [/bin/sh, " + path +
                             "], steps_per_epoch: 10}\n"
                             "schedule: {lr_range_test: {min_lr: 1e-5, max_lr: 10}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  CommandTrialOptions o;
  o.trial_id = "t-range";
  o.checkpoint_dir = dir.path();
  o.base_env = {"PATH=/usr/bin:/bin"};
  o.grace = absl::Milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  auto r = RunCommandLrRangeTest(*spec, o, &sink);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_GT(r->curve.size(), 100u);
  EXPECT_LT(r->curve.size(), 400u);  // stopped by the rule, not by the program's end
  ASSERT_TRUE(r->suggestions.AnyOk());
  EXPECT_THAT(ReadFile(dir.File("command/t-range/trial.json")),
              HasSubstr("\"mode\": \"lr_range\""));
}

TEST_F(CommandTrialTest, WorkdirIsConfinedToTheDataRoots) {
  auto spec = ParseTrialSpec(
      "command: {argv: [/bin/true], workdir: /etc}\nschedule: {constant: {lr: 0.1}}\n");
  ASSERT_TRUE(spec.ok());
  CommandTrialOptions o;
  o.trial_id = "t-2";
  o.checkpoint_dir = dir.path();
  o.roots = DataRoots{dir.path(), {}};
  auto r = RunCommandTrial(*spec, o, &sink);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("command.workdir"));
  o.trial_id = "../escape";
  r = RunCommandTrial(*spec, o, &sink);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
}

}  // namespace
}  // namespace hypersweep
