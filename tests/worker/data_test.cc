// Data loading and splitting (internal API of worker/trainer).
#include "worker/trainer/data.h"

#include <zlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/hdf5_writer.h"
#include "tests/worker/test_util.h"

namespace hypersweep {
namespace {

using ::hypersweep::testing::TempDir;
using ::testing::HasSubstr;

std::string BigEndian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// A tiny idx dataset: n images of 4x4 whose pixels encode the label.
void WriteIdx(const std::string& dir, const std::string& prefix, int n, bool gz,
              bool truncate = false) {
  std::string images = BigEndian(0x803) + BigEndian(n) + BigEndian(4) + BigEndian(4);
  std::string labels = BigEndian(0x801) + BigEndian(n);
  for (int i = 0; i < n; ++i) {
    images += std::string(16, static_cast<char>(i % 10 * 20));
    labels += static_cast<char>(i % 10);
  }
  if (truncate) images.resize(images.size() - 7);
  const std::string ip = dir + "/" + prefix + "-images-idx3-ubyte",
                    lp = dir + "/" + prefix + "-labels-idx1-ubyte";
  if (gz) {
    WriteGz(ip + ".gz", images);
    WriteGz(lp + ".gz", labels);
  } else {
    hypersweep::testing::WriteFile(ip, images);
    hypersweep::testing::WriteFile(lp, labels);
  }
}

DatasetSpec Mnist(const std::string& root) {
  DatasetSpec d;
  d.kind = DatasetSpec::Kind::kMnist;
  d.root = root;
  return d;
}

TEST(DataTest, ReadsIdxGzipAndPlain) {
  for (bool gz : {true, false}) {
    TempDir dir;
    WriteIdx(dir.path(), "train", 50, gz);
    WriteIdx(dir.path(), "t10k", 20, gz);
    auto d = LoadData(Mnist(dir.path()));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ((*d)->train.x.sizes(), (std::vector<int64_t>{50, 1, 4, 4}));
    EXPECT_EQ((*d)->test.rows(), 20);
    EXPECT_EQ((*d)->num_classes, 10);
    EXPECT_EQ((*d)->train.y[13].item<int64_t>(), 3);
    EXPECT_NEAR((*d)->train.x[13][0][0][0].item<float>(), 60 / 255.0, 1e-6);
  }
}

TEST(DataTest, TruncatedIdxIsAUserError) {
  TempDir dir;
  WriteIdx(dir.path(), "train", 50, true, /*truncate=*/true);
  WriteIdx(dir.path(), "t10k", 20, true);
  auto d = LoadData(Mnist(dir.path()));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("truncated"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("train-images-idx3-ubyte"));
}

TEST(DataTest, TruncatedGzipStreamIsAUserError) {
  TempDir dir;
  WriteIdx(dir.path(), "train", 500, true);
  WriteIdx(dir.path(), "t10k", 20, true);
  const std::string ip = dir.File("train-images-idx3-ubyte.gz");
  std::string bytes;
  {
    std::ifstream in(ip, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  hypersweep::testing::WriteFile(ip, bytes.substr(0, bytes.size() / 2));
  auto d = LoadData(Mnist(dir.path()));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
}

TrialSpec SyntheticTrial(int64_t samples) {
  TrialSpec t;
  t.dataset.kind = DatasetSpec::Kind::kSynthetic;
  t.dataset.synthetic.samples = samples;
  t.dataset.synthetic.features = 5;
  t.dataset.synthetic.classes = 3;
  return t;
}

TEST(DataTest, FoldsPartitionTheRowsAndAreStratified) {
  TrialSpec t = SyntheticTrial(1003);
  auto d = LoadData(t.dataset);
  ASSERT_TRUE(d.ok());
  t.validation.kind = ValidationSpec::Kind::kKFold;
  t.validation.folds = 5;
  int64_t total_val = 0;
  std::vector<torch::Tensor> val_rows;
  const auto class_share = (*d)->train.y.bincount({}, 3).to(torch::kFloat64) / 1003.0;
  for (int64_t f = 0; f < 5; ++f) {
    t.validation.fold = f;
    auto s = MakeSplit(**d, t);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->train.rows() + s->val.rows(), 1003);
    EXPECT_NEAR(static_cast<double>(s->val.rows()), 1003 / 5.0, 1.5);
    total_val += s->val.rows();
    auto share = s->val.y.bincount({}, 3).to(torch::kFloat64) / static_cast<double>(s->val.rows());
    EXPECT_TRUE(torch::allclose(share, class_share, 0, 0.02)) << share << class_share;
    val_rows.push_back(s->val.x);
  }
  EXPECT_EQ(total_val, 1003);
  // Disjoint: no validation row of fold 0 appears in fold 1.
  auto a = val_rows[0], b = val_rows[1];
  auto dist = torch::cdist(a, b);
  EXPECT_GT(dist.min().item<float>(), 0);
}

// 600 synthetic rows (the first `limit` of them, if set) with a 0.25 holdout.
absl::StatusOr<SplitData> QuarterHoldout(int64_t limit = 0) {
  TrialSpec t = SyntheticTrial(600);
  t.dataset.limit = limit;
  t.validation.kind = ValidationSpec::Kind::kHoldout;
  t.validation.holdout = 0.25;
  auto d = LoadData(t.dataset);
  if (!d.ok()) return d.status();
  return MakeSplit(**d, t);
}

TEST(DataTest, StandardisesOnTrainingRowsOnly) {
  auto s = QuarterHoldout();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->val.rows(), 150);
  EXPECT_TRUE(torch::allclose(s->train.x.mean(0), torch::zeros({5}), 0, 1e-5));
  EXPECT_TRUE(torch::allclose(s->train.x.std(0), torch::ones({5}), 0, 1e-4));
  EXPECT_FALSE(torch::allclose(s->val.x.mean(0), torch::zeros({5}), 0, 1e-5));  // not refitted
  EXPECT_NEAR(s->val_weight_scale, 600.0 / 150.0, 1e-12);
}

TEST(DataTest, DefaultValidatesOnTrainingRowsAndKeepsTheTestSplitApart) {
  TempDir dir;
  WriteIdx(dir.path(), "train", 100, false);
  WriteIdx(dir.path(), "t10k", 30, false);
  TrialSpec t;
  t.dataset = Mnist(dir.path());
  auto d = LoadData(t.dataset);
  ASSERT_TRUE(d.ok()) << d.status();
  // Default: a stratified holdout of 0.2 of the 100 training rows; the 30 test rows are the test
  // split, standardised with the training rows' statistics like the validation rows.
  auto s = MakeSplit(**d, t);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->train.rows(), 80);
  EXPECT_EQ(s->val.rows(), 20);
  ASSERT_TRUE(s->has_test());
  EXPECT_EQ(s->test.rows(), 30);
  // Same pixel-to-label mapping in both files: a test row and a training row of one label are
  // the same after standardisation only if both were standardised with the same statistics.
  auto first_of = [](const Table& tb, int64_t label) {
    auto idx = (tb.y == label).nonzero().flatten();
    return tb.x.index_select(0, idx.narrow(0, 0, 1));
  };
  EXPECT_TRUE(torch::allclose(first_of(s->test, 3), first_of(s->train, 3)));
  // Explicit test_split: the test split is the validation set and there is no separate test.
  t.validation.kind = ValidationSpec::Kind::kTestSplit;
  s = MakeSplit(**d, t);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->train.rows(), 100);
  EXPECT_EQ(s->val.rows(), 30);
  EXPECT_FALSE(s->has_test());
}

