// Every spec in tests/data/bad_specs/ must be rejected with INVALID_ARGUMENT, with a message that
// contains the substring on its first line ("# expect: ...") and names a line of the file.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/sweep_spec.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

TEST(BadSpecsTest, EachIsRejectedWithItsExpectedMessage) {
  const std::filesystem::path dir =
      std::filesystem::path(HYPERSWEEP_SOURCE_DIR) / "tests/data/bad_specs";
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const std::string first = text.substr(0, text.find('\n'));
    ASSERT_EQ(first.rfind("# expect: ", 0), 0u) << entry.path() << " lacks '# expect: ...'";
    const std::string expect = first.substr(10);
    absl::Status status;
    auto spec = ParseSweepSpec(text);
    if (!spec.ok()) {
      status = spec.status();
    } else {
      status = ExpandSweep(*spec).status();
    }
    SCOPED_TRACE(entry.path().filename().string());
    ASSERT_FALSE(status.ok()) << "accepted";
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find(expect), absl::string_view::npos) << status.message();
    EXPECT_NE(status.message().find("line "), absl::string_view::npos)
        << "no line number: " << status.message();
  }
  EXPECT_GE(n, 30);
}

}  // namespace
}  // namespace hypersweep
