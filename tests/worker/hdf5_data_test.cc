// dataset: {hdf5: ...} files as worker/hdf5_data.h reads them (torch-free): a plain file and a
// LUMIN fold file load exactly, and each bad file is refused with a message that names the file
// and the dataset. The files are written here with the HDF5 C library.
#include "worker/hdf5_data.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"
#include "tests/worker/hdf5_writer.h"

namespace hypersweep {
namespace {

using ::hypersweep::testing::H5Writer;
using test_support::TempDir;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

Hdf5Options Plain(const std::string& path) {
  Hdf5Options o;
  o.path = path;
  return o;
}

TEST(Hdf5DataTest, APlainFileLoadsItsRowsAndWeightsExactly) {
  TempDir dir("hs-h5");
  const std::string path = dir.path() + "/plain.h5";
  {
    H5Writer w(path);
    w.Floats("inputs", {0.5f, -1.f, 2.f, 3.25f, 4.f, 5.f, -6.5f, 7.f, 8.f, 9.f, 10.f, 11.f},
             {4, 3});
    w.Ints("targets", {0, 1, 1, 0}, {4});
    w.Doubles("weights", {0.25, 1.0, 2.5, 0.0}, {4, 1});
    w.Ints("int_inputs", {1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
    w.Floats("y2", {2, 0, 1, 2}, {4, 1});  // float class indices, [rows, 1]
  }
  Hdf5Options o = Plain(path);
  o.weights = "weights";
  auto t = ReadHdf5(o, DataLimits{});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows, 4);
  EXPECT_EQ(t->features, 3);
  EXPECT_THAT(t->x,
              ElementsAre(0.5f, -1.f, 2.f, 3.25f, 4.f, 5.f, -6.5f, 7.f, 8.f, 9.f, 10.f, 11.f));
  EXPECT_THAT(t->y, ElementsAre(0, 1, 1, 0));
  EXPECT_THAT(t->w, ElementsAre(0.25f, 1.f, 2.5f, 0.f));
  EXPECT_TRUE(t->fold_rows.empty());

  // Integer inputs are read as floats; without `weights` there are none, even if the file has a
  // dataset of that name.
  o = Plain(path);
  o.inputs = "int_inputs";
  o.targets = "y2";
  t = ReadHdf5(o, DataLimits{});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->features, 2);
  EXPECT_THAT(t->x, ElementsAre(1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f));
  EXPECT_THAT(t->y, ElementsAre(2, 0, 1, 2));
  EXPECT_TRUE(t->w.empty());
}

// fold_i holds rows with inputs (i, row) and targets row % 2, so every row says where it came from.
void WriteFoldFile(const std::string& path, const std::vector<int>& rows_per_fold, bool weights) {
  H5Writer w(path);
  for (size_t f = 0; f < rows_per_fold.size(); ++f) {
    const int n = rows_per_fold[f];
    std::vector<float> x, wt;
    std::vector<int32_t> y;
    for (int r = 0; r < n; ++r) {
      x.insert(x.end(), {static_cast<float>(f), static_cast<float>(r)});
      y.push_back(r % 2);
      wt.push_back(static_cast<float>(f) + 0.5f);
    }
    const std::string g = "fold_" + std::to_string(f);
    w.Floats(g + "/inputs", x, {static_cast<hsize_t>(n), 2});
    w.Ints(g + "/targets", y, {static_cast<hsize_t>(n), 1});
    if (weights) w.Floats(g + "/weights", wt, {static_cast<hsize_t>(n)});
  }
}

TEST(Hdf5DataTest, ALuminFoldFileGivesItsFoldsInOrder) {
  TempDir dir("hs-h5");
  const std::string path = dir.path() + "/train.hdf5";
  WriteFoldFile(path, {2, 3, 4}, /*weights=*/true);
  Hdf5Options o = Plain(path);
  o.lumin_folds = true;
  auto t = ReadHdf5(o, DataLimits{});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows, 9);
  EXPECT_THAT(t->fold_rows, ElementsAre(2, 3, 4));
  EXPECT_THAT(t->x, ElementsAreArray(std::vector<float>{0, 0, 0, 1,                 // fold_0
                                                        1, 0, 1, 1, 1, 2,           // fold_1
                                                        2, 0, 2, 1, 2, 2, 2, 3}));  // fold_2
  EXPECT_THAT(t->y, ElementsAre(0, 1, 0, 1, 0, 0, 1, 0, 1));
  // LUMIN's `weights` are used without being named.
  EXPECT_THAT(t->w, ElementsAre(0.5f, 0.5f, 1.5f, 1.5f, 1.5f, 2.5f, 2.5f, 2.5f, 2.5f));

