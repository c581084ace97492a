#include "worker/hdf5_data.h"

#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"

namespace hypersweep {
namespace {

constexpr char kPathField[] = "dataset.hdf5.path";

// Serialises every call into HDF5: the high-level library (H5LT) is not thread-safe even in a
// thread-safe build, and the worker's slots may load different files at once. Guards no data of
// ours.
absl::Mutex& Hdf5Mutex() {
  static absl::Mutex* mu = new absl::Mutex();
  return *mu;
}

// An HDF5 identifier closed by `close` when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

absl::Status Stopped() { return absl::CancelledError("stopped while loading the data"); }

// Errors name the spec field and the file by its base name (never its content).
class Namer {
 public:
  explicit Namer(const std::string& path)
      : prefix_(
            absl::StrCat(kPathField, " (", std::filesystem::path(path).filename().string(), ")")) {}
  absl::Status File(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(prefix_, ": ", what));
  }
  // `dataset` is its path inside the file, `field` the spec field that named it.
  absl::Status Dataset(const std::string& dataset, const std::string& field,
                       const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix_, ": dataset '", dataset, "' (", field, ") ", what));
  }

 private:
  std::string prefix_;
};

// The whole file, read through one non-blocking descriptor that must be a regular file of at
// most `max_bytes` bytes.
absl::StatusOr<std::vector<char>> ReadFileBytes(const std::string& path, const Namer& name,
                                                int64_t max_bytes,
                                                const std::function<bool()>& should_stop) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return name.File("cannot open the file");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return name.File("not a regular file");
  if (st.st_size > max_bytes) {
    return name.File(
        absl::StrCat("larger than the worker's limit of ", max_bytes, " bytes (--max-data-bytes)"));
  }
  std::vector<char> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    if (should_stop && should_stop()) return Stopped();
    const size_t chunk = std::min<size_t>(bytes.size() - done, size_t{1} << 20);
    const ssize_t n = ::read(fd, bytes.data() + done, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return name.File("cannot read the file");
    if (n == 0) break;  // shrank while we read: HDF5 will find it truncated
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

const char* ClassName(H5T_class_t c) {
  switch (c) {
    case H5T_STRING:
      return "strings";
    case H5T_COMPOUND:
      return "a compound type";
    case H5T_ENUM:
      return "an enum type";
    case H5T_BITFIELD:
      return "a bitfield type";
    case H5T_OPAQUE:
      return "an opaque type";
    case H5T_REFERENCE:
      return "references";
    case H5T_ARRAY:
      return "an array type";
    case H5T_VLEN:
      return "a variable-length type";
    case H5T_TIME:
      return "a time type";
    default:
      return "a non-numeric type";
  }
}

std::string Shape(const std::vector<hsize_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

// One numeric dataset read as float, with its dimensions.
struct Array {
  std::vector<hsize_t> dims;
  std::vector<float> values;
};

// The first filter of `dset`'s pipeline that this HDF5 library cannot apply (h5py's lzf, say),
// or H5Z_FILTER_NONE. Only its number is reported: its name is the file's content.
H5Z_filter_t MissingFilter(hid_t dset) {
  Handle dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (!dcpl.ok()) return H5Z_FILTER_NONE;
  const int n = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    size_t n_values = 0;
    const H5Z_filter_t f = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &n_values,
                                          nullptr, 0, nullptr, &config);
    if (f >= 0 && H5Zfilter_avail(f) <= 0) return f;
  }
  return H5Z_FILTER_NONE;
}

struct Reader {
  const Namer& name;
  const DataLimits& limits;

