#include "rpc/token_file.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class TokenFileTest : public ::testing::Test {
 protected:
  test_support::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  std::string Write(const std::string& name, const std::string& text) {
    return tmp_.Write(name, text);
  }
};

TEST_F(TokenFileTest, TrailingNewlineAndSurroundingWhitespaceAreTrimmed) {
  auto t = ReadTokenFile(Write("t", "  s3cret\n"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "s3cret");
  t = ReadTokenFile(Write("u", "no-newline"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "no-newline");
}

TEST_F(TokenFileTest, MissingFileIsInvalidArgumentNamingIt) {
  auto t = ReadTokenFile(dir_ + "/nope");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(dir_ + "/nope"));
}

TEST_F(TokenFileTest, EmptyOrBlankFileIsRefused) {
  for (const char* text : {"", "\n", "  \t\n"}) {
    auto t = ReadTokenFile(Write("e", text));
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("is empty"));
  }
}

TEST_F(TokenFileTest, DirectoryIsRefused) {
  auto t = ReadTokenFile(dir_);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("cannot read token file"));
}

TEST_F(TokenFileTest, UnreadableFileIsRefusedButModeIsNotChecked) {
  const std::string path = Write("p", "tok\n");
  chmod(path.c_str(), 0644);  // group/world-readable is accepted
  auto t = ReadTokenFile(path);
  ASSERT_TRUE(t.ok()) << t.status();
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  chmod(path.c_str(), 0);
  t = ReadTokenFile(path);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("cannot read token file"));
}

}  // namespace
}  // namespace hypersweep