  WriteFoldFile(path, {3, 3}, /*weights=*/false);
  t = ReadHdf5(o, DataLimits{});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->fold_rows, ElementsAre(3, 3));
  EXPECT_TRUE(t->w.empty());
}

// ---- bad files: one test each ----

struct BadFile {
  const char* name;
  std::function<void(const std::string& dir, Hdf5Options* o, DataLimits* limits)> setup;
  std::vector<std::string> expect;  // substrings of the message
};

class Hdf5BadFileTest : public ::testing::TestWithParam<BadFile> {};

// A good plain file, good.h5: inputs [4, 2], targets [4], weights [4].
std::string WriteGood(const std::string& dir) {
  const std::string path = dir + "/good.h5";
  H5Writer w(path);
  w.Floats("inputs", {1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  w.Ints("targets", {0, 1, 0, 1}, {4});
  w.Floats("weights", {1, 1, 1, 1}, {4});
  return path;
}

TEST_P(Hdf5BadFileTest, IsRefusedNamingTheFileAndTheDataset) {
  TempDir dir("hs-h5");
  Hdf5Options o = Plain(WriteGood(dir.path()));
  DataLimits limits;
  GetParam().setup(dir.path(), &o, &limits);
  auto t = ReadHdf5(o, limits);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  const std::string m(t.status().message());
  EXPECT_THAT(m, HasSubstr("dataset.hdf5.path (" +
                           std::filesystem::path(o.path).filename().string() + ")"));
  for (const auto& e : GetParam().expect) EXPECT_THAT(m, HasSubstr(e));
}

INSTANTIATE_TEST_SUITE_P(All, Hdf5BadFileTest,
                         ::testing::Values(
                             BadFile{"missing_file",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/nope.h5";
                                     },
                                     {"cannot open the file"}},
                             BadFile{"not_hdf5",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/text.h5";
                                       ASSERT_TRUE(test_support::WriteFile(o->path, "a,b\n1,2\n"));
                                     },
                                     {"not an HDF5 file"}},
                             BadFile{"empty_file",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/empty.h5";
                                       ASSERT_TRUE(test_support::WriteFile(o->path, ""));
                                     },
                                     {"not an HDF5 file"}},
                             BadFile{"fifo",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/fifo.h5";
                                       ASSERT_EQ(::mkfifo(o->path.c_str(), 0600), 0);
                                     },
                                     {"not a regular file"}},
                             BadFile{
                                 "missing_inputs",
                                 [](const std::string&, Hdf5Options* o, DataLimits*) {
                                   o->inputs = "features";
                                 },
                                 {"dataset 'features' (dataset.hdf5.inputs) is not in the file"}},
                             BadFile{
                                 "missing_targets",
                                 [](const std::string&, Hdf5Options* o, DataLimits*) {
                                   o->targets = "labels";
                                 },
                                 {"dataset 'labels' (dataset.hdf5.targets) is not in the file"}},
                             BadFile{"missing_weights",
                                     [](const std::string&, Hdf5Options* o, DataLimits*) {
                                       o->weights = "w";
                                     },
                                     {"dataset 'w' (dataset.hdf5.weights) is not in the file"}},
                             BadFile{"inputs_is_a_group",
                                     [](const std::string&, Hdf5Options* o, DataLimits*) {
                                       H5Writer(o->path).Group("inputs");
                                     },
                                     // H5Writer truncates: the file now holds just the group.
                                     {"dataset 'inputs' (dataset.hdf5.inputs) is not a dataset"}},
                             BadFile{"targets_rows_differ",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/short.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
                                       w.Ints("targets", {0, 1, 0}, {3});
                                     },
                                     {"dataset 'targets' (dataset.hdf5.targets) has 3 rows but "
                                      "'inputs' has 4"}},
                             BadFile{"weights_rows_differ",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/w.h5";
                                       o->weights = "weights";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
                                       w.Ints("targets", {0, 1, 0, 1}, {4});
                                       w.Floats("weights", {1, 1, 1, 1, 1}, {5, 1});
                                     },
                                     {"dataset 'weights' (dataset.hdf5.weights) has 5 rows but "
                                      "'inputs' has 4"}},
                             BadFile{"targets_two_columns",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/t2.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4}, {2, 2});
                                       w.Ints("targets", {0, 1, 1, 0}, {2, 2});
                                     },
                                     {"dataset 'targets' (dataset.hdf5.targets) has shape [2, 2]; "
                                      "expected [rows] or "
                                      "[rows, 1]"}},
                             BadFile{"string_targets",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/s.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4}, {2, 2});
                                       w.Strings("targets", {"s", "b"});
                                     },
                                     {"dataset 'targets' (dataset.hdf5.targets) holds strings; "
                                      "expected integers or "
                                      "floats"}},
                             BadFile{"string_inputs",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/s.h5";
                                       H5Writer w(o->path);
                                       w.Strings("inputs", {"x", "y"});
                                     },
                                     {"dataset 'inputs' (dataset.hdf5.inputs) holds strings"}},
                             BadFile{"inputs_3d",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/3d.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", std::vector<float>(12, 1.f), {2, 2, 3});
                                       w.Ints("targets", {0, 1}, {2});
                                     },
                                     {"dataset 'inputs' (dataset.hdf5.inputs) has 3 dimensions [2, "
                                      "2, 3]; expected 2 "
                                      "(rows, features)"}},
                             BadFile{"inputs_1d",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/1d.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2}, {2});
                                     },
                                     {"has 1 dimension [2]; expected 2"}},
                             BadFile{"target_not_a_class",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/c.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4}, {2, 2});
                                       w.Floats("targets", {1, 0.5f}, {2});
                                     },
                                     {"dataset 'targets' (dataset.hdf5.targets) row 1 is not a "
                                      "class index"}},
                             BadFile{"negative_weight",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/nw.h5";
                                       o->weights = "w";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4}, {2, 2});
                                       w.Ints("targets", {1, 0}, {2});
                                       w.Floats("w", {1, -2}, {2});
                                     },
                                     {"dataset 'w' (dataset.hdf5.weights) row 1 is not a finite "
                                      "number >= 0"}},
                             BadFile{"nan_input",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/nan.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, std::nanf("")}, {2, 2});
                                       w.Ints("targets", {1, 0}, {2});
                                     },
                                     {"dataset 'inputs' (dataset.hdf5.inputs) row 1 has a value "
                                      "that is not a finite "
                                      "number"}},
                             BadFile{"too_many_rows",
                                     [](const std::string&, Hdf5Options*, DataLimits* l) {
                                       l->max_rows = 3;
                                     },
                                     {"dataset 'inputs'",
                                      "above the worker's limit of 3 (--max-data-rows)"}},
                             BadFile{"too_many_features",
                                     [](const std::string&, Hdf5Options*, DataLimits* l) {
                                       l->max_features = 1;
                                     },
                                     {"dataset 'inputs'", "2 features", "(--max-data-features)"}},
                             BadFile{"too_many_bytes_in_memory",
                                     [](const std::string& d, Hdf5Options* o, DataLimits* l) {
                                       // 4 MB of floats, compressed to a small file.
                                       o->path = d + "/zeros.h5";
                                       H5Writer(o->path).CompressedZeros("inputs", 100'000, 10);
                                       l->max_bytes = 1 << 20;
                                       ASSERT_LT(std::filesystem::file_size(o->path), l->max_bytes);
                                     },
                                     {"dataset 'inputs' (dataset.hdf5.inputs) needs 4000000 bytes "
                                      "as floats, above "
                                      "the worker's limit of 1048576 bytes (--max-data-bytes)"}},
                             BadFile{"file_too_large",
                                     [](const std::string&, Hdf5Options*, DataLimits* l) {
                                       l->max_bytes = 100;
                                     },
                                     {"larger than the worker's limit of 100 bytes "
                                      "(--max-data-bytes)"}},
                             BadFile{"unavailable_filter",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/lzf.h5";
                                       H5Writer w(o->path);
                                       w.Floats("inputs", {1, 2, 3, 4}, {2, 2});
                                       w.FilteredOnes("targets", 2, 32000);
                                     },
                                     {"dataset 'targets' (dataset.hdf5.targets) is compressed with "
                                      "filter 32000 "
                                      "(lzf), which the worker's HDF5 library lacks"}},
                             BadFile{"lumin_without_folds",
                                     [](const std::string&, Hdf5Options* o, DataLimits*) {
                                       o->lumin_folds = true;
                                     },
                                     {"no group fold_0", "dataset.hdf5.lumin_folds"}},
                             BadFile{"lumin_fold_without_targets",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/folds.h5";
                                       o->lumin_folds = true;
                                       H5Writer w(o->path);
                                       w.Floats("fold_0/inputs", {1, 2}, {1, 2});
                                       w.Ints("fold_0/targets", {1}, {1});
                                       w.Floats("fold_1/inputs", {1, 2}, {1, 2});
                                     },
                                     {"dataset 'fold_1/targets' (dataset.hdf5.targets) is not in "
                                      "the file"}},
                             BadFile{"lumin_fold_without_weights",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/folds.h5";
                                       o->lumin_folds = true;
                                       H5Writer w(o->path);
                                       w.Floats("fold_0/inputs", {1, 2}, {1, 2});
                                       w.Ints("fold_0/targets", {1}, {1});
                                       w.Floats("fold_0/weights", {1}, {1});
                                       w.Floats("fold_1/inputs", {1, 2}, {1, 2});
                                       w.Ints("fold_1/targets", {1}, {1});
                                     },
                                     {"dataset 'fold_1/weights' (dataset.hdf5.weights) is not in "
                                      "the file"}},
                             BadFile{"lumin_folds_differ_in_width",
                                     [](const std::string& d, Hdf5Options* o, DataLimits*) {
                                       o->path = d + "/folds.h5";
                                       o->lumin_folds = true;
                                       H5Writer w(o->path);
                                       w.Floats("fold_0/inputs", {1, 2}, {1, 2});
                                       w.Ints("fold_0/targets", {1}, {1});
                                       w.Floats("fold_1/inputs", {1, 2, 3}, {1, 3});
                                       w.Ints("fold_1/targets", {1}, {1});
                                     },
                                     {"dataset 'fold_1/inputs' (dataset.hdf5.inputs) has 3 "
                                      "features but fold_0's "
                                      "has 2"}}),
                         [](const ::testing::TestParamInfo<BadFile>& info) {
                           return std::string(info.param.name);
                         });

TEST(Hdf5DataTest, StopsWhenAsked) {
  TempDir dir("hs-h5");
  std::atomic<int> polls{0};
  auto t = ReadHdf5(Plain(WriteGood(dir.path())), DataLimits{}, [&] { return ++polls > 0; });
  EXPECT_EQ(t.status().code(), absl::StatusCode::kCancelled) << t.status();
}

}  // namespace
}  // namespace hypersweep
