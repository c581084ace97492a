// hypersweep-worker as a user runs it: real processes, exit codes, stdout/stderr.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/process.h"
#include "tests/worker/hdf5_writer.h"
#include "tests/worker/test_util.h"

namespace hypersweep {
namespace {

using ::hypersweep::testing::TempDir;
using ::hypersweep::testing::WriteFile;
using ::testing::HasSubstr;

using ProcResult = test_support::ProgramResult;

// Runs the worker binary with `args`.
ProcResult RunWorker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {HYPERSWEEP_WORKER_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return test_support::RunProgram(argv);
}

std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

constexpr char kSynthetic[] = R"(
dataset: {synthetic: {samples: 1200, features: 8, classes: 2}}
model: {mlp: {hidden: [16]}}
schedule: {one_cycle: {max_lr: 0.1}}
epochs: 3
batch_size: 64
)";

TEST(WorkerCliTest, HelpExitsZero) {
  ProcResult r = RunWorker({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("train"));
  EXPECT_THAT(r.out, HasSubstr("lr-find"));
  EXPECT_EQ(RunWorker({"train", "--help"}).exit_code, 0);
}

TEST(WorkerCliTest, TrainPrintsEpochsAndSummary) {
  TempDir dir;
  WriteFile(dir.File("t.yaml"), kSynthetic);
  ProcResult r = RunWorker({"train", "--trial", dir.File("t.yaml"), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(lines[e]["epoch"], e);
    for (const char* k : {"train_loss", "val_loss", "val_accuracy", "val_auc", "lr", "momentum",
                          "seconds", "samples_per_second"}) {
      EXPECT_TRUE(lines[e].contains(k)) << k;
    }
  }
  EXPECT_EQ(lines[3]["summary"]["status"], "SUCCEEDED");
  EXPECT_TRUE(lines[2]["val_auc"].is_number());  // binary task
}

struct BadInput {
  const char* name;
  std::string trial;   // written to t.yaml unless empty
  const char* expect;  // substring of stderr
};

TEST(WorkerCliTest, BadInputsExitTwoNamingTheProblem) {
  TempDir dir;
  // Fixtures: a truncated idx dataset and a CSV with a non-numeric feature.
  const std::string idx = dir.File("idx");
  std::filesystem::create_directories(idx);
  std::string images = std::string("\x00\x00\x08\x03", 4) + std::string("\x00\x00\x00\x64", 4) +
                       std::string("\x00\x00\x00\x1c", 4) + std::string("\x00\x00\x00\x1c", 4) +
                       std::string(500, '\x01');
  WriteFile(idx + "/train-images-idx3-ubyte", images);
  WriteFile(idx + "/train-labels-idx1-ubyte",
            std::string("\x00\x00\x08\x01\x00\x00\x00\x64", 8) + std::string(100, '\x01'));
  WriteFile(dir.File("bad.csv"), "f1,f2,Label\n0.5,1.5,1\n0.1,abc,0\n");
  const std::vector<BadInput> cases = {
      {"unknown field", std::string(kSynthetic) + "learning_rate: 0.1\n",
       "unknown field 'learning_rate'"},
      {"batch 0", "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0.1}}\nbatch_size: 0\n",
       "batch_size (line 3): must be >= 1"},
      {"lr 0", "dataset: {synthetic: {}}\nschedule: {constant: {lr: 0}}\n", "schedule.constant.lr"},
      {"lr negative", "dataset: {synthetic: {}}\nschedule: {one_cycle: {max_lr: -0.1}}\n",
       "max_lr"},
      {"missing data",
       "dataset: {mnist: {root: /nonexistent/data}}\nschedule: {constant: {lr: 0.1}}\n",
       "/nonexistent/data"},
      {"truncated idx", "dataset: {mnist: {root: " + idx + "}}\nschedule: {constant: {lr: 0.1}}\n",
       "truncated idx file"},
      {"csv non-numeric",
       "dataset: {csv: {path: " + dir.File("bad.csv") + "}}\nschedule: {constant: {lr: 0.1}}\n",
       "dataset.csv.path: column 2 of line 3 is not a number"},
      {"torchscript junk",
       "dataset: {synthetic: {}}\nmodel: {torchscript: {path: " + dir.File("bad.csv") +
           "}}\nschedule: {constant: {lr: 0.1}}\n",
       "is not a TorchScript module (save one with"},
      {"torchscript no parameters",
       "dataset: {synthetic: {features: 12}}\nmodel: {torchscript: {path: " +
           std::string(HYPERSWEEP_SOURCE_DIR) +
           "/tests/data/torchscript/no_parameters.pt}}\nschedule: {constant: {lr: 0.1}}\n",
       "model.torchscript: the module has no trainable parameters"},
  };
  for (const auto& c : cases) {
    WriteFile(dir.File("t.yaml"), c.trial);
    ProcResult r = RunWorker({"train", "--trial", dir.File("t.yaml")});
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.expect)) << c.name;
  }
  ProcResult missing = RunWorker({"train", "--trial", dir.File("nope.yaml")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.yaml"));
  EXPECT_EQ(RunWorker({"train"}).exit_code, 2);  // --trial is required
  EXPECT_EQ(RunWorker({"frobnicate"}).exit_code, 2);
}

// A learnable LUMIN fold file: `folds` groups of `rows` rows, 4 features, the target the sign of
// the first two features' sum, weights 1 (background) and 0.5 (signal).
void WriteLuminFoldFile(const std::string& path, int folds, int rows) {
  hypersweep::testing::H5Writer w(path);
  uint32_t state = 12345;
  auto uniform = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / static_cast<float>(1 << 24) * 2.f - 1.f;
  };
  for (int f = 0; f < folds; ++f) {
    std::vector<float> x, wt;
    std::vector<int32_t> y;
    for (int r = 0; r < rows; ++r) {
      const float a = uniform(), b = uniform();
      x.insert(x.end(), {a, b, uniform(), uniform()});
      y.push_back(a + b > 0 ? 1 : 0);
      wt.push_back(a + b > 0 ? 0.5f : 1.f);
    }
    const std::string g = "fold_" + std::to_string(f) + "/";
    const hsize_t n = static_cast<hsize_t>(rows);
    w.Floats(g + "inputs", x, {n, 4});
    w.Ints(g + "targets", y, {n, 1});
    w.Floats(g + "weights", wt, {n});
  }
}

TEST(WorkerCliTest, TrainsOnALuminFoldFile) {
  TempDir dir;
  WriteLuminFoldFile(dir.File("train.h5"), 3, 200);
  WriteFile(dir.File("t.yaml"), "dataset: {hdf5: {path: " + dir.File("train.h5") +
                                    ", lumin_folds: true}}\n"
                                    "model: {mlp: {hidden: [16]}}\n"
                                    "schedule: {constant: {lr: 0.1}}\n"
                                    "validation: {folds: 3, fold: 2}\n"
                                    "epochs: 2\nbatch_size: 32\n");
  ProcResult r = RunWorker({"train", "--trial", dir.File("t.yaml"), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[2]["summary"]["status"], "SUCCEEDED");
  ASSERT_TRUE(lines[1]["val_auc"].is_number()) << lines[1];  // binary, weighted
  EXPECT_GT(lines[1]["val_auc"].get<double>(), 0.8) << "a linear boundary: easy to learn";

  // The spec's fold count must be the file's.
  WriteFile(dir.File("t.yaml"), "dataset: {hdf5: {path: " + dir.File("train.h5") +
                                    ", lumin_folds: true}}\n"
                                    "schedule: {constant: {lr: 0.1}}\n"
                                    "validation: {folds: 5, fold: 0}\n");
  r = RunWorker({"train", "--trial", dir.File("t.yaml")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("validation.folds: 5, but dataset.hdf5.path (train.h5) has 3 folds"));
  // A dataset name that the file lacks names the file and the dataset.
  WriteFile(dir.File("t.yaml"), "dataset: {hdf5: {path: " + dir.File("train.h5") +
                                    ", inputs: fold_0/inputs, targets: fold_0/labels}}\n"
                                    "schedule: {constant: {lr: 0.1}}\n");
  r = RunWorker({"train", "--trial", dir.File("t.yaml")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("dataset.hdf5.path (train.h5): dataset 'fold_0/labels' "
                               "(dataset.hdf5.targets) is not in the file"));
}

TEST(WorkerCliTest, DivergenceExitsThree) {
  TempDir dir;
  WriteFile(dir.File("t.yaml"),
            "dataset: {synthetic: {}}\nmodel: {mlp: {hidden: [16]}}\nschedule: {constant: {lr: "
            "1000}}\nepochs: 3\n");
  ProcResult r = RunWorker({"train", "--trial", dir.File("t.yaml")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["summary"]["status"], "DIVERGED");
}

// Epoch lines without the timing fields.
std::vector<std::string> Comparable(const std::vector<nlohmann::json>& lines) {
  std::vector<std::string> out;
  for (auto l : lines) {
    if (!l.contains("epoch")) continue;
    for (const char* k : {"seconds", "samples_per_second", "elapsed_seconds"}) l.erase(k);
    out.push_back(l.dump());
  }
  return out;
}

TEST(WorkerCliTest, KillAfterEpochTwoThenResumeMatchesUninterrupted) {
  TempDir dir;
  const std::string trial = R"(
dataset: {synthetic: {samples: 40000, features: 32, classes: 4}}
model: {mlp: {hidden: [128, 128], dropout: 0.1}}
schedule: {cyclic: {base_lr: 0.01, max_lr: 0.1, step_size_up_epochs: 1}}
epochs: 5
batch_size: 32
)";
  WriteFile(dir.File("t.yaml"), trial);
  ProcResult full = RunWorker({"train", "--trial", dir.File("t.yaml"), "--threads", "1"});
  ASSERT_EQ(full.exit_code, 0) << full.err;

  // Start a run, kill -9 it as soon as it has printed epoch 2, then resume.
  const std::string marker = "\"epoch\":2,";
  std::string first;
  {
    test_support::Process run({HYPERSWEEP_WORKER_BIN, "train", "--trial", dir.File("t.yaml"),
                               "--threads", "1", "--checkpoint-dir", dir.File("ckpt")},
                              dir.File("run.log"));
    ASSERT_TRUE(test_support::WaitFor(
        [&] { return run.log().find(marker) != std::string::npos || !run.running(); },
        std::chrono::seconds(120)));
    run.Signal(SIGKILL);
    const int status = run.Wait();
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
    first = run.log();
    first.resize(first.find('\n', first.find(marker)) + 1);  // what it had printed up to epoch 2
  }

  ProcResult resumed = RunWorker({"train", "--trial", dir.File("t.yaml"), "--threads", "1",
                                  "--checkpoint-dir", dir.File("ckpt"), "--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err, HasSubstr("resumed from checkpoint"));
  auto a = Comparable(JsonLines(first));
  auto b = Comparable(JsonLines(resumed.out));
  ASSERT_EQ(a.size(), 3u);
  // Epochs 0-2 came from the first run; the resumed run trains only 3 and 4.
  ASSERT_EQ(b.size(), 2u) << resumed.out;
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(a, Comparable(JsonLines(full.out)));
}

TEST(WorkerCliTest, ScheduleCommandPrintsCsv) {
  ProcResult r =
      RunWorker({"schedule", "--schedule", "{one_cycle: {max_lr: 1.0}}", "--steps", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  // The CLI's `hypersweep schedule --format csv` prints the same table (core's WriteScheduleCsv).
  EXPECT_EQ(line, "step,epoch,lr,momentum");
  std::vector<std::string> rows;
  while (std::getline(in, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 100u);
  EXPECT_EQ(rows[0], "0,0,0.04,0.95");  // one step per epoch unless --steps-per-epoch says
  EXPECT_EQ(rows[29], "29,29,1,0.85");
  ProcResult bad = RunWorker(
      {"schedule", "--schedule", "{one_cycle: {max_lr: 1, pct_start: 1.5}}", "--steps", "10"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("pct_start"));
}

TEST(WorkerCliTest, LrFindPrintsCurveAndSuggestion) {
  TempDir dir;
  WriteFile(dir.File("t.yaml"), std::string(kSynthetic) + "\n");
  WriteFile(dir.File("r.yaml"),
            "dataset: {synthetic: {samples: 4000, features: 8, classes: 2}}\nmodel: {mlp: {hidden: "
            "[32]}}\n"
            "schedule: {lr_range_test: {min_lr: 1e-5, max_lr: 100, steps: 200}}\nbatch_size: 32\n");
  ProcResult r = RunWorker({"lr-find", "--trial", dir.File("r.yaml"), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("step,lr,loss,smoothed_loss\n0,1e-05,"));
  EXPECT_THAT(r.out, HasSubstr("# rule steepest: "));
  EXPECT_THAT(r.out, HasSubstr("# rule valley: "));
  EXPECT_THAT(r.out, HasSubstr("# rule: min\n"));
  ProcResult j =
      RunWorker({"lr-find", "--trial", dir.File("r.yaml"), "--threads", "1", "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_GT(doc["curve"].size(), 10u);
  for (const auto& p : doc["curve"]) {
    ASSERT_TRUE(p["diverged"].is_boolean());
    EXPECT_EQ(p["diverged"].get<bool>(), p["loss"].is_null());
  }
  // Every rule: an lr, or null with a reason.
  for (const char* rule : {"min", "min_div_10", "steepest", "valley"}) {
    ASSERT_TRUE(doc["suggestions"].contains(rule)) << rule;
    EXPECT_TRUE(doc["suggestions"][rule].is_number() || doc["reasons"].contains(rule)) << rule;
  }
  EXPECT_EQ(doc["rule"], "min");  // the default rule
  EXPECT_EQ(doc["lr"], doc["suggestions"]["min"]);
  EXPECT_GT(doc["lr"].get<double>(), 0);
  // --rule picks which one is "the" suggestion.
  ProcResult v = RunWorker({"lr-find", "--trial", dir.File("r.yaml"), "--threads", "1", "--format",
                            "json", "--rule", "min_div_10"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  auto vdoc = nlohmann::json::parse(v.out);
  EXPECT_EQ(vdoc["rule"], "min_div_10");
  EXPECT_EQ(vdoc["lr"], vdoc["suggestions"]["min_div_10"]);
  EXPECT_THAT(v.err, HasSubstr("rule min_div_10"));
}

}  // namespace
}  // namespace hypersweep
