// command: {argv, env, workdir}: parsing, bounds and `{name}` substitution (core/command_spec.h).
#include "core/command_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/sweep_spec.h"
#include "core/trial_spec.h"

namespace hypersweep {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CommandSpec, ParsesWithoutDatasetAndRoundTrips) {
  auto t = ParseTrialSpec(R"(
command: {argv: [python3, train.py, --lr, "{lr}", "--bs={batch_size}", "{{x}}"],
          env: {MY_FLAG: "1"}, workdir: examples/command, steps_per_epoch: 20}
schedule: {one_cycle: {max_lr: 0.5, div_factor: 25}}
batch_size: 64
)");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->command.present());
  EXPECT_EQ(t->command.env.at("MY_FLAG"), "1");
  EXPECT_EQ(t->command.workdir, "examples/command");
  auto again = ParseTrialSpec(ToJson(*t).dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->command, t->command);

  auto argv = SubstituteArgv(t->command, *t);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_THAT(*argv, ElementsAre("python3", "train.py", "--lr", "0.5", "--bs=64", "{x}"));
}

TEST(CommandSpec, SubstitutesEveryName) {
  auto t = ParseTrialSpec(R"(
command: {argv: [prog, "{lr} {max_lr} {base_lr} {momentum} {weight_decay} {epochs} {seed} {fold} {folds} {schedule} {name}"]}
name: pt
dataset: {synthetic: {}}
schedule: {cyclic: {base_lr: 0.01, max_lr: 0.3, step_size_up: 10}}
momentum: 0.8
weight_decay: 0.0001
epochs: 7
seed: 3
validation: {folds: 4, fold: 2}
)");
  ASSERT_TRUE(t.ok()) << t.status();
  auto argv = SubstituteArgv(t->command, *t);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_EQ((*argv)[1], "0.3 0.3 0.01 0.8 1e-04 7 3 2 4 cyclic pt");
}

TEST(CommandSpec, UnresolvedAutoLrIsNotSubstituted) {
  auto s = ParseSweepSpec(R"(
command: {argv: [prog, "{lr}"]}
schedule: {one_cycle: {max_lr: auto}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  auto argv = SubstituteArgv(s->base.command, s->base);
  EXPECT_FALSE(argv.ok());
  EXPECT_THAT(argv.status().message(), HasSubstr("max_lr"));
}

TEST(CommandSpec, RejectsBadFields) {
  struct Case {
    const char* command;
    const char* expect;
  } cases[] = {
      {"{argv: [prog, '{nope}']}", "command.argv[1]"},
      {"{argv: [prog, '{lr']}", "without '}'"},
      {"{argv: [prog, 'x}']}", "without '{'"},
      {"{argv: []}", "command.argv"},
      {"{env: {A: b}}", "'argv' is required"},
      {"{argv: [prog], env: {'1A': b}}", "command.env.1A"},
      {"{argv: [prog], env: {HYPERSWEEP_TOKEN: b}}", "HYPERSWEEP_"},
      {"{argv: [prog], shell: true}", "shell"},
      {"{argv: [prog], steps_per_epoch: -1}", "command.steps_per_epoch"},
  };
  for (const Case& c : cases) {
    auto t = ParseTrialSpec(std::string("schedule: {constant: {lr: 0.1}}\ncommand: ") + c.command);
    ASSERT_FALSE(t.ok()) << c.command;
    EXPECT_THAT(t.status().message(), HasSubstr(c.expect)) << c.command;
  }
}

TEST(CommandSpec, BoundsArgvAndEnv) {
  std::string many = "{argv: [prog";
  for (size_t i = 0; i < kMaxCommandArgs; ++i) many += ", a";
  many += "]}";
  auto t = ParseTrialSpec("schedule: {constant: {lr: 0.1}}\ncommand: " + many);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("at most 256"));

  const std::string huge(kMaxCommandArgBytes + 1, 'x');
  t = ParseTrialSpec("schedule: {constant: {lr: 0.1}}\ncommand: {argv: [prog, " + huge + "]}");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("command.argv[1]"));

  std::string env = "{argv: [prog], env: {";
  for (size_t i = 0; i <= kMaxCommandEnvEntries; ++i) env += "V" + std::to_string(i) + ": x, ";
  env += "}}";
  t = ParseTrialSpec("schedule: {constant: {lr: 0.1}}\ncommand: " + env);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("command.env"));
}

TEST(CommandSpec, DatasetStillRequiredWithoutCommand) {
  auto t = ParseTrialSpec("schedule: {constant: {lr: 0.1}}\n");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("dataset"));
}

TEST(CommandSpec, SweepObjectiveMayNameTheProgramsMetric) {
  auto s = ParseSweepSpec(R"(
command: {argv: [prog]}
objective: {metric: my_error}
schedule: {constant: {lr: 0.1}}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->objective.metric, "my_error");
  EXPECT_EQ(s->objective.goal, Goal::kMinimize);
  // Numbers are written in shortest round-trip form (std::to_chars), which Python float() reads.
  // Without a command, only the built-in trainer's metrics.
  auto b = ParseSweepSpec(R"(
dataset: {synthetic: {}}
objective: {metric: my_error}
schedule: {constant: {lr: 0.1}}
)");
  EXPECT_FALSE(b.ok());
}

TEST(CommandSpec, ExampleSweepHasEightPoints) {
  std::ifstream in(std::string(HYPERSWEEP_SOURCE_DIR) + "/examples/command/sweep.yaml");
  std::stringstream text;
  text << in.rdbuf();
  auto s = ParseSweepSpec(text.str());
  ASSERT_TRUE(s.ok()) << s.status();
  auto trials = ExpandSweep(*s);
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_GE(trials->size(), 8u);
  for (const auto& t : *trials) {
    auto argv = SubstituteArgv(t.spec.command, t.spec);
    ASSERT_TRUE(argv.ok()) << argv.status();
  }
}

}  // namespace
}  // namespace hypersweep