  // The dimensions of `dset` (`path` in the file), after checking that it is numeric.
  absl::StatusOr<std::vector<hsize_t>> Dims(hid_t dset, const std::string& path,
                                            const std::string& field) const {
    Handle type(H5Dget_type(dset), H5Tclose);
    if (!type.ok()) return name.Dataset(path, field, "has no readable type");
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
      return name.Dataset(path, field,
                          absl::StrCat("holds ", ClassName(cls), "; expected integers or floats"));
    }
    Handle space(H5Dget_space(dset), H5Sclose);
    if (!space.ok()) return name.Dataset(path, field, "has no readable shape");
    if (H5Sget_simple_extent_type(space.get()) != H5S_SIMPLE) {
      return name.Dataset(path, field, "is a scalar or empty; expected an array");
    }
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 1 || rank > H5S_MAX_RANK) return name.Dataset(path, field, "has no readable shape");
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) != rank) {
      return name.Dataset(path, field, "has no readable shape");
    }
    return dims;
  }

  // Reads dataset `in_loc` of `loc` (a file or group; `path` is its path in the file). `check`
  // accepts the shape, and so bounds the values read, before anything is read.
  absl::StatusOr<Array> Read(
      hid_t loc, const std::string& in_loc, const std::string& path, const std::string& field,
      const std::function<absl::Status(const std::vector<hsize_t>&)>& check) const {
    if (H5Lexists(loc, in_loc.c_str(), H5P_DEFAULT) <= 0) {
      return name.Dataset(path, field, "is not in the file");
    }
    Handle dset(H5Dopen2(loc, in_loc.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dset.ok()) return name.Dataset(path, field, "is not a dataset");
    Array a;
    ASSIGN_OR_RETURN(a.dims, Dims(dset.get(), path, field));
    RETURN_IF_ERROR(check(a.dims));
    hsize_t n = 1;
    for (hsize_t d : a.dims) n *= d;  // bounded by `check`
    a.values.resize(static_cast<size_t>(n));
    if (n > 0 &&
        H5Dread(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data()) < 0) {
      if (const H5Z_filter_t missing = MissingFilter(dset.get()); missing != H5Z_FILTER_NONE) {
        return name.Dataset(
            path, field,
            absl::StrCat("is compressed with filter ", missing, missing == 32000 ? " (lzf)" : "",
                         ", which the worker's HDF5 library lacks; write it with gzip or without "
                         "compression"));
      }
      return name.Dataset(path, field, "cannot be read (corrupt or truncated file?)");
    }
    return a;
  }

  // Inputs [rows, features]: `rows_before` rows are already in the table.
  absl::StatusOr<Array> Inputs(hid_t loc, const std::string& in_loc, const std::string& path,
                               int64_t rows_before) const {
    const std::string field = "dataset.hdf5.inputs";
    return Read(loc, in_loc, path, field, [&](const std::vector<hsize_t>& d) -> absl::Status {
      if (d.size() != 2) {
        return name.Dataset(
            path, field,
            absl::StrCat("has ", d.size(), d.size() == 1 ? " dimension " : " dimensions ", Shape(d),
                         "; expected 2 (rows, features)"));
      }
      if (d[0] == 0) return name.Dataset(path, field, "has no rows");
      if (d[1] == 0) return name.Dataset(path, field, "has no features");
      if (d[1] > static_cast<hsize_t>(limits.max_features)) {
        return name.Dataset(path, field,
                            absl::StrCat("has ", d[1], " features, above the worker's limit of ",
                                         limits.max_features, " (--max-data-features)"));
      }
      const hsize_t rows = static_cast<hsize_t>(rows_before) + d[0];
      if (rows > static_cast<hsize_t>(limits.max_rows)) {
        return name.Dataset(
            path, field,
            absl::StrCat("brings the rows to ", rows, ", above the worker's limit of ",
                         limits.max_rows, " (--max-data-rows)"));
      }
      // rows <= max_rows and features <= max_features, so this cannot overflow.
      if (rows * d[1] * sizeof(float) > static_cast<hsize_t>(limits.max_bytes)) {
        return name.Dataset(path, field,
                            absl::StrCat("needs ", rows * d[1] * sizeof(float),
                                         " bytes as floats, above the worker's limit of ",
                                         limits.max_bytes, " bytes (--max-data-bytes)"));
      }
      return absl::OkStatus();
    });
  }

  // Targets or weights: [rows] or [rows, 1], `rows` as the inputs next to them.
  absl::StatusOr<Array> Column(hid_t loc, const std::string& in_loc, const std::string& path,
                               const std::string& field, const std::string& inputs_path,
                               hsize_t rows) const {
    return Read(loc, in_loc, path, field, [&](const std::vector<hsize_t>& d) -> absl::Status {
      if (d.size() > 2 || (d.size() == 2 && d[1] != 1)) {
        return name.Dataset(path, field,
                            absl::StrCat("has shape ", Shape(d), "; expected [rows] or [rows, 1]"));
      }
      if (d[0] != rows) {
        return name.Dataset(path, field,
                            absl::StrCat("has ", d[0], " rows but '", inputs_path, "' has ", rows));
      }
      return absl::OkStatus();
    });
  }
};

