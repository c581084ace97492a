#include "worker/data_paths.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/checkpoint_ref.h"

namespace hypersweep {
namespace fs = std::filesystem;

namespace {

absl::Status NotUnderRoots(const std::string& field, const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", path,
                   "' is not a readable file under the worker's data roots (--data-root, "
                   "--allow-data-root)"));
}

std::string Canonical(const std::string& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  return ec ? std::string() : c.string();
}

}  // namespace

bool IsWithin(const std::string& p, const std::string& root) {
  if (p.empty() || root.empty()) return false;
  const fs::path pp(p), rp(root);
  auto pi = pp.begin();
  for (auto ri = rp.begin(); ri != rp.end(); ++ri) {
    if (ri->empty()) continue;  // a trailing '/'
    if (pi == pp.end() || *pi != *ri) return false;
    ++pi;
  }
  return true;
}

absl::StatusOr<std::string> ConfineDataPath(const DataRoots& roots, const std::string& path,
                                            const std::string& field, PathKind kind) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": no path given"));
  std::string full = path;
  if (!fs::path(path).is_absolute()) {
    if (roots.data_root.empty()) return NotUnderRoots(field, path);
    full = (fs::path(roots.data_root) / path).string();
  }
  const std::string canonical = Canonical(full);
  if (canonical.empty()) return NotUnderRoots(field, path);
  bool inside = false;
  std::vector<std::string> all = roots.allowed;
  all.push_back(roots.data_root);
  for (const auto& root : all) {
    if (!root.empty() && IsWithin(canonical, Canonical(root))) inside = true;
  }
  if (!inside) return NotUnderRoots(field, path);
  struct stat st;
  if (::stat(canonical.c_str(), &st) != 0) return NotUnderRoots(field, path);
  if (kind == PathKind::kFile && !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", path, "' is not a regular file"));
  }
  if (kind == PathKind::kDirectory && !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", path, "' is not a directory"));
  }
  return canonical;
}

namespace {

bool IsRegularNotSymlink(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsOwnName(const std::string& name, const std::string& trial_id) {
  return IsOwnCheckpointRef(name, trial_id, std::numeric_limits<int32_t>::max());
}

}  // namespace

std::string ResolveCheckpointRef(const std::string& checkpoint_dir, const std::string& trial_id,
                                 const std::string& ref) {
  if (checkpoint_dir.empty() || !IsOwnName(ref, trial_id)) return "";
  const std::string path = (fs::path(checkpoint_dir) / ref).string();
  return IsRegularNotSymlink(path) ? path : "";
}

bool RemoveOwnCheckpoint(const std::string& checkpoint_dir, const std::string& trial_id,
                         const std::string& path) {
  const fs::path p(path);
  const std::string name = p.filename().string();
  if (checkpoint_dir.empty() || !IsOwnName(name, trial_id)) return false;
  if (p.lexically_normal() != (fs::path(checkpoint_dir) / name).lexically_normal()) return false;
  if (!IsRegularNotSymlink(path)) return false;
  return std::remove(path.c_str()) == 0;
}

}  // namespace hypersweep
