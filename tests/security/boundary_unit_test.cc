// The trust-boundary helpers without processes: checkpoint references (core/checkpoint_ref.h),
// data-path confinement and checkpoint resolution (worker/data_paths.h), spec size bounds
// (core/spec_limits.h). Torch-free, so they also run under the sanitizers.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/checkpoint_ref.h"
#include "core/spec_limits.h"
#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"
#include "worker/data_paths.h"

namespace hypersweep {
namespace {

using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(CheckpointRefTest, OnlyTheTrialsOwnFileNames) {
  EXPECT_EQ(CheckpointFileName("sw-1-0", 2), "sw-1-0.attempt2.pt");
  EXPECT_TRUE(IsOwnCheckpointRef("sw-1-0.attempt1.pt", "sw-1-0", 1));
  EXPECT_TRUE(IsOwnCheckpointRef("sw-1-0.attempt2.pt", "sw-1-0", 3));
  for (const char* bad :
       {"", "/etc/passwd", "../sw-1-0.attempt1.pt", "dir/sw-1-0.attempt1.pt", "sw-1-0.attempt0.pt",
        "sw-1-0.attempt4.pt", "sw-1-0.attempt01.pt", "sw-1-0.attempt.pt", "sw-1-0.attempt1.pt/",
        "sw-1-1.attempt1.pt", "sw-1-0.attempt1.ptx", "sw-1-0.attempt-1.pt",
        "sw-1-0.attempt99999999999.pt", "file:///ckpt/sw-1-0.attempt1.pt"}) {
    EXPECT_FALSE(IsOwnCheckpointRef(bad, "sw-1-0", 3)) << bad;
  }
  EXPECT_FALSE(IsOwnCheckpointRef("...attempt1.pt", "..", 3));
}

class DataPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::canonical(dir_.path()).string() + "/data";
    std::filesystem::create_directories(root_ + "/sub");
    good_ = dir_.Write("data/sub/good.csv", "a,b\n1,2\n");
    secret_ = dir_.Write("secret.csv", "user,password\n1,hunter2\n");
    std::filesystem::create_symlink(secret_, root_ + "/link.csv");
  }
  absl::StatusOr<std::string> Confine(const std::string& path, PathKind kind = PathKind::kFile) {
    return ConfineDataPath(DataRoots{root_, {}}, path, "dataset.csv.path", kind);
  }
  TempDir dir_{"hs-paths"};
  std::string root_, good_, secret_;
};

TEST_F(DataPathsTest, RelativeAndAbsolutePathsInsideTheRoot) {
  EXPECT_EQ(*Confine("sub/good.csv"), std::filesystem::canonical(good_).string());
  EXPECT_EQ(*Confine(good_), std::filesystem::canonical(good_).string());
  EXPECT_EQ(*Confine("sub/../sub/good.csv"), std::filesystem::canonical(good_).string());
  EXPECT_TRUE(Confine("sub", PathKind::kDirectory).ok());
}

TEST_F(DataPathsTest, EscapesAreRefusedAlikeWhetherOrNotTheFileExists) {
  auto msg = [&](const std::string& path) {
    auto r = Confine(path);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << path;
    std::string m(r.status().message());
    EXPECT_THAT(m, HasSubstr("dataset.csv.path"));
    EXPECT_THAT(m, Not(HasSubstr("hunter2")));
    const size_t at = m.find(path);
    return at == std::string::npos ? m : m.replace(at, path.size(), "<P>");
  };
  const std::string outside = msg(secret_);
  EXPECT_EQ(msg("../secret.csv"), outside);
  EXPECT_EQ(msg("/nonexistent-dir/x.csv"), outside);
  EXPECT_EQ(msg("../nonexistent.csv"), outside);
  EXPECT_EQ(msg("link.csv"), outside) << "a symlink out of the root is outside";
  EXPECT_EQ(msg("/etc/passwd"), outside);
  // Without --data-root, relative paths have nowhere to go.
  EXPECT_FALSE(ConfineDataPath(DataRoots{"", {root_}}, "sub/good.csv", "f", PathKind::kFile).ok());
  // An allowed root admits absolute paths under it.
  EXPECT_TRUE(ConfineDataPath(DataRoots{"", {root_}}, good_, "f", PathKind::kFile).ok());
  // A root's prefix is not the root.
  EXPECT_FALSE(ConfineDataPath(DataRoots{"", {root_ + "/su"}}, good_, "f", PathKind::kFile).ok());
}

TEST_F(DataPathsTest, OnlyRegularFiles) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo.csv").c_str(), 0600), 0);
  auto fifo = Confine("fifo.csv");
  EXPECT_THAT(std::string(fifo.status().message()), HasSubstr("not a regular file"));
  EXPECT_THAT(std::string(Confine("sub").status().message()), HasSubstr("not a regular file"));
  auto dev = ConfineDataPath(DataRoots{"", {"/dev"}}, "/dev/zero", "f", PathKind::kFile);
  EXPECT_THAT(std::string(dev.status().message()), HasSubstr("not a regular file"));
  EXPECT_FALSE(Confine("sub/good.csv", PathKind::kDirectory).ok());
}