// Appends one (inputs, targets, weights) triple of `loc` to `out`. `prefix` is the group's path
// ("" for the file itself, "fold_3/" in a fold file).
absl::Status ReadTriple(const Reader& r, hid_t loc, const std::string& prefix, const Hdf5Options& o,
                        const std::string& weights, Hdf5Table* out) {
  const std::string inputs_path = prefix + o.inputs;
  ASSIGN_OR_RETURN(Array x, r.Inputs(loc, o.inputs, inputs_path, out->rows));
  const hsize_t rows = x.dims[0];
  const int64_t features = static_cast<int64_t>(x.dims[1]);
  if (out->rows > 0 && features != out->features) {
    return r.name.Dataset(
        inputs_path, "dataset.hdf5.inputs",
        absl::StrCat("has ", features, " features but fold_0's has ", out->features));
  }
  for (size_t i = 0; i < x.values.size(); ++i) {
    if (!std::isfinite(x.values[i])) {
      return r.name.Dataset(inputs_path, "dataset.hdf5.inputs",
                            absl::StrCat("row ", i / static_cast<size_t>(features),
                                         " has a value that is not a finite number"));
    }
  }
  const std::string targets_path = prefix + o.targets;
  ASSIGN_OR_RETURN(
      Array y, r.Column(loc, o.targets, targets_path, "dataset.hdf5.targets", inputs_path, rows));
  std::vector<int64_t> classes(y.values.size());
  for (size_t i = 0; i < y.values.size(); ++i) {
    const float v = y.values[i];
    if (!(v >= 0) || v != std::floor(v) || v >= static_cast<float>(kMaxHdf5Classes)) {
      return r.name.Dataset(targets_path, "dataset.hdf5.targets",
                            absl::StrCat("row ", i,
                                         " is not a class index 0..C-1 (0/1 for a "
                                         "binary task)"));
    }
    classes[i] = static_cast<int64_t>(v);
  }
  Array w;
  if (!weights.empty()) {
    const std::string weights_path = prefix + weights;
    ASSIGN_OR_RETURN(
        w, r.Column(loc, weights, weights_path, "dataset.hdf5.weights", inputs_path, rows));
    for (size_t i = 0; i < w.values.size(); ++i) {
      if (!(w.values[i] >= 0) || !std::isfinite(w.values[i])) {
        return r.name.Dataset(weights_path, "dataset.hdf5.weights",
                              absl::StrCat("row ", i, " is not a finite number >= 0"));
      }
    }
  }
  out->features = features;
  out->rows += static_cast<int64_t>(rows);
  if (out->x.empty()) {  // the first (or only) part: no copy
    out->x = std::move(x.values);
    out->y = std::move(classes);
    out->w = std::move(w.values);
  } else {
    out->x.insert(out->x.end(), x.values.begin(), x.values.end());
    out->y.insert(out->y.end(), classes.begin(), classes.end());
    out->w.insert(out->w.end(), w.values.begin(), w.values.end());
  }
  return absl::OkStatus();
}

bool Exists(hid_t loc, const std::string& name) {
  return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0;
}

}  // namespace

absl::StatusOr<Hdf5Table> ReadHdf5(const Hdf5Options& o, const DataLimits& limits,
                                   const std::function<bool()>& should_stop) {
  const Namer name(o.path);
  ASSIGN_OR_RETURN(std::vector<char> bytes,
                   ReadFileBytes(o.path, name, limits.max_bytes, should_stop));
  auto stop = [&] { return should_stop && should_stop(); };
  absl::MutexLock lock(&Hdf5Mutex());
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // per thread: errors are ours, nothing printed
  if (bytes.empty()) return name.File("not an HDF5 file");
  // Read-only (no H5LT_FILE_IMAGE_OPEN_RW), on our buffer, which outlives the file.
  Handle file(H5LTopen_file_image(bytes.data(), bytes.size(),
                                  H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE),
              H5Fclose);
  if (!file.ok()) return name.File("not an HDF5 file (or a damaged one)");
  const Reader r{name, limits};
  Hdf5Table out;
  if (!o.lumin_folds) {
    RETURN_IF_ERROR(ReadTriple(r, file.get(), "", o, o.weights, &out));
    return out;
  }
  std::string weights = o.weights;
  for (int64_t i = 0;; ++i) {
    const std::string group = absl::StrCat("fold_", i);
    if (!Exists(file.get(), group)) {
      if (i == 0) {
        return name.File("no group fold_0: not a LUMIN fold file (dataset.hdf5.lumin_folds)");
      }
      break;
    }
    if (stop()) return Stopped();
    Handle g(H5Gopen2(file.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) return name.File(absl::StrCat("'", group, "' is not a group"));
    // LUMIN writes `weights` next to `inputs` when the data has weights.
    if (i == 0 && o.weights.empty() && Exists(g.get(), "weights")) weights = "weights";
    const int64_t rows_before = out.rows;
    RETURN_IF_ERROR(ReadTriple(r, g.get(), group + "/", o, weights, &out));
    out.fold_rows.push_back(out.rows - rows_before);
  }
  return out;
}

}  // namespace hypersweep
