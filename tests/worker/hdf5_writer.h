// Writes HDF5 test files with the HDF5 C library: numeric datasets of any shape, a string
// dataset, groups (created on the way to a dataset path such as "fold_1/inputs").
#ifndef HYPERSWEEP_TESTS_WORKER_HDF5_WRITER_H_
#define HYPERSWEEP_TESTS_WORKER_HDF5_WRITER_H_

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace hypersweep::testing {

class H5Writer {
 public:
  explicit H5Writer(const std::string& path)
      : file_(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)),
        lcpl_(H5Pcreate(H5P_LINK_CREATE)) {
    EXPECT_GE(file_, 0) << path;
    H5Pset_create_intermediate_group(lcpl_, 1);
  }
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;
  ~H5Writer() { Close(); }
  // Flushes and closes the file (the destructor does it too).
  void Close() {
    if (file_ >= 0) H5Fclose(file_);
    if (lcpl_ >= 0) H5Pclose(lcpl_);
    file_ = lcpl_ = -1;
  }

  void Floats(const std::string& name, const std::vector<float>& v,
              const std::vector<hsize_t>& dims) {
    Write(name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), v.size(), dims);
  }
  void Doubles(const std::string& name, const std::vector<double>& v,
               const std::vector<hsize_t>& dims) {
    Write(name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.data(), v.size(), dims);
  }
  void Ints(const std::string& name, const std::vector<int32_t>& v,
            const std::vector<hsize_t>& dims) {
    Write(name, H5T_STD_I32LE, H5T_NATIVE_INT32, v.data(), v.size(), dims);
  }
  // A 1-D dataset of fixed-length strings.
  void Strings(const std::string& name, const std::vector<std::string>& v) {
    const size_t width = 16;
    std::vector<char> buf(v.size() * width, '\0');
    for (size_t i = 0; i < v.size(); ++i) v[i].copy(buf.data() + i * width, width - 1);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, width);
    const hsize_t n = v.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t d = H5Dcreate2(file_, name.c_str(), type, space, lcpl_, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), 0) << name;
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(type);
  }
  // A float [rows, cols] dataset of zeros, chunked and gzip-compressed (small on disk).
  void CompressedZeros(const std::string& name, hsize_t rows, hsize_t cols) {
    const hsize_t dims[2] = {rows, cols};
    const hsize_t chunk[2] = {rows < 1024 ? rows : 1024, cols};
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_deflate(dcpl, 9);
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t d =
        H5Dcreate2(file_, name.c_str(), H5T_IEEE_F32LE, space, lcpl_, dcpl, H5P_DEFAULT);
    const std::vector<float> zeros(static_cast<size_t>(rows * cols), 0.f);
    EXPECT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()), 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
  }
  // A float [rows, 1] dataset of ones through filter `id` (h5py's lzf is 32000), which this
  // process registers as a plain copy for the write and unregisters afterwards, so a reader in
  // the same process lacks it, as one without h5py's plugins would.
  void FilteredOnes(const std::string& name, hsize_t rows, H5Z_filter_t id) {
    const H5Z_class2_t copy = {
        H5Z_CLASS_T_VERS,
        id,
        1,
        1,
        "test copy",
        nullptr,
        nullptr,
        [](unsigned, size_t, const unsigned[], size_t nbytes, size_t*, void**) { return nbytes; }};
    ASSERT_GE(H5Zregister(&copy), 0);
    const hsize_t dims[2] = {rows, 1};
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, dims);
    H5Pset_filter(dcpl, id, H5Z_FLAG_MANDATORY, 0, nullptr);
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t d =
        H5Dcreate2(file_, name.c_str(), H5T_IEEE_F32LE, space, lcpl_, dcpl, H5P_DEFAULT);
    const std::vector<float> ones(static_cast<size_t>(rows), 1.f);
    EXPECT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ones.data()), 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Fflush(file_, H5F_SCOPE_GLOBAL);
    EXPECT_GE(H5Zunregister(id), 0);
  }
  void Group(const std::string& name) {
    const hid_t g = H5Gcreate2(file_, name.c_str(), lcpl_, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(g, 0) << name;
    H5Gclose(g);
  }

 private:
  void Write(const std::string& name, hid_t file_type, hid_t mem_type, const void* data, size_t n,
             const std::vector<hsize_t>& dims) {
    hsize_t total = 1;
    for (hsize_t d : dims) total *= d;
    ASSERT_EQ(total, n) << name << ": values do not fill the shape";
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t d =
        H5Dcreate2(file_, name.c_str(), file_type, space, lcpl_, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0) << name;
    EXPECT_GE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << name;
    H5Dclose(d);
    H5Sclose(space);
  }

  hid_t file_;
  hid_t lcpl_;
};

}  // namespace hypersweep::testing

#endif  // HYPERSWEEP_TESTS_WORKER_HDF5_WRITER_H_