TEST(IsWithinTest, ComparesWholeComponents) {
  EXPECT_TRUE(IsWithin("/a/b/c", "/a/b"));
  EXPECT_TRUE(IsWithin("/a/b", "/a/b"));
  EXPECT_TRUE(IsWithin("/a/b/c", "/a/b/"));
  EXPECT_FALSE(IsWithin("/a/bc", "/a/b"));
  EXPECT_FALSE(IsWithin("/a", "/a/b"));
  EXPECT_FALSE(IsWithin("", "/a"));
}

TEST(CheckpointDirTest, ResolvesAndRemovesOnlyOwnRegularFilesInTheDir) {
  TempDir dir("hs-ckpt");
  const std::string ckpt = dir.path() + "/ckpt";
  std::filesystem::create_directories(ckpt);
  const std::string victim = dir.Write("victim.txt", "precious");
  const std::string own = dir.Write("ckpt/tr-1.attempt1.pt", "x");
  EXPECT_EQ(ResolveCheckpointRef(ckpt, "tr-1", "tr-1.attempt1.pt"), own);
  // Not references: paths, other trials' names, stored absolute URIs of old databases.
  for (const std::string& ref :
       {victim, std::string("../victim.txt"), own, std::string("tr-2.attempt1.pt"),
        std::string("tr-1.attempt2.pt")}) {
    EXPECT_EQ(ResolveCheckpointRef(ckpt, "tr-1", ref), "") << ref;
  }
  // A symlink inside the dir with the trial's own name, pointing out: neither followed nor removed.
  std::filesystem::create_symlink(victim, ckpt + "/tr-1.attempt2.pt");
  EXPECT_EQ(ResolveCheckpointRef(ckpt, "tr-1", "tr-1.attempt2.pt"), "");
  EXPECT_FALSE(RemoveOwnCheckpoint(ckpt, "tr-1", ckpt + "/tr-1.attempt2.pt"));
  EXPECT_FALSE(RemoveOwnCheckpoint(ckpt, "tr-1", victim));
  EXPECT_FALSE(RemoveOwnCheckpoint(ckpt, "tr-1", ckpt + "/../victim.txt"));
  EXPECT_FALSE(RemoveOwnCheckpoint(ckpt, "tr-2", own));
  EXPECT_TRUE(std::filesystem::exists(victim));
  EXPECT_TRUE(std::filesystem::is_symlink(ckpt + "/tr-1.attempt2.pt"));
  EXPECT_TRUE(RemoveOwnCheckpoint(ckpt, "tr-1", own));
  EXPECT_FALSE(std::filesystem::exists(own));
}

TEST(SpecLimitsTest, HugeDataAndModelsAreRefusedNamingTheField) {
  auto parse = [](const std::string& dataset, const std::string& model) {
    return ParseTrialSpec("dataset: " + dataset + "\nmodel: " + model +
                          "\nschedule: {constant: {lr: 0.1}}\n");
  };
  auto samples = parse("{synthetic: {samples: 1000000000000}}", "{mlp: {hidden: [8]}}");
  EXPECT_THAT(std::string(samples.status().message()), HasSubstr("dataset.synthetic.samples"));
  auto wide = parse("{synthetic: {}}", "{mlp: {hidden: [1000000000]}}");
  EXPECT_THAT(std::string(wide.status().message()), HasSubstr("model.mlp.hidden[0]"));
  auto params = parse("{fashion_mnist: {}}", "{mlp: {hidden: [60000, 60000]}}");
  EXPECT_THAT(std::string(params.status().message()), HasSubstr("model.mlp.hidden"));
  EXPECT_THAT(std::string(params.status().message()), HasSubstr("parameters"));
  EXPECT_TRUE(parse("{fashion_mnist: {}}", "{mlp: {hidden: [128, 128, 128, 128]}}").ok());
  EXPECT_TRUE(parse("{fashion_mnist: {}}", "{cnn: {channels: [16, 32], hidden: [128]}}").ok());
  std::string layers = "{mlp: {hidden: [";
  for (int i = 0; i < 65; ++i) layers += i ? ", 4" : "4";
  EXPECT_THAT(std::string(parse("{synthetic: {}}", layers + "]}}").status().message()),
              HasSubstr("model.mlp.hidden (layers)"));
  EXPECT_FALSE(CheckModelSize(ModelSpec{}, {2'000'000}, 2).ok()) << "a CSV 2M features wide";
  EXPECT_TRUE(CheckModelSize(ModelSpec{}, {30}, 2).ok());
}

}  // namespace
}  // namespace hypersweep
