#include "client/output.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using ::testing::HasSubstr;

Table Sample() {
  Table t;
  t.columns = {"id", "value", "note"};
  t.AddRow({"a", 1.5, "plain"});
  t.AddRow({"b", 42, "has, comma"});
  t.AddRow({"c", nullptr, "say \"hi\"\nthere"});
  return t;
}

TEST(OutputTest, ParseFormatDefaultsByTerminal) {
  EXPECT_EQ(*ParseFormat("", true), Format::kTable);
  EXPECT_EQ(*ParseFormat("", false), Format::kCsv);
  EXPECT_EQ(*ParseFormat("json", true), Format::kJson);
  auto bad = ParseFormat("xml", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("xml"));
}

TEST(OutputTest, CsvQuotesFieldsThatNeedIt) {
  std::ostringstream out;
  WriteTable(Sample(), Format::kCsv, out);
  EXPECT_EQ(out.str(),
            "id,value,note\n"
            "a,1.5,plain\n"
            "b,42,\"has, comma\"\n"
            "c,,\"say \"\"hi\"\"\nthere\"\n");
}

TEST(OutputTest, JsonIsOneDocumentKeepingTypes) {
  std::ostringstream out;
  WriteTable(Sample(), Format::kJson, out);
  auto doc = nlohmann::json::parse(out.str());
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc[0]["id"], "a");
  EXPECT_DOUBLE_EQ(doc[0]["value"].get<double>(), 1.5);
  EXPECT_EQ(doc[1]["value"].get<int>(), 42);
  EXPECT_TRUE(doc[2]["value"].is_null());
  EXPECT_EQ(doc[2]["note"], "say \"hi\"\nthere");
}

TEST(OutputTest, TableAlignsColumnsAndRightAlignsNumbers) {
  Table t;
  t.columns = {"name", "n"};
  t.AddRow({"short", 5});
  t.AddRow({"much longer", 12345});
  std::ostringstream out;
  WriteTable(t, Format::kTable, out);
  EXPECT_EQ(out.str(),
            "name         n\n"
            "short            5\n"
            "much longer  12345\n");
}

TEST(OutputTest, TableShowsDashForMissingAndFlattensNewlines) {
  std::ostringstream out;
  WriteTable(Sample(), Format::kTable, out);
  EXPECT_THAT(out.str(), HasSubstr("say \"hi\" there"));
  EXPECT_THAT(out.str(), HasSubstr("-  say"));
}

TEST(OutputTest, CellTextFormatsNumbers) {
  EXPECT_EQ(CellText(0.1), "0.1");
  EXPECT_EQ(CellText(1e-4), "0.0001");
  EXPECT_EQ(CellText(2.0), "2");
  EXPECT_EQ(CellText(1.0 / 3), "0.3333333333");
  EXPECT_EQ(CellText(int64_t{-7}), "-7");
  EXPECT_EQ(CellText(nullptr), "");
  EXPECT_EQ(CellText(true), "true");
}

TEST(OutputTest, ProgressBarAndDurations) {
  EXPECT_EQ(ProgressBar(0.5, 10), "[#####.....]  50%");
  EXPECT_EQ(ProgressBar(1.0, 4), "[####] 100%");
  EXPECT_EQ(ProgressBar(-1, 4), "[....]   0%");
  EXPECT_EQ(FormatDuration(42), "42s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(3720), "1h02m");
  EXPECT_EQ(FormatDuration(std::nan("")), "-");
}

TEST(OutputTest, StyleOnlyWhenEnabled) {
  EXPECT_EQ(Style(false).Red("x"), "x");
  EXPECT_EQ(Style(true).Red("x"), "\033[31mx\033[0m");
}

}  // namespace
}  // namespace hypersweep
