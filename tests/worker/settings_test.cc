// The worker daemon's settings: the shared reader (rpc/config.h) with the worker's names.
#include "worker/settings.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/packing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class WorkerSettingsTest : public ::testing::Test {
 protected:
  test_support::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  void Write(const std::string& rel, const std::string& text) { tmp_.Write(rel, text); }
};

TEST_F(WorkerSettingsTest, DefaultsWithNothingConfigured) {
  auto s = ResolveWorkerSettings({}, {{"HOME", dir_}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->connection.server, "");
  EXPECT_EQ(s->agent.token, "");
  EXPECT_EQ(s->agent.slots, 1);
  EXPECT_EQ(s->agent.pack, 1) << "packing is opt-in";
  EXPECT_EQ(s->agent.device, "auto");
  EXPECT_EQ(s->agent.checkpoint_dir, "hypersweep-checkpoints");
  EXPECT_EQ(s->agent.acquire_wait_ms, 10'000);
  EXPECT_EQ(s->config_file, dir_ + "/.config/hypersweep/worker.yaml");
}

TEST_F(WorkerSettingsTest, FileThenEnvironmentThenFlags) {
  Write(".config/hypersweep/worker.yaml",
        "server: file:1\ntoken_file: tok\ntls_ca: ca.pem\nslots: 4\ncheckpoint_dir: ck\n"
        "device: cpu\n");
  Write(".config/hypersweep/tok", "file-token\n");
  Write("flag-token", "flag-token\n");
  Env env = {{"HOME", dir_}};
  auto s = ResolveWorkerSettings({}, env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->connection.server, "file:1");
  EXPECT_EQ(s->agent.server, "file:1");
  EXPECT_EQ(s->agent.token, "file-token");
  EXPECT_EQ(s->connection.tls_ca_file, dir_ + "/.config/hypersweep/ca.pem");
  EXPECT_EQ(s->agent.slots, 4);
  EXPECT_EQ(s->agent.checkpoint_dir, dir_ + "/.config/hypersweep/ck");
  EXPECT_EQ(s->agent.device, "cpu");

  env["HYPERSWEEP_SERVER"] = "env:2";
  env["HYPERSWEEP_TOKEN"] = "generic-token";
  env["HYPERSWEEP_TLS_CA"] = "/env/ca.pem";
  s = ResolveWorkerSettings({}, env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->connection.server, "env:2");
  EXPECT_EQ(s->agent.token, "generic-token");
  EXPECT_EQ(s->connection.tls_ca_file, "/env/ca.pem");
  env["HYPERSWEEP_WORKER_TOKEN"] = "worker-token";  // wins over HYPERSWEEP_TOKEN
  s = ResolveWorkerSettings({}, env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->agent.token, "worker-token");

  WorkerFlags flags;
  flags.server = "flag:3";
  flags.token_file = dir_ + "/flag-token";
  flags.tls_ca = "/flag/ca.pem";
  flags.slots = 2;
  flags.checkpoint_dir = "rel";
  s = ResolveWorkerSettings(flags, env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->connection.server, "flag:3");
  EXPECT_EQ(s->agent.token, "flag-token");
  EXPECT_EQ(s->connection.token, "flag-token");
  EXPECT_EQ(s->connection.tls_ca_file, "/flag/ca.pem");
  EXPECT_EQ(s->agent.slots, 2);
  EXPECT_EQ(s->agent.checkpoint_dir, "rel");
}

TEST_F(WorkerSettingsTest, PackFromFileOrFlagWithinItsBounds) {
  Write("w.yaml", "pack: 8\n");
  WorkerFlags flags;
  flags.config = dir_ + "/w.yaml";
  auto s = ResolveWorkerSettings(flags, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->agent.pack, 8);
  flags.pack = 4;
  s = ResolveWorkerSettings(flags, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->agent.pack, 4);
  for (int64_t bad : {int64_t{0}, int64_t{kMaxPackTrials + 1}}) {
    flags.pack = bad;
    s = ResolveWorkerSettings(flags, {});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("--pack"));
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("[1, 64]"));
  }
}

TEST_F(WorkerSettingsTest, BadValuesNameTheirSource) {
  Write("w.yaml", "slots: 0\n");
  WorkerFlags flags;
  flags.config = dir_ + "/w.yaml";
  auto s = ResolveWorkerSettings(flags, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("w.yaml: slots (line 1)"));

  flags.config = dir_ + "/missing.yaml";  // an explicit --config must exist
  EXPECT_FALSE(ResolveWorkerSettings(flags, {}).ok());

  WorkerFlags token;
  token.token_file = dir_ + "/nope";
  s = ResolveWorkerSettings(token, {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("nope"));
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

TEST_F(WorkerSettingsTest, DataRootsAndLimits) {
  auto s = ResolveWorkerSettings({}, {{"HOME", dir_}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->agent.allowed_data_roots, std::vector<std::string>{"/usr/share/datasets"});
  EXPECT_EQ(s->agent.data_limits.max_bytes, int64_t{4} << 30);
  Write(".config/hypersweep/worker.yaml",
        "allow_data_root: /a:/b\nmax_data_bytes: 1000\nmax_data_rows: 10\n"
        "max_data_features: 5\n");
  s = ResolveWorkerSettings({}, {{"HOME", dir_}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->agent.allowed_data_roots, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(s->agent.data_limits.max_bytes, 1000);
  EXPECT_EQ(s->agent.data_limits.max_rows, 10);
  EXPECT_EQ(s->agent.data_limits.max_features, 5);
  WorkerFlags flags;
  flags.allow_data_root = std::vector<std::string>{"/c", ""};
  flags.max_data_bytes = 0;
  EXPECT_THAT(std::string(ResolveWorkerSettings(flags, {{"HOME", dir_}}).status().message()),
              HasSubstr("--max-data-bytes"));
  flags.max_data_bytes.reset();
  s = ResolveWorkerSettings(flags, {{"HOME", dir_}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->agent.allowed_data_roots, std::vector<std::string>{"/c"});
}

}  // namespace
}  // namespace hypersweep
