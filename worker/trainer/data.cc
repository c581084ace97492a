// Datasets (data.h): LoadData and its cache, the idx reader (MNIST, Fashion-MNIST), the HDF5 and
// synthetic datasets, and MakeSplit (splits, standardisation, loss weights). The CSV loader is in
// data_csv.cc; ReadMaybeGzip, which both read files with, is defined here (data_internal.h).
#include "worker/trainer/data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "worker/data_paths.h"
#include "worker/hdf5_data.h"
#include "worker/trainer/data_internal.h"

namespace hypersweep {
namespace data_internal {

absl::Status Stopped() { return absl::CancelledError("stopped while loading the data"); }
bool ShouldStop(const DataLoadOptions& o) { return o.should_stop && o.should_stop(); }

absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path, const std::string& field,
                                          const DataLoadOptions& o) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(field, ": cannot open the file"));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a regular file"));
  }
  const int64_t max_bytes = o.limits.max_bytes;
  auto too_big = [&] {
    return absl::InvalidArgumentError(absl::StrCat(field, ": larger than the worker's limit of ",
                                                   max_bytes, " bytes (--max-data-bytes)"));
  };
  if (st.st_size > max_bytes) {
    ::close(fd);
    return too_big();
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  gzFile f = gzdopen(fd, "rb");  // owns fd from here on
  if (f == nullptr) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(field, ": cannot open the file"));
  }
  gzbuffer(f, 1 << 20);
  std::string out;
  std::vector<char> buf(1 << 20);
  while (true) {
    if (ShouldStop(o)) {
      gzclose(f);
      return Stopped();
    }
    const int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      gzclose(f);
      return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read the file (corrupt?)"));
    }
    if (n == 0) break;
    if (static_cast<int64_t>(out.size()) + n > max_bytes) {
      gzclose(f);
      return too_big();
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  int errnum = 0;
  gzerror(f, &errnum);
  gzclose(f);
  if (errnum != Z_OK && errnum != Z_STREAM_END) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read the file (truncated?)"));
  }
  return out;
}

}  // namespace data_internal

namespace {

using data_internal::LoadCsv;
using data_internal::ReadMaybeGzip;

// Folds and holdouts use a fixed seed so that fold i is the same rows in every trial of a sweep.
constexpr uint64_t kSplitSeed = 20180706;

uint32_t BigEndian32(const std::string& s, size_t off) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + off);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string RootField(const DatasetSpec& spec) {
  return spec.kind == DatasetSpec::Kind::kMnist ? "dataset.mnist.root"
                                                : "dataset.fashion_mnist.root";
}

// The file of an idx pair under `root`, gzipped or not; a name whose real path leaves the root
// (a symlink out of it) is not read.
absl::StatusOr<std::string> FindIdx(const std::string& root, const std::string& name,
                                    const std::string& field) {
  std::error_code ec;
  const std::string real_root = std::filesystem::canonical(root, ec).string();
  for (const std::string& candidate : {root + "/" + name + ".gz", root + "/" + name}) {
    if (!std::filesystem::exists(candidate, ec)) continue;
    const std::string real = std::filesystem::canonical(candidate, ec).string();
    if (ec || !IsWithin(real, real_root)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", name, " leaves the dataset directory (symlink)"));
    }
    return candidate;
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": no ", name, "[.gz] in the directory"));
}

