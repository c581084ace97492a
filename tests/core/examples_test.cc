// Every example a user is pointed at must parse and expand.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/sweep_spec.h"
#include "core/trial_spec.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path Examples() {
  return std::filesystem::path(HYPERSWEEP_SOURCE_DIR) / "examples";
}

TEST(ExamplesTest, SweepsParseAndExpand) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(Examples() / "sweeps")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    // A file may hold several sweeps as YAML documents separated by '---'.
    const std::string text = Read(e.path());
    size_t start = 0;
    while (start < text.size()) {
      size_t sep = text.find("\n---", start);
      const std::string doc =
          text.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
      start = sep == std::string::npos ? text.size() : sep + 4;
      if (doc.find_first_not_of(" \n\r\t-") == std::string::npos) continue;
      auto spec = ParseSweepSpec(doc);
      ASSERT_TRUE(spec.ok()) << spec.status();
      auto trials = ExpandSweep(*spec);
      ASSERT_TRUE(trials.ok()) << trials.status();
      EXPECT_FALSE(trials->empty());
      ++n;
    }
  }
  EXPECT_GE(n, 1);
}

TEST(ExamplesTest, TrialsParse) {
  for (const auto& e : std::filesystem::directory_iterator(Examples() / "trials")) {
    SCOPED_TRACE(e.path().string());
    auto spec = LoadTrialSpecFile(e.path().string());
    EXPECT_TRUE(spec.ok()) << spec.status();
  }
}

TEST(ExamplesTest, HiggsIsTheTutorialSetup) {
  auto spec = ParseSweepSpec(Read(Examples() / "sweeps/higgs.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const TrialSpec& b = spec->base;
  EXPECT_EQ(b.model.hidden, (std::vector<int64_t>{128, 128, 128, 128}));
  EXPECT_EQ(b.batch_size, 256);
  EXPECT_EQ(b.validation.kind, ValidationSpec::Kind::kKFold);
  EXPECT_EQ(b.validation.folds, 5);
  EXPECT_EQ(b.dataset.csv.weight, "KaggleWeight");
  EXPECT_TRUE(b.dataset.csv.normalize_weights);
  EXPECT_EQ(b.dataset.csv.where.at("KaggleSet"), "t");
}

TEST(ExamplesTest, LuminExampleValidatesOnTheFilesFolds) {
  const std::string text = Read(Examples() / "sweeps/lumin-hdf5.yaml");
  auto spec = ParseSweepSpec(text.substr(0, text.find("\n---")));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const TrialSpec& b = spec->base;
  EXPECT_EQ(b.dataset.kind, DatasetSpec::Kind::kHdf5);
  EXPECT_TRUE(b.dataset.hdf5.lumin_folds);
  EXPECT_EQ(b.validation.kind, ValidationSpec::Kind::kKFold);
  EXPECT_EQ(b.validation.folds, 10);
  auto trials = ExpandSweep(*spec);
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_EQ(trials->size() % 10, 0u) << "one trial per fold of the file";
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

// The README's sweep spec example must stay valid.
TEST(ExamplesTest, ReadmeSweepSpecParses) {
  const std::string readme = Read(std::filesystem::path(HYPERSWEEP_SOURCE_DIR) / "README.md");
  size_t a = readme.find("## Sweep spec");
  ASSERT_NE(a, std::string::npos);
  a = readme.find("```yaml\n", a);
  ASSERT_NE(a, std::string::npos);
  a += 8;
  const std::string yaml = readme.substr(a, readme.find("```", a) - a);
  auto spec = ParseSweepSpec(yaml);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto trials = ExpandSweep(*spec);
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_EQ(trials->size(), 2400u);
}

}  // namespace
}  // namespace hypersweep
