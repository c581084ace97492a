// The CLI in-process, for everything that needs no server: usage errors, local spec validation
// (submit --dry-run), schedule previews, and an unreachable server.
#include "client/cli.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/xml_check.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hs-cli-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result Run(std::vector<std::string> args, bool terminal = false,
             std::map<std::string, std::string> extra_env = {}) {
    args.insert(args.begin(), "hypersweep");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    CliEnvironment env;
    env.env = {{"HOME", dir_}};
    env.env.insert(extra_env.begin(), extra_env.end());
    env.out_is_terminal = terminal;
    env.err_is_terminal = terminal;
    std::ostringstream out, err;
    const int code = RunCli(static_cast<int>(argv.size()), argv.data(), env, out, err);
    return {code, out.str(), err.str()};
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(CliTest, UsageErrorsExit2) {
  EXPECT_EQ(Run({}).code, 2);
  EXPECT_EQ(Run({"frobnicate"}).code, 2);
  auto r = Run({"status"});  // missing SWEEP
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("SWEEP"));
  EXPECT_EQ(Run({"schedule", "--steps", "10"}).code, 2);
  EXPECT_EQ(Run({"--help"}).code, 0);
}

TEST_F(CliTest, DryRunPrintsCountAndPoints) {
  const std::string spec = Write("ok.yaml", R"(name: dry
dataset: {synthetic: {}}
epochs: 2
validation: {folds: 3}
grid:
  batch_size: [32, 64]
  schedule:
    - {constant: {lr: 0.1}}
    - {one_cycle: {max_lr: auto}}
)");
  auto r = Run({"submit", spec, "--dry-run", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["name"], "dry");
  EXPECT_EQ(doc["count"], 12);
  ASSERT_EQ(doc["trials"].size(), 12u);
  EXPECT_EQ(doc["trials"][0]["batch_size"], 32);
  EXPECT_EQ(doc["trials"][0]["fold"], 0);
  EXPECT_EQ(doc["trials"][2]["fold"], 2);
  EXPECT_EQ(doc["trials"][3]["schedule"], "one_cycle");
  EXPECT_EQ(doc["trials"][11]["params"]["batch_size"], "64");

  r = Run({"submit", spec, "--dry-run", "--format", "table"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("12 trials"));
  EXPECT_THAT(r.out, HasSubstr("param.batch_size"));

  r = Run({"submit", spec, "--dry-run", "--format", "csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 13);  // header + 12
  EXPECT_THAT(r.err, HasSubstr("12 trials"));
}

TEST_F(CliTest, DryRunOfATpeSweepSaysHowManyPointsAreProposedAdaptively) {
  const std::string spec = Write("tpe.yaml", R"(name: tpe
dataset: {synthetic: {}}
schedule: {constant: {lr: 0.1}}
epochs: 2
seeds: [0, 1]
tpe: {trials: 40, parallel: 4, params: {weight_decay: {log_uniform: [1e-6, 1e-2]}}}
)");
  auto r = Run({"submit", spec, "--dry-run", "--format", "table"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("40 points will be proposed adaptively (tpe: at most 4 at a time, "
                               "the first 10 at random), 2 trials each: 80 trials"));
  r = Run({"submit", spec, "--dry-run", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["count"], 80);
  EXPECT_EQ(doc["adaptive_points"], 40);
  EXPECT_EQ(doc["trials_per_point"], 2);
  EXPECT_EQ(doc["parallel"], 4);
}

struct BadSpec {
  const char* name;
  const char* yaml;
  const char* expect;
};

// The bad specs of the Coordinator issue's acceptance line 5.
class DryRunBadSpecTest : public CliTest, public ::testing::WithParamInterface<BadSpec> {};

TEST_P(DryRunBadSpecTest, FieldPathAndLineExit2) {
  const std::string spec = Write("bad.yaml", GetParam().yaml);
  auto r = Run({"submit", spec, "--dry-run"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(GetParam().expect));
  EXPECT_THAT(r.err, HasSubstr("bad.yaml"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_EQ(r.out, "");
}

#define HEAD "dataset: {synthetic: {}}\n"
INSTANTIATE_TEST_SUITE_P(
    CoordinatorIssue, DryRunBadSpecTest,
    ::testing::Values(
        BadSpec{"unknown_field", HEAD "schedule: {constant: {lr: 0.1}}\ngird: {batch_size: [1]}\n",
                "gird (line 3): unknown field"},
        BadSpec{"empty_grid_list", HEAD "schedule: {constant: {lr: 0.1}}\ngrid:\n  momentum: []\n",
                "grid.momentum (line 4): must not be empty"},
        BadSpec{"batch_size_zero",
                HEAD "schedule: {constant: {lr: 0.1}}\ngrid:\n  batch_size: [64, 0]\n",
                "grid.batch_size[1] (line 4): must be >= 1"},
        BadSpec{"max_lr_below_base_lr",
                HEAD
                "grid:\n  schedule:\n    - cyclic:\n        base_lr: 0.5\n        max_lr: 0.1\n"
                "        step_size_up: 3\n",
                "grid.schedule[0].cyclic.max_lr (line 6): must be >= base_lr"},
        BadSpec{"pct_start",
                HEAD
                "grid:\n  schedule:\n    - one_cycle:\n        max_lr: 1\n        pct_start: 1.5\n",
                "grid.schedule[0].one_cycle.pct_start (line 6): must be in (0, 1)"},
        BadSpec{"unknown_schedule", HEAD "schedule: {warmup: {lr: 1}}\n",
                "schedule.warmup (line 2): unknown schedule 'warmup'"},
        BadSpec{
            "log_uniform_bound",
            HEAD "schedule: {constant: {lr: 0.1}}\nrandom:\n  trials: 3\n  params:\n"
                 "    weight_decay: {log_uniform: [0, 1e-2]}\n",
            "random.params.weight_decay.log_uniform[0] (line 6): log_uniform bounds must be > 0"}),
    [](const ::testing::TestParamInfo<BadSpec>& info) { return std::string(info.param.name); });
#undef HEAD

// Every spec of the shared bad-spec corpus (tests/data/bad_specs, "# expect: ..." on line 1):
// exit 2 with the expected message, a line number and nothing on stdout.
TEST_F(CliTest, DryRunOfEachCorpusBadSpecExits2WithLine) {
  const fs::path dir = fs::path(HYPERSWEEP_SOURCE_DIR) / "tests/data/bad_specs";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    std::ifstream in(entry.path());
    std::string first;
    std::getline(in, first);
    ASSERT_EQ(first.rfind("# expect: ", 0), 0u) << entry.path();
    SCOPED_TRACE(entry.path().filename().string());
    auto r = Run({"submit", entry.path().string(), "--dry-run"});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(first.substr(10)));
    EXPECT_THAT(r.err, HasSubstr("line "));
    EXPECT_EQ(r.out, "");
  }
  EXPECT_GE(n, 30);
}

TEST_F(CliTest, SubmitOfMissingFileIsUsageError) {
  auto r = Run({"submit", dir_ + "/missing.yaml", "--dry-run"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing.yaml"));
}

TEST_F(CliTest, ScheduleCsvMatchesCoreSchedule) {
  auto r = Run({"schedule", "--schedule", "{one_cycle: {max_lr: 0.1, anneal_strategy: linear}}",
                "--steps", "10", "--steps-per-epoch", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "step,epoch,lr,momentum");
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "0,0,0.004,0.95");  // max_lr / div_factor 25, max_momentum
  // PyTorch's OneCycleLR peaks at step pct_start * total - 1, then anneals linearly.
  EXPECT_EQ(lines[2], "2,0,0.1,0.85");
  EXPECT_THAT(lines[3], ::testing::StartsWith("3,0,0.0857143"));
  EXPECT_THAT(lines[9], ::testing::StartsWith("9,1,4e-07,0.95"));  // max_lr / (25 * 1e4)
}

TEST_F(CliTest, ScheduleJsonAndSvg) {
  auto r = Run({"schedule", "--schedule", "{\"constant\": {\"lr\": 0.05}}", "--steps", "4",
                "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["points"].size(), 4u);
  EXPECT_DOUBLE_EQ(doc["points"][3]["lr"].get<double>(), 0.05);
  EXPECT_EQ(doc["schedule"]["constant"]["lr"], 0.05);

  r = Run({"schedule", "--schedule", "{cosine_restarts: {max_lr: 0.3, t_0: 10}}", "--steps", "40",
           "--steps-per-epoch", "10", "--format", "svg"});
  ASSERT_EQ(r.code, 0) << r.err;
  testing_xml::Parser p(r.out);
  auto root = p.Parse();
  ASSERT_NE(root, nullptr) << p.error();
  auto paths = testing_xml::SeriesPaths(*root);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(testing_xml::PathPoints(paths[0]->attrs.at("d")), 40);
}

TEST_F(CliTest, BadScheduleNamesTheField) {
  auto r =
      Run({"schedule", "--schedule", "{one_cycle: {max_lr: 0.1, pct_start: 2}}", "--steps", "10"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("pct_start"));
  r = Run({"schedule", "--schedule", "{one_cycle: {max_lr: auto}}", "--steps", "10"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(CliTest, UnreachableServerExits4WithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto r = Run({"--server", "127.0.0.1:1", "--timeout", "1", "list"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.code, 4);
  EXPECT_LT(seconds, 3.0);
  EXPECT_THAT(r.err, HasSubstr("127.0.0.1:1"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, BadFormatIsUsageError) {
  auto r =
      Run({"schedule", "--schedule", "{constant: {lr: 1}}", "--steps", "3", "--format", "xml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("xml"));
  EXPECT_THAT(r.err, Not(HasSubstr("\033[")));  // not a terminal: no colour
}

TEST_F(CliTest, TerminalGetsTablesAndColoursUnlessNoColor) {
  const std::string spec = Write("t.yaml",
                                 "dataset: {synthetic: {}}\nschedule: {constant: {lr: 1}}\n"
                                 "grid: {batch_size: [8, 16]}\n");
  auto r = Run({"submit", spec, "--dry-run"}, /*terminal=*/true);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 trials"));  // table on a terminal: count and aligned rows
  EXPECT_THAT(r.out, HasSubstr("index  batch_size"));
  r = Run({"submit", spec, "--dry-run"});
  EXPECT_THAT(r.out, ::testing::StartsWith("index,batch_size,"));  // csv otherwise

  auto bad = Run({"submit", dir_ + "/none.yaml"}, /*terminal=*/true);
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("\033[31m"));
  bad = Run({"submit", dir_ + "/none.yaml"}, /*terminal=*/true, {{"NO_COLOR", "1"}});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, Not(HasSubstr("\033[")));
}

// `dashboard`: its flags in --help, and the refusals that need no server and no socket.
TEST_F(CliTest, DashboardHelpAndRefusals) {
  Result help = Run({"dashboard", "--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* flag :
       {"--listen", "--token-file", "--tls-cert", "--tls-key", "--allow-cancel"}) {
    EXPECT_THAT(help.out, HasSubstr(flag));
  }
  Result open = Run({"dashboard", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(open.code, 2);
  EXPECT_THAT(open.err, HasSubstr("--token-file"));
  const std::string token = Write("dash.token", "tok-123456\n");
  Result no_tls = Run({"dashboard", "--listen", "0.0.0.0:0", "--token-file", token});
  EXPECT_EQ(no_tls.code, 2);
  EXPECT_THAT(no_tls.err, HasSubstr("--tls-cert"));
  Result half = Run({"dashboard", "--listen", "127.0.0.1:0", "--tls-cert", token});
  EXPECT_EQ(half.code, 2);
  EXPECT_THAT(half.err, HasSubstr("--tls-key"));
  Result bad = Run({"dashboard", "--listen", "localhost"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--listen"));
  Result missing = Run({"dashboard", "--listen", "127.0.0.1:0", "--token-file", dir_ + "/none"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--token-file"));
}

}  // namespace
}  // namespace hypersweep