TEST(DataTest, AmsScaleCountsTheWholeSampleNotTheLimit) {
  // 600 rows, of which dataset.limit keeps 200; the validation rows (50) stand for the 600.
  auto s = QuarterHoldout(200);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NEAR(static_cast<double>(s->val.rows()), 50, 2);  // stratified rounding per class
  EXPECT_NEAR(s->val_weight_scale, 600.0 / static_cast<double>(s->val.rows()), 1e-12);
}

TEST(DataTest, CsvMissingValuesAndClassNormalisedWeights) {
  TempDir dir;
  const std::string csv = dir.File("h.csv");
  hypersweep::testing::WriteFile(csv,
                                 "Id,a,b,w,Label\n"
                                 "1,1,-999,2,s\n"
                                 "2,3,5,2,b\n"
                                 "3,5,7,6,b\n"
                                 "4,7,-999,1,s\n");
  TrialSpec t;
  t.dataset.kind = DatasetSpec::Kind::kCsv;
  t.dataset.csv.path = csv;
  t.dataset.csv.positive = "s";
  t.dataset.csv.weight = "w";
  t.dataset.csv.drop = {"Id"};
  t.dataset.csv.has_missing = true;
  t.dataset.csv.missing = -999;
  t.dataset.csv.normalize_weights = true;
  auto d = LoadData(t.dataset);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*d)->num_classes, 2);
  EXPECT_EQ((*d)->train.y.sum().item<int64_t>(), 2);
  t.validation.kind = ValidationSpec::Kind::kKFold;
  t.validation.folds = 2;
  t.validation.fold = 0;
  auto s = MakeSplit(**d, t);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->binary);
  // Missing values are 0 after standardisation; per-class weights sum to 1.
  for (const Table* tab : {&s->train, &s->val}) {
    auto miss = tab->missing;
    EXPECT_EQ(tab->x.masked_select(miss).abs().sum().item<float>(), 0.0f);
  }
  for (int c = 0; c < 2; ++c) {
    auto mask = s->train.y == c;
    EXPECT_NEAR(s->train_loss_w.masked_select(mask).sum().item<float>(), 1.0f, 1e-6);
  }
}

