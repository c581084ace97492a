#include "rpc/token_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hypersweep {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path);
  // A directory opens like a file but cannot be read.
  if (!in || std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read token file '", path, "'"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(ss.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token file '", path, "' is empty"));
  }
  return token;
}

}  // namespace hypersweep
