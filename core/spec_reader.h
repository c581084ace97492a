// Helpers for reading specs (YAML or JSON, parsed by yaml-cpp) onto C++ structs with errors that
// name the field path and the line: "schedule.one_cycle.pct_start (line 7): must be in (0, 1)".
// Shared by the trial parser and the sweep parser so both report errors the same way.
#ifndef HYPERSWEEP_CORE_SPEC_READER_H_
#define HYPERSWEEP_CORE_SPEC_READER_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace hypersweep {

// "path (line N): message"; the line is omitted when the node carries none.
absl::Status FieldError(const std::string& path, const YAML::Node& node,
                        const std::string& message);

// Joins a parent path and a key: JoinPath("model", "mlp") == "model.mlp", JoinPath("", "x") == "x".
std::string JoinPath(const std::string& parent, const std::string& key);

// Specs are UTF-8 (they travel as JSON and protobuf strings). Names line and column of the first
// bad byte, prefixed by `what`.
absl::Status CheckUtf8(const std::string& text, const std::string& what);

// Parses a YAML or JSON document; a syntax error names the line.
absl::StatusOr<YAML::Node> LoadYaml(const std::string& text, const std::string& what);

// Scalar conversions with range errors naming the path.
absl::StatusOr<double> ReadDouble(const YAML::Node& node, const std::string& path);
absl::StatusOr<int64_t> ReadInt(const YAML::Node& node, const std::string& path);
absl::StatusOr<bool> ReadBool(const YAML::Node& node, const std::string& path);
absl::StatusOr<std::string> ReadString(const YAML::Node& node, const std::string& path);

// A tagged union written as a one-key map ({one_cycle: {...}}) or, when it has no options, as a
// bare string ("sgd"). Returns the key and its (possibly null) value; names the allowed keys when
// the key is unknown.
absl::StatusOr<std::pair<std::string, YAML::Node>> ReadOneOf(
    const YAML::Node& node, const std::string& path, const std::vector<std::string>& allowed,
    const std::string& what);

// Reads the fields of one YAML map. Each getter leaves its output unchanged when the key is
// absent, and records the first error; Finish() also rejects keys no getter asked for.
// Not thread-safe; one reader per map.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path);

  void Double(const std::string& key, double* out);
  void Int(const std::string& key, int64_t* out);
  void Bool(const std::string& key, bool* out);
  void String(const std::string& key, std::string* out);
  void DoubleList(const std::string& key, std::vector<double>* out);
  void IntList(const std::string& key, std::vector<int64_t>* out);
  void StringList(const std::string& key, std::vector<std::string>* out);
  // A double or the word "auto": sets *is_auto and leaves *out as NaN for "auto".
  void DoubleOrAuto(const std::string& key, double* out, bool* is_auto);

  // Marks the key as known and returns its node (null node when absent).
  YAML::Node Child(const std::string& key);
  bool Has(const std::string& key) const;
  std::string PathOf(const std::string& key) const { return JoinPath(path_, key); }
  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }

  // Records an error about `key` (or the map itself when key is empty), if none is recorded yet.
  void Fail(const std::string& key, const std::string& message);
  void Fail(absl::Status status);
  bool ok() const { return status_.ok(); }

  // The first error, or an "unknown field" error for a key nobody read.
  absl::Status Finish();

 private:
  template <typename T, typename F>
  void Read(const std::string& key, T* out, F convert);

  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
  absl::Status status_;
};

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_SPEC_READER_H_
