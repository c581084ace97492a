// Files for tests: scratch directories, whole-file reads and writes. No gtest dependency.
#ifndef HYPERSWEEP_TESTS_SUPPORT_FILES_H_
#define HYPERSWEEP_TESTS_SUPPORT_FILES_H_

#include <string>

namespace hypersweep::test_support {

// A fresh directory under the system temp dir ("<prefix>-XXXXXX"), removed with its contents on
// destruction unless Keep() was called (e.g. to leave logs of a failed test behind).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "hypersweep-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes File(relative) (creating the folders on the way) and returns its path.
  std::string Write(const std::string& relative, const std::string& content) const;
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// The whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);
// Replaces the file's content; false when it cannot be written.
bool WriteFile(const std::string& path, const std::string& content);

}  // namespace hypersweep::test_support

#endif  // HYPERSWEEP_TESTS_SUPPORT_FILES_H_
