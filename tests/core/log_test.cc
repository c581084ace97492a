#include "core/log.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace hypersweep::log {
namespace {

constexpr int64_t kTs = 1796546463512;  // 2026-12-05T...Z, fixed so lines compare exactly

TEST(LogTest, TextLinesAreKeyValuePairsWithQuotesOnlyWhereNeeded) {
  const std::string line =
      FormatLine(Format::kText, kTs, Level::kInfo, "hypersweepd", "sweep_submitted",
                 {{"sweep", "sw-3"},
                  {"name", "lr sweep"},
                  {"trials", 12},
                  {"empty", ""},
                  {"eq", "a=b"},
                  {"quote", "say \"hi\"\n"},
                  {"lr", 0.05},
                  {"ok", true}});
  EXPECT_EQ(line,
            "ts=2026-12-06T08:41:03.512Z level=info prog=hypersweepd event=sweep_submitted "
            "sweep=sw-3 name=\"lr sweep\" trials=12 empty=\"\" eq=\"a=b\" "
            "quote=\"say \\\"hi\\\"\\n\" lr=0.05 ok=true");
}

TEST(LogTest, JsonLinesAreOneObjectWithTypedValues) {
  const std::string line = FormatLine(Format::kJson, kTs, Level::kWarn, "", "lease_expired",
                                      {{"trial", "t\"1"},
                                       {"attempt", 2},
                                       {"lr", 1e-3},
                                       {"ok", false},
                                       {"x", std::nan("")},
                                       {"ctl", std::string("a\x01") + "b"}});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2026-12-06T08:41:03.512Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["event"], "lease_expired");
  EXPECT_FALSE(j.contains("prog"));
  EXPECT_EQ(j["trial"], "t\"1");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_DOUBLE_EQ(j["lr"].get<double>(), 1e-3);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["x"], "nan");  // not a JSON number: a string
  EXPECT_EQ(j["ctl"], std::string("a\x01") + "b");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogTest, LongValuesAreCutSoARemotePartyCannotFloodTheLog) {
  const std::string reason(100'000, 'x');
  const std::string line =
      FormatLine(Format::kText, kTs, Level::kError, "", "trial_failed", {{"reason", reason}});
  EXPECT_LT(line.size(), kMaxValueBytes + 200);
  EXPECT_NE(line.find("xxx..."), std::string::npos);
  // A cut never splits a UTF-8 character.
  std::string utf8;
  for (int i = 0; i < 1000; ++i) utf8 += "\xc3\xa9";  // é
  const std::string cut = FormatLine(Format::kJson, kTs, Level::kInfo, "", "e", {{"v", utf8}});
  auto j = nlohmann::json::parse(cut);  // throws on a split sequence
  EXPECT_LE(j["v"].get<std::string>().size(), kMaxValueBytes + 3);
}

TEST(LogTest, ParsesLevelsAndFormats) {
  Level l;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_TRUE(ParseLevel("error", &l));
  EXPECT_EQ(l, Level::kError);
  EXPECT_FALSE(ParseLevel("verbose", &l));
  Format f;
  EXPECT_TRUE(ParseFormat("json", &f));
  EXPECT_EQ(f, Format::kJson);
  EXPECT_FALSE(ParseFormat("xml", &f));
}

TEST(LogTest, EventsBelowTheLevelAreDroppedAndTheRestReachStderrInOrder) {
  Configure(Format::kText, Level::kInfo, "test");
  ::testing::internal::CaptureStderr();
  Debug("not_shown");
  for (int i = 0; i < 100; ++i) Info("shown", {{"i", i}});
  Flush();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find("not_shown"), std::string::npos);
  size_t pos = 0;
  for (int i = 0; i < 100; ++i) {
    const size_t at = err.find("event=shown i=" + std::to_string(i) + "\n", pos);
    ASSERT_NE(at, std::string::npos) << i;
    pos = at;
  }
  EXPECT_NE(err.find("level=info prog=test"), std::string::npos);
}

}  // namespace
}  // namespace hypersweep::log