TEST(DataTest, CsvUnknownLabelColumnNamesIt) {
  TempDir dir;
  const std::string csv = dir.File("x.csv");
  hypersweep::testing::WriteFile(csv, "a,b\n1,2\n");
  DatasetSpec d;
  d.kind = DatasetSpec::Kind::kCsv;
  d.csv.path = csv;
  d.csv.label = "target";
  auto r = LoadData(d);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("label column 'target'"));
}

TEST(DataTest, CacheLoadsOnce) {
  DatasetCache cache;
  TrialSpec t = SyntheticTrial(100);
  auto a = cache.Get(t.dataset);
  t.dataset.limit = 50;  // limits apply at split time; same cached data
  auto b = cache.Get(t.dataset);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

TEST(DataTest, CsvWhereKeepsMatchingRowsAndDropsTheColumn) {
  TempDir dir;
  const std::string csv = dir.File("h.csv");
  hypersweep::testing::WriteFile(csv,
                                 "Id,a,KaggleSet,Label\n"
                                 "1,1.5,t,s\n"
                                 "2,2.5,b,b\n"
                                 "3,3.5,t,b\n"
                                 "4,4.5,v,s\n");
  DatasetSpec d;
  d.kind = DatasetSpec::Kind::kCsv;
  d.csv.path = csv;
  d.csv.positive = "s";
  d.csv.drop = {"Id"};
  d.csv.where = {{"KaggleSet", "t"}};
  auto r = LoadData(d);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->train.rows(), 2);
  EXPECT_EQ((*r)->feature_names, (std::vector<std::string>{"a"}));
  EXPECT_FLOAT_EQ((*r)->train.x[1][0].item<float>(), 3.5f);
  d.csv.where = {{"Missing", "t"}};
  auto bad = LoadData(d);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("'Missing' (dataset.csv.where)"));
}

}  // namespace
}  // namespace hypersweep

