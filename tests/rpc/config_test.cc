#include "rpc/config.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class ConfigReaderTest : public ::testing::Test {
 protected:
  test_support::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  std::string Write(const std::string& rel, const std::string& text) {
    return tmp_.Write(rel, text);
  }
  ConfigReader Reader(const std::string& yaml, Env env) {
    auto file = ConfigFile::Read(Write("cfg/c.yaml", yaml),
                                 {"name", "count", "ratio", "path", "token_file", "token"});
    EXPECT_TRUE(file.ok()) << file.status();
    return ConfigReader(std::move(env), file.ok() ? *file : ConfigFile());
  }
};

const SettingName kName{"--name", {"HS_NAME", "HS_NAME_OLD"}, "name"};
const SettingName kCount{"--count", {"HS_COUNT"}, "count"};

TEST_F(ConfigReaderTest, FlagsBeatEnvironmentBeatsFileBeatsDefault) {
  std::string v = "default";
  ASSERT_TRUE(Reader("", {}).Get(kName, std::nullopt, &v).ok());
  EXPECT_EQ(v, "default");
  ASSERT_TRUE(Reader("name: file\n", {}).Get(kName, std::nullopt, &v).ok());
  EXPECT_EQ(v, "file");
  ASSERT_TRUE(Reader("name: file\n", {{"HS_NAME_OLD", "old"}}).Get(kName, std::nullopt, &v).ok());
  EXPECT_EQ(v, "old");
  ASSERT_TRUE(Reader("name: file\n", {{"HS_NAME", "env"}, {"HS_NAME_OLD", "old"}})
                  .Get(kName, std::nullopt, &v)
                  .ok());
  EXPECT_EQ(v, "env");  // the first variable listed wins
  ASSERT_TRUE(Reader("name: file\n", {{"HS_NAME", "env"}}).Get(kName, "flag", &v).ok());
  EXPECT_EQ(v, "flag");
  // An empty variable counts as unset.
  ASSERT_TRUE(Reader("name: file\n", {{"HS_NAME", ""}}).Get(kName, std::nullopt, &v).ok());
  EXPECT_EQ(v, "file");
}

TEST_F(ConfigReaderTest, NumbersAreParsedAndCheckedWhereverTheyComeFrom) {
  const Check<int64_t> positive{[](int64_t v) { return v > 0; }, "must be > 0"};
  int64_t n = 7;
  ASSERT_TRUE(Reader("count: 3\n", {}).Get(kCount, std::nullopt, &n, positive).ok());
  EXPECT_EQ(n, 3);
  ASSERT_TRUE(Reader("count: 3\n", {{"HS_COUNT", "4"}}).Get(kCount, std::nullopt, &n).ok());
  EXPECT_EQ(n, 4);
  ASSERT_TRUE(Reader("count: 3\n", {{"HS_COUNT", "4"}}).Get(kCount, int64_t{5}, &n).ok());
  EXPECT_EQ(n, 5);

  absl::Status s = Reader("count: 0\n", {}).Get(kCount, std::nullopt, &n, positive);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("c.yaml"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("count (line 1): must be > 0"));
  s = Reader("", {{"HS_COUNT", "many"}}).Get(kCount, std::nullopt, &n);
  EXPECT_THAT(std::string(s.message()), HasSubstr("HS_COUNT"));
  s = Reader("", {}).Get(kCount, int64_t{-1}, &n, positive);
  EXPECT_EQ(s.message(), "--count: must be > 0");
  EXPECT_EQ(n, 5);  // unchanged by the failures

  double r = 0;
  ASSERT_TRUE(Reader("ratio: 0.25\n", {}).Get({"--ratio", {}, "ratio"}, std::nullopt, &r).ok());
  EXPECT_EQ(r, 0.25);
}

TEST_F(ConfigReaderTest, RelativePathsInTheFileAreRelativeToIt) {
  std::string p;
  ASSERT_TRUE(Reader("path: data/x\n", {}).GetPath({"--path", {}, "path"}, std::nullopt, &p).ok());
  EXPECT_EQ(p, dir_ + "/cfg/data/x");
  ASSERT_TRUE(Reader("path: /abs\n", {}).GetPath({"--path", {}, "path"}, std::nullopt, &p).ok());
  EXPECT_EQ(p, "/abs");
  ASSERT_TRUE(Reader("path: data/x\n", {}).GetPath({"--path", {}, "path"}, "rel", &p).ok());
  EXPECT_EQ(p, "rel");  // a flag is relative to the working directory
}

TEST_F(ConfigReaderTest, TokenPrecedence) {
  Write("flag-token", "flag\n");
  Write("cfg/file-token", "from-file\n");
  const std::string both = "token_file: file-token\ntoken: literal\n";
  std::string t;
  ASSERT_TRUE(Reader("token: literal\n", {}).GetToken(std::nullopt, {"HS_TOKEN"}, &t).ok());
  EXPECT_EQ(t, "literal");
  ASSERT_TRUE(Reader(both, {}).GetToken(std::nullopt, {"HS_TOKEN"}, &t).ok());
  EXPECT_EQ(t, "from-file");
  ASSERT_TRUE(Reader(both, {{"HS_TOKEN", "env"}}).GetToken(std::nullopt, {"HS_TOKEN"}, &t).ok());
  EXPECT_EQ(t, "env");
  ASSERT_TRUE(
      Reader(both, {{"HS_TOKEN", "env"}}).GetToken(dir_ + "/flag-token", {"HS_TOKEN"}, &t).ok());
  EXPECT_EQ(t, "flag");
  absl::Status s = Reader("", {}).GetToken(dir_ + "/missing", {"HS_TOKEN"}, &t);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("missing"));
}

TEST_F(ConfigReaderTest, FileErrorsNameFileFieldAndLine) {
  auto f = ConfigFile::Read(Write("bad.yaml", "name: a\nnmae: b\n"), {"name"});
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("bad.yaml"));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("nmae (line 2)"));
  f = ConfigFile::Read(Write("list.yaml", "name: [a, b]\n"), {"name"});
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("name (line 1)"));
  // A missing file is fine unless it must exist.
  EXPECT_TRUE(ConfigFile::Read(dir_ + "/none.yaml", {"name"}).ok());
  EXPECT_FALSE(ConfigFile::Read(dir_ + "/none.yaml", {"name"}, /*must_exist=*/true).ok());
}

TEST(ConfigFilePathTest, XdgThenHome) {
  EXPECT_EQ(ConfigFilePath({{"HOME", "/h"}}), "/h/.config/hypersweep/config.yaml");
  EXPECT_EQ(ConfigFilePath({{"HOME", "/h"}, {"XDG_CONFIG_HOME", "/x"}}, "worker.yaml"),
            "/x/hypersweep/worker.yaml");
  EXPECT_EQ(ConfigFilePath({}), "");
}

}  // namespace
}  // namespace hypersweep