absl::StatusOr<torch::Tensor> ReadIdxImages(const std::string& path, const std::string& field,
                                            const DataLoadOptions& o) {
  ASSIGN_OR_RETURN(std::string bytes, ReadMaybeGzip(path, field, o));
  if (bytes.size() < 16 || BigEndian32(bytes, 0) != 0x803) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not an idx3 image file (bad header)"));
  }
  const int64_t n = BigEndian32(bytes, 4), rows = BigEndian32(bytes, 8),
                cols = BigEndian32(bytes, 12);
  if (n > o.limits.max_rows || rows * cols > o.limits.max_features) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", n, " images of ", rows, "x", cols,
                     " exceed the worker's limits (--max-data-rows, --max-data-features)"));
  }
  const size_t want = 16 + static_cast<size_t>(n * rows * cols);
  if (bytes.size() < want) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": truncated idx file: header promises ",
                                                   n, " images (", want, " bytes), file has ",
                                                   bytes.size(), " bytes"));
  }
  auto t = torch::from_blob(bytes.data() + 16, {n, 1, rows, cols}, torch::kUInt8);
  return t.to(torch::kFloat32).div_(255.0f);
}

absl::StatusOr<torch::Tensor> ReadIdxLabels(const std::string& path, const std::string& field,
                                            const DataLoadOptions& o) {
  ASSIGN_OR_RETURN(std::string bytes, ReadMaybeGzip(path, field, o));
  if (bytes.size() < 8 || BigEndian32(bytes, 0) != 0x801) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not an idx1 label file (bad header)"));
  }
  const int64_t n = BigEndian32(bytes, 4);
  if (bytes.size() < 8 + static_cast<size_t>(n)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": truncated idx file: header promises ",
                                                   n, " labels, file has ", bytes.size() - 8));
  }
  return torch::from_blob(bytes.data() + 8, {n}, torch::kUInt8).to(torch::kInt64);
}

absl::StatusOr<Table> LoadIdxPair(const DatasetSpec& spec, const std::string& prefix,
                                  const DataLoadOptions& o) {
  const std::string field = RootField(spec);
  ASSIGN_OR_RETURN(std::string ip, FindIdx(spec.root, prefix + "-images-idx3-ubyte", field));
  ASSIGN_OR_RETURN(std::string lp, FindIdx(spec.root, prefix + "-labels-idx1-ubyte", field));
  Table t;
  auto named = [&](const std::string& p) {  // a fixed name, not content
    return absl::StrCat(field, " (", std::filesystem::path(p).filename().string(), ")");
  };
  ASSIGN_OR_RETURN(t.x, ReadIdxImages(ip, named(ip), o));
  ASSIGN_OR_RETURN(t.y, ReadIdxLabels(lp, named(lp), o));
  if (t.x.size(0) != t.y.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", prefix, " has ", t.x.size(0),
                                                   " images but ", t.y.size(0), " labels"));
  }
  return t;
}

absl::StatusOr<std::shared_ptr<LoadedData>> LoadIdx(const DatasetSpec& spec,
                                                    const DataLoadOptions& o) {
  if (!std::filesystem::is_directory(spec.root)) {
    return absl::InvalidArgumentError(
        absl::StrCat(RootField(spec), ": '", spec.root, "' is not a directory",
                     spec.kind == DatasetSpec::Kind::kFashionMnist
                         ? " (install the Debian package dataset-fashion-mnist: make deps)"
                         : ""));
  }
  auto d = std::make_shared<LoadedData>();
  ASSIGN_OR_RETURN(d->train, LoadIdxPair(spec, "train", o));
  ASSIGN_OR_RETURN(d->test, LoadIdxPair(spec, "t10k", o));
  d->num_classes = 10;
  d->is_image = true;
  return d;
}

// ---- HDF5 ----

absl::StatusOr<std::shared_ptr<LoadedData>> LoadHdf5(const DatasetSpec& spec,
                                                     const DataLoadOptions& o) {
  ASSIGN_OR_RETURN(Hdf5Table h, ReadHdf5(spec.hdf5, o.limits, o.should_stop));
  auto d = std::make_shared<LoadedData>();
  const int64_t n = h.rows;
  d->train.x = torch::from_blob(h.x.data(), {n, h.features}, torch::kFloat32).clone();
  d->train.y = torch::from_blob(h.y.data(), {n}, torch::kInt64).clone();
  if (!h.w.empty()) d->train.w = torch::from_blob(h.w.data(), {n}, torch::kFloat32).clone();
  if (!h.fold_rows.empty()) {
    std::vector<int64_t> fold;
    fold.reserve(static_cast<size_t>(n));
    for (size_t f = 0; f < h.fold_rows.size(); ++f) {
      fold.insert(fold.end(), static_cast<size_t>(h.fold_rows[f]), static_cast<int64_t>(f));
    }
    d->train.fold = torch::tensor(fold, torch::kInt64);
    d->file_folds = static_cast<int64_t>(h.fold_rows.size());
  }
  const int64_t max_class = *std::max_element(h.y.begin(), h.y.end());
  d->num_classes = std::max<int64_t>(2, max_class + 1);
  return d;
}