namespace hypersweep {
namespace {

// Issue 15: what one data file may cost a worker, and stopping a load.
TEST(DataTest, LimitsAndStopWhileLoading) {
  TempDir dir;
  std::string text = "a,b,y\n";
  for (int i = 0; i < 50; ++i) text += "1,2,0\n3,4,1\n";
  const std::string csv = dir.File("d.csv");
  hypersweep::testing::WriteFile(csv, text);
  DatasetSpec d;
  d.kind = DatasetSpec::Kind::kCsv;
  d.csv.path = csv;
  d.csv.label = "y";
  ASSERT_TRUE(LoadData(d).ok());
  auto message = [&](DataLoadOptions o) { return std::string(LoadData(d, o).status().message()); };
  DataLoadOptions o;
  o.limits.max_bytes = 100;
  EXPECT_THAT(message(o), ::testing::HasSubstr("--max-data-bytes"));
  o = {};
  o.limits.max_rows = 10;
  EXPECT_THAT(message(o), ::testing::HasSubstr("--max-data-rows"));
  o = {};
  o.limits.max_features = 1;
  EXPECT_THAT(message(o), ::testing::HasSubstr("--max-data-features"));
  o = {};
  o.should_stop = [] { return true; };
  EXPECT_TRUE(absl::IsCancelled(LoadData(d, o).status()));
}

// ---- HDF5 (the reader's own cases are in hdf5_data_test.cc) ----

TEST(DataTest, AnHdf5FileBecomesTheTrainingTable) {
  TempDir dir;
  const std::string path = dir.File("plain.h5");
  {
    hypersweep::testing::H5Writer w(path);
    w.Floats("x", {1, 2, 3, 4, 5, 6}, {3, 2});
    w.Ints("y", {2, 0, 1}, {3, 1});
    w.Floats("w", {0.5f, 1.5f, 2.5f}, {3});
  }
  DatasetSpec d;
  d.kind = DatasetSpec::Kind::kHdf5;
  d.hdf5.path = path;
  d.hdf5.inputs = "x";
  d.hdf5.targets = "y";
  d.hdf5.weights = "w";
  auto data = LoadData(d);
  ASSERT_TRUE(data.ok()) << data.status();
  const LoadedData& l = **data;
  EXPECT_TRUE(torch::equal(l.train.x, torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({3, 2})));
  EXPECT_TRUE(torch::equal(l.train.y, torch::tensor({2, 0, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(l.train.w, torch::tensor({0.5f, 1.5f, 2.5f})));
  EXPECT_FALSE(l.train.fold.defined());
  EXPECT_EQ(l.num_classes, 3);
  EXPECT_FALSE(l.has_test());
  EXPECT_EQ(l.file_folds, 0);
  // Errors come back as they are, naming the file and the dataset.
  d.hdf5.weights = "weights";
  EXPECT_THAT(std::string(LoadData(d).status().message()),
              HasSubstr("dataset.hdf5.path (plain.h5): dataset 'weights' (dataset.hdf5.weights) "
                        "is not in the file"));
}

// A LUMIN fold file with folds of 20, 30 and 25 rows; each row's weight is 1000 * fold + row, so
// the weights (which the split does not standardise) say where a row came from.
std::string WriteLuminFile(const TempDir& dir) {
  const std::string path = dir.File("folds.h5");
  hypersweep::testing::H5Writer w(path);
  const int sizes[] = {20, 30, 25};
  for (int f = 0; f < 3; ++f) {
    std::vector<float> x, wt;
    std::vector<int32_t> y;
    for (int r = 0; r < sizes[f]; ++r) {
      x.insert(x.end(), {static_cast<float>(r % 5), static_cast<float>(f)});
      y.push_back(r % 2);
      wt.push_back(static_cast<float>(1000 * f + r));
    }
    const std::string g = "fold_" + std::to_string(f) + "/";
    const hsize_t n = static_cast<hsize_t>(sizes[f]);
    w.Floats(g + "inputs", x, {n, 2});
    w.Ints(g + "targets", y, {n, 1});
    w.Floats(g + "weights", wt, {n});
  }
  return path;
}

std::vector<float> Sorted(const torch::Tensor& t) {
  auto c = t.contiguous();
  std::vector<float> v(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(DataTest, ALuminFoldFileGivesTheValidationFolds) {
  TempDir dir;
  TrialSpec t;
  t.dataset.kind = DatasetSpec::Kind::kHdf5;
  t.dataset.hdf5.path = WriteLuminFile(dir);
  t.dataset.hdf5.lumin_folds = true;
  auto data = LoadData(t.dataset);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->file_folds, 3);
  EXPECT_EQ((*data)->train.rows(), 75);
  t.validation.kind = ValidationSpec::Kind::kKFold;
  t.validation.folds = 3;
  const int sizes[] = {20, 30, 25};
  for (int f = 0; f < 3; ++f) {
    SCOPED_TRACE(f);
    t.validation.fold = f;
    auto s = MakeSplit(**data, t);
    ASSERT_TRUE(s.ok()) << s.status();
    // The validation rows are exactly fold_f's rows, in the file's order; training is the rest.
    std::vector<float> want_val, want_train;
    for (int g = 0; g < 3; ++g) {
      for (int r = 0; r < sizes[g]; ++r) {
        (g == f ? want_val : want_train).push_back(static_cast<float>(1000 * g + r));
      }
    }
    ASSERT_TRUE(s->val.w.defined());
    EXPECT_EQ(Sorted(s->val.w), want_val);
    EXPECT_EQ(Sorted(s->train.w), want_train);
    EXPECT_DOUBLE_EQ(s->val_weight_scale, 75.0 / sizes[f]);
  }
  // Another number of folds than the file's is the spec's mistake, naming both numbers.
  t.validation.folds = 5;
  t.validation.fold = 0;
  auto bad = MakeSplit(**data, t);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("validation.folds: 5, but dataset.hdf5.path (folds.h5) has 3 folds "
                        "(fold_0..fold_2)"));
  // A holdout ignores the file's folds and draws from all rows.
  t.validation.kind = ValidationSpec::Kind::kHoldout;
  t.validation.holdout = 0.2;
  auto holdout = MakeSplit(**data, t);
  ASSERT_TRUE(holdout.ok()) << holdout.status();
  EXPECT_EQ(holdout->train.rows() + holdout->val.rows(), 75);
  EXPECT_NEAR(static_cast<double>(holdout->val.rows()), 15, 1);
}

}  // namespace
}  // namespace hypersweep
