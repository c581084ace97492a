// One point of a sweep: everything a worker needs to train a single trial. Parsed from YAML or
// JSON (the sweep schema of DESIGN.md, with single values instead of grids), validated here, and
// serialised back to canonical JSON so it can travel to workers and into the store unchanged.
#ifndef HYPERSWEEP_CORE_TRIAL_SPEC_H_
#define HYPERSWEEP_CORE_TRIAL_SPEC_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/command_spec.h"
#include "core/schedule.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace hypersweep {

inline constexpr char kDefaultFashionMnistRoot[] = "/usr/share/datasets/fashion-mnist";
// The most epochs a trial may ask for: the coordinator keeps a per-trial record of which epochs
// it has stored, sized by this.
inline constexpr int64_t kMaxEpochs = 100'000;
// The longest sweep or trial name, in bytes (names are shown in every list and event).
inline constexpr size_t kMaxNameBytes = 200;

struct CsvOptions {
  std::string path;             // required
  std::string test_path;        // optional separate test file (same columns)
  std::string label = "Label";  // target column
  std::string positive;  // label value of the positive class; empty: labels are 0..C-1 integers
  std::string weight;    // optional sample-weight column
  std::vector<std::string> drop;  // columns that are not features
  bool has_missing = false;       // whether `missing` was given
  double missing = -999;          // value that means "missing"; replaced by 0 after standardisation
  bool normalize_weights = false;  // scale training weights so each class sums to 1
  // Keep only rows whose column equals the value, e.g. {KaggleSet: t}. These columns are not
  // features (they are dropped implicitly).
  std::map<std::string, std::string> where;
};

// An HDF5 file (read with the HDF5 C library). Plain: three datasets of the file, by name. LUMIN
// fold file (lumin_folds): groups fold_0 .. fold_{n-1}, each holding the `inputs`, `targets` and
// `weights` datasets, whose rows are concatenated in fold order; `validation: {folds: n}` then
// validates on fold i of the file (and must name the file's number of folds).
struct Hdf5Options {
  std::string path;                 // required
  std::string inputs = "inputs";    // float or integer [rows, features]
  std::string targets = "targets";  // class index (0..C-1; 0/1 binary) [rows] or [rows, 1]
  // Sample weights [rows] or [rows, 1]. Empty: none, except that a LUMIN fold file's `weights`
  // datasets are used when fold_0 has one.
  std::string weights;
  bool lumin_folds = false;
};

struct SyntheticOptions {
  int64_t samples = 2048;
  int64_t features = 16;
  int64_t classes = 2;
  double noise = 0.5;      // std of the label noise in the latent score
  bool weights = false;    // emit HEP-style sample weights (binary only)
  uint64_t data_seed = 7;  // the data set itself; independent of the trial seed
};

struct DatasetSpec {
  enum class Kind { kFashionMnist, kMnist, kCsv, kSynthetic, kHdf5 };
  Kind kind = Kind::kFashionMnist;
  std::string root = kDefaultFashionMnistRoot;  // idx datasets: directory of *-ubyte[.gz]
  int64_t limit = 0;                            // use only the first N training rows (0: all)
  CsvOptions csv;
  SyntheticOptions synthetic;
  Hdf5Options hdf5;
};

enum class Activation { kRelu, kSelu, kElu, kTanh, kSilu };
enum class Init { kHe, kGlorot };
// What a TorchScript model starts from: the weights saved in the file, or every parameter of
// dim >= 2 drawn again from the trial's seed (He or Glorot) with parameters named "bias" zeroed.
enum class ScriptInit { kFile, kHe, kGlorot };

struct ModelSpec {
  enum class Kind { kMlp, kCnn, kTorchScript };
  Kind kind = Kind::kMlp;
  std::vector<int64_t> hidden = {128, 128, 128, 128};
  Activation activation = Activation::kRelu;
  Init init = Init::kHe;
  double dropout = 0;
  bool batch_norm = false;
  std::vector<int64_t> channels = {16, 32};    // cnn
  int64_t kernel = 3;                          // cnn
  int64_t pool = 2;                            // cnn
  std::string script_path;                     // torchscript: the module saved with torch.jit.save
  ScriptInit script_init = ScriptInit::kFile;  // torchscript
};

struct OptimizerSpec {
  enum class Kind { kSgd, kAdamW };
  Kind kind = Kind::kSgd;
  bool nesterov = false;  // sgd
  double beta2 = 0.999;   // adamw (beta1 is the trial's momentum)
  double eps = 1e-8;      // adamw
};

struct ValidationSpec {
  enum class Kind { kDefault, kTestSplit, kHoldout, kKFold };
  Kind kind = Kind::kDefault;  // default: holdout 0.2 of the training rows (never the test split)
  double holdout = 0.2;
  int64_t folds = 5;
  int64_t fold = 0;
};

struct TrialSpec {
  std::string name;
  DatasetSpec dataset;
  ModelSpec model;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  double momentum = 0.9;
  double weight_decay = 0;
  int64_t epochs = 10;
  int64_t batch_size = 256;
  uint64_t seed = 0;
  ValidationSpec validation;
  double budget_seconds = 0;  // wall-clock training budget per trial; 0: none
  // Present: the trial runs this program instead of the built-in trainer (dataset and model are
  // then optional and unused; core/command_spec.h, docs/COMMAND_TRIALS.md).
  CommandSpec command;
};

struct ParseOptions {
  bool allow_auto = false;  // accept `auto` LR fields (sweeps; resolved by the coordinator)
};

// Parses and validates a trial file's text (YAML or JSON). INVALID_ARGUMENT names the field path
// and line of the first problem; unknown fields are errors.
absl::StatusOr<TrialSpec> ParseTrialSpec(const std::string& text, const ParseOptions& options = {});
// Reads a whole file; a missing or unreadable file is INVALID_ARGUMENT naming it.
absl::StatusOr<TrialSpec> LoadTrialSpecFile(const std::string& path,
                                            const ParseOptions& options = {});

// The pieces, for the sweep parser. `path` is the field path of `node`.
absl::StatusOr<DatasetSpec> ParseDataset(const YAML::Node& node, const std::string& path);
absl::StatusOr<ModelSpec> ParseModel(const YAML::Node& node, const std::string& path);
absl::StatusOr<OptimizerSpec> ParseOptimizer(const YAML::Node& node, const std::string& path);
absl::StatusOr<ScheduleSpec> ParseSchedule(const YAML::Node& node, const std::string& path,
                                           const ParseOptions& options);
absl::StatusOr<ValidationSpec> ParseValidation(const YAML::Node& node, const std::string& path);
// Range checks of the scalar trial fields (epochs, batch_size, momentum, weight_decay, ...).
absl::Status ValidateTrialSpec(const TrialSpec& spec);

// Canonical JSON (every field, defaults included); ParseTrialSpec(ToJson(s).dump()) == s.
nlohmann::json ToJson(const TrialSpec& spec);
nlohmann::json ToJson(const ScheduleSpec& spec);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CORE_TRIAL_SPEC_H_