// ---- synthetic ----

std::shared_ptr<LoadedData> MakeSynthetic(const SyntheticOptions& o) {
  std::mt19937_64 rng(o.data_seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = o.samples, f = o.features, c = o.classes;
  // One random direction per class; the label is the class whose direction scores highest
  // (plus noise), so the task is learnable but not trivial.
  std::vector<float> dirs(static_cast<size_t>(c * f));
  for (auto& v : dirs) v = normal(rng);
  std::vector<float> x(static_cast<size_t>(n * f)), w;
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < f; ++j) x[static_cast<size_t>(i * f + j)] = normal(rng);
    int64_t best = 0;
    float best_score = -1e30f;
    for (int64_t k = 0; k < c; ++k) {
      float s = 0;
      for (int64_t j = 0; j < f; ++j)
        s += dirs[static_cast<size_t>(k * f + j)] * x[static_cast<size_t>(i * f + j)];
      s += static_cast<float>(o.noise) * normal(rng) * std::sqrt(static_cast<float>(f));
      if (s > best_score) {
        best_score = s;
        best = k;
      }
    }
    y[static_cast<size_t>(i)] = best;
  }
  if (o.weights) {
    // HEP-like: rare-looking signal with small weights, background with large ones.
    std::uniform_real_distribution<float> u(0.5f, 1.5f);
    for (int64_t i = 0; i < n; ++i)
      w.push_back((y[static_cast<size_t>(i)] == 1 ? 0.002f : 1.0f) * u(rng));
  }
  auto d = std::make_shared<LoadedData>();
  d->train.x = torch::from_blob(x.data(), {n, f}, torch::kFloat32).clone();
  d->train.y = torch::from_blob(y.data(), {n}, torch::kInt64).clone();
  if (!w.empty()) d->train.w = torch::from_blob(w.data(), {n}, torch::kFloat32).clone();
  d->num_classes = c;
  return d;
}

std::string CacheKey(const DatasetSpec& spec) {
  TrialSpec t;
  t.dataset = spec;
  t.dataset.limit = 0;  // the cache holds the full data; limits apply at split time
  return ToJson(t)["dataset"].dump();
}

Table Rows(const Table& t, const torch::Tensor& idx) {
  Table out;
  out.x = t.x.index_select(0, idx);
  out.y = t.y.index_select(0, idx);
  if (t.w.defined()) out.w = t.w.index_select(0, idx);
  if (t.missing.defined()) out.missing = t.missing.index_select(0, idx);
  if (t.fold.defined()) out.fold = t.fold.index_select(0, idx);
  return out;
}

Table Head(const Table& t, int64_t limit) {
  if (limit <= 0 || limit >= t.rows()) return t;
  return Rows(t, torch::arange(limit, torch::kInt64));
}

// Rows of each class in a shuffled order fixed by kSplitSeed (stratification for folds and
// holdout).
std::vector<std::vector<int64_t>> ShuffledByClass(const torch::Tensor& y, int64_t num_classes) {
  const int64_t n = y.size(0);
  auto ya = y.accessor<int64_t, 1>();
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i) by_class[static_cast<size_t>(ya[i])].push_back(i);
  std::mt19937_64 rng(kSplitSeed);
  for (auto& rows : by_class) std::shuffle(rows.begin(), rows.end(), rng);
  return by_class;
}

