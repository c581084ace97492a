#include "rpc/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  test_support::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  void Write(const std::string& rel, const std::string& text) { tmp_.Write(rel, text); }
};

TEST_F(ConfigTest, DefaultsWithNothingConfigured) {
  auto c = ResolveClientConfig({}, {{"HOME", dir_}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection.server, kDefaultServer);
  EXPECT_EQ(c->connection.token, "");
  EXPECT_EQ(c->timeout_seconds, 5);
  EXPECT_EQ(c->config_file, dir_ + "/.config/hypersweep/config.yaml");
}

TEST_F(ConfigTest, FileUnderHomeThenEnvThenFlagsWin) {
  Write(".config/hypersweep/config.yaml",
        "server: file-host:1\ntoken_file: tok\ntls_ca: ca.pem\ntimeout: 2.5\n");
  Write(".config/hypersweep/tok", "  file-token\n");
  Write("flag-token", "flag-token\n");
  std::map<std::string, std::string> env = {{"HOME", dir_}};
  auto c = ResolveClientConfig({}, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection.server, "file-host:1");
  EXPECT_EQ(c->connection.token, "file-token");
  EXPECT_EQ(c->connection.tls_ca_file, dir_ + "/.config/hypersweep/ca.pem");
  EXPECT_EQ(c->timeout_seconds, 2.5);

  env["HYPERSWEEP_SERVER"] = "env-host:2";
  env["HYPERSWEEP_TOKEN"] = "env-token";
  c = ResolveClientConfig({}, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection.server, "env-host:2");
  EXPECT_EQ(c->connection.token, "env-token");

  ClientFlags flags;
  flags.server = "flag-host:3";
  flags.token_file = dir_ + "/flag-token";
  flags.tls_ca = "/x/ca.pem";
  flags.timeout_seconds = 0.5;
  c = ResolveClientConfig(flags, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection.server, "flag-host:3");
  EXPECT_EQ(c->connection.token, "flag-token");
  EXPECT_EQ(c->connection.tls_ca_file, "/x/ca.pem");
  EXPECT_EQ(c->timeout_seconds, 0.5);
}

TEST_F(ConfigTest, XdgConfigHomeTakesPrecedenceOverHome) {
  Write("xdg/hypersweep/config.yaml", "server: xdg-host:4\n");
  Write("home/.config/hypersweep/config.yaml", "server: home-host:5\n");
  auto c = ResolveClientConfig({}, {{"HOME", dir_ + "/home"}, {"XDG_CONFIG_HOME", dir_ + "/xdg"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection.server, "xdg-host:4");
  c = ResolveClientConfig({}, {{"HOME", dir_ + "/home"}, {"XDG_CONFIG_HOME", ""}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection.server, "home-host:5");
}

TEST_F(ConfigTest, BadConfigFileNamesFileFieldAndLine) {
  Write(".config/hypersweep/config.yaml", "server: a:1\nsrever: b:2\n");
  auto c = ResolveClientConfig({}, {{"HOME", dir_}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("config.yaml"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("srever (line 2)"));

  Write(".config/hypersweep/config.yaml", "timeout: -1\n");
  c = ResolveClientConfig({}, {{"HOME", dir_}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("timeout"));
}

TEST_F(ConfigTest, MissingTokenFileIsAnError) {
  ClientFlags flags;
  flags.token_file = dir_ + "/nope";
  auto c = ResolveClientConfig(flags, {{"HOME", dir_}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("nope"));
}

}  // namespace
}  // namespace hypersweep