void Standardize(SplitData& s, bool is_image) {
  if (is_image) {
    const auto mean = s.train.x.mean();
    const auto std = s.train.x.std().clamp_min(1e-6);
    for (Table* t : {&s.train, &s.val, &s.test}) {
      if (t->x.defined()) t->x.sub_(mean).div_(std);
    }
    return;
  }
  // Per feature, over the non-missing training values; missing values become 0 (the mean).
  torch::Tensor present = s.train.missing.defined()
                              ? s.train.missing.logical_not().to(torch::kFloat32)
                              : torch::ones_like(s.train.x);
  auto count = present.sum(0).clamp_min(1);
  auto mean = (s.train.x * present).sum(0) / count;
  auto var = ((s.train.x - mean).pow(2) * present).sum(0) / (count - 1).clamp_min(1);
  auto std = var.sqrt();
  std = torch::where(std > 1e-12, std, torch::ones_like(std));
  for (Table* t : {&s.train, &s.val, &s.test}) {
    if (!t->x.defined()) continue;
    t->x.sub_(mean).div_(std);
    if (t->missing.defined()) t->x.masked_fill_(t->missing, 0.0f);
  }
}

torch::Tensor LossWeights(const Table& t, bool normalize, int64_t num_classes) {
  if (!t.w.defined()) return {};
  if (!normalize) return t.w;
  auto w = t.w.clone();
  for (int64_t c = 0; c < num_classes; ++c) {
    auto mask = t.y == c;
    auto total = w.masked_select(mask).sum();
    if (total.item<float>() > 0) w = torch::where(mask, w / total, w);
  }
  return w;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const LoadedData>> LoadData(const DatasetSpec& spec,
                                                           const DataLoadOptions& options) {
  try {
    switch (spec.kind) {
      case DatasetSpec::Kind::kFashionMnist:
      case DatasetSpec::Kind::kMnist: {
        ASSIGN_OR_RETURN(auto d, LoadIdx(spec, options));
        return std::shared_ptr<const LoadedData>(std::move(d));
      }
      case DatasetSpec::Kind::kCsv: {
        ASSIGN_OR_RETURN(auto d, LoadCsv(spec, options));
        return std::shared_ptr<const LoadedData>(std::move(d));
      }
      case DatasetSpec::Kind::kHdf5: {
        ASSIGN_OR_RETURN(auto d, LoadHdf5(spec, options));
        return std::shared_ptr<const LoadedData>(std::move(d));
      }
      case DatasetSpec::Kind::kSynthetic:
        return std::shared_ptr<const LoadedData>(MakeSynthetic(spec.synthetic));
    }
  } catch (const std::bad_alloc&) {
    // The spec asked for more data than this worker holds: the spec's fault, not the worker's.
    return absl::InvalidArgumentError("dataset: does not fit in the worker's memory");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading data: ", e.what()));
  }
  return absl::InternalError("unknown dataset kind");
}

absl::StatusOr<std::shared_ptr<const LoadedData>> DatasetCache::Get(
    const DatasetSpec& spec, const DataLoadOptions& options) {
  const std::string key = CacheKey(spec);
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
  }
  // Loading happens outside the lock; two slots racing for the same data both load once.
  ASSIGN_OR_RETURN(auto data, LoadData(spec, options));
  absl::MutexLock lock(&mu_);
  return entries_.emplace(key, std::move(data)).first->second;
}

absl::StatusOr<SplitData> MakeSplit(const LoadedData& data, const TrialSpec& spec) {
  torch::NoGradGuard no_grad;
  SplitData s;
  s.num_classes = data.num_classes;
  s.binary = data.num_classes == 2;
  const Table train_all = Head(data.train, spec.dataset.limit);
  ValidationSpec::Kind kind = spec.validation.kind;
  // The default validates on training rows, never on the test split (selection on the test set
  // would make its numbers optimistic).
  if (kind == ValidationSpec::Kind::kDefault) kind = ValidationSpec::Kind::kHoldout;
  if (kind == ValidationSpec::Kind::kTestSplit) {
    if (!data.has_test()) {
      return absl::InvalidArgumentError("validation.test_split: this dataset has no test split");
    }
    s.train = Rows(train_all, torch::arange(train_all.rows(), torch::kInt64));  // own copy
    s.val = Rows(data.test, torch::arange(data.test.rows(), torch::kInt64));
    s.val_weight_scale = 1.0;
  } else {
    std::vector<uint8_t> is_val(static_cast<size_t>(train_all.rows()), 0);
    const bool file_folds = kind == ValidationSpec::Kind::kKFold && train_all.fold.defined();
    if (file_folds) {
      // A LUMIN fold file's folds as given: fold i validates on the file's fold_i.
      if (spec.validation.folds != data.file_folds) {
        return absl::InvalidArgumentError(
            absl::StrCat("validation.folds: ", spec.validation.folds, ", but dataset.hdf5.path (",
                         std::filesystem::path(spec.dataset.hdf5.path).filename().string(),
                         ") has ", data.file_folds, " folds (fold_0..fold_", data.file_folds - 1,
                         "); give folds: ", data.file_folds, " or a holdout"));
      }
      auto fa = train_all.fold.accessor<int64_t, 1>();
      for (int64_t i = 0; i < train_all.rows(); ++i) {
        is_val[static_cast<size_t>(i)] = fa[i] == spec.validation.fold ? 1 : 0;
      }
    }
    // Otherwise stratified: each class contributes its share to the validation rows.
    int64_t offset = 0;
    for (const auto& rows : file_folds ? std::vector<std::vector<int64_t>>()
                                       : ShuffledByClass(train_all.y, data.num_classes)) {
      const int64_t n_c = static_cast<int64_t>(rows.size());
      for (int64_t j = 0; j < n_c; ++j) {
        bool val;
        if (kind == ValidationSpec::Kind::kKFold) {
          val = (j + offset) % spec.validation.folds == spec.validation.fold;
        } else {
          val = j < static_cast<int64_t>(
                        std::llround(spec.validation.holdout * static_cast<double>(n_c)));
        }
        is_val[static_cast<size_t>(rows[static_cast<size_t>(j)])] = val ? 1 : 0;
      }
      offset += n_c;  // spreads each class's remainder over different folds
    }
    std::vector<int64_t> tr, va;
    for (size_t i = 0; i < is_val.size(); ++i)
      (is_val[i] ? va : tr).push_back(static_cast<int64_t>(i));
    if (tr.empty() || va.empty()) {
      return absl::InvalidArgumentError(
          "validation: split leaves no training or no validation rows");
    }
    s.train = Rows(train_all, torch::tensor(tr, torch::kInt64));
    s.val = Rows(train_all, torch::tensor(va, torch::kInt64));
    // AMS counts events in the whole sample: scale by the full training rows, not the rows left
    // by dataset.limit.
    s.val_weight_scale = static_cast<double>(data.train.rows()) / static_cast<double>(va.size());
    if (data.has_test()) s.test = Rows(data.test, torch::arange(data.test.rows(), torch::kInt64));
  }
  if (s.train.y.max().item<int64_t>() >= data.num_classes) {
    return absl::InvalidArgumentError("labels exceed the number of classes");
  }
  Standardize(s, data.is_image);
  const bool normalize =
      spec.dataset.kind == DatasetSpec::Kind::kCsv && spec.dataset.csv.normalize_weights;
  s.train_loss_w = LossWeights(s.train, normalize, data.num_classes);
  s.val_loss_w = LossWeights(s.val, normalize, data.num_classes);
  if (s.has_test()) s.test_loss_w = LossWeights(s.test, normalize, data.num_classes);
  return s;
}

}  // namespace hypersweep
