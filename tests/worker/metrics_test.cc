// The JSON form of EpochMetrics (metrics.h): what checkpoints store must read back unchanged, JSON
// written before this map existed must still read, and a metric nobody wrote code for must travel.
#include "worker/trainer/metrics.h"

#include <cmath>
#include <limits>

#include "core/metrics.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// What `hypersweep-worker train` printed, and checkpoints stored, for one epoch before metrics
// became a map (the fixed per-field ToJson): keys sorted, integral doubles with ".0", counts as
// integers, NaN as null, `partial` only when true.
constexpr char kLegacyPartial[] =
    R"({"elapsed_seconds":10.0,"epoch":3,"lr":0.001,"momentum":0.9,"partial":true,)"
    R"("samples_per_second":1000.0,"seconds":2.5,"steps":120,"train_loss":0.1234567890123,)"
    R"("val_accuracy":1.0,"val_ams":null,"val_auc":null,"val_loss":0.5})";
constexpr char kLegacyFull[] =
    R"({"elapsed_seconds":10.0,"epoch":0,"lr":0.001,"momentum":0.9,)"
    R"("samples_per_second":1000.0,"seconds":2.5,"steps":120,"train_loss":0.1234567890123,)"
    R"("val_accuracy":1.0,"val_ams":null,"val_auc":null,"val_loss":0.5})";

TEST(MetricsTest, JsonRoundTripKeepsEveryMetricAndNonFiniteValuesBecomeNull) {
  EpochMetrics m;
  m.epoch = 3;
  m.Set(metrics::kTrainLoss, 0.1234567890123);
  m.Set(metrics::kValLoss, std::numeric_limits<double>::infinity());
  m.Set(metrics::kValAccuracy, 0.75);
  m.Set(metrics::kValAuc, kNaN);
  m.Set(metrics::kValAms, 1.5);
  m.Set(metrics::kLr, 1e-3);
  m.Set(metrics::kMomentum, 0.9);
  m.Set(metrics::kSeconds, 2.5);
  m.Set(metrics::kSamplesPerSecond, 1000);
  m.Set(metrics::kElapsedSeconds, 10);
  m.Set(metrics::kSteps, 120);
  m.Set(metrics::kPartial, 1);
  const nlohmann::json j = ToJson(m);
  EXPECT_TRUE(j.at("val_loss").is_null());
  EXPECT_TRUE(j.at("val_auc").is_null());
  EXPECT_EQ(j.at("partial"), true);
  EXPECT_TRUE(j.at("steps").is_number_integer());
  EXPECT_TRUE(j.at("seconds").is_number_float());
  EXPECT_EQ(j.size(), m.values.size() + 1);  // + "epoch"

  const EpochMetrics r = EpochFromJson(j);
  EXPECT_EQ(r.epoch, 3);
  EXPECT_EQ(r.values.size(), m.values.size());
  for (const auto& [name, v] : m.values) {
    ASSERT_TRUE(r.Has(name)) << name;
    if (std::isfinite(v)) {
      EXPECT_EQ(r.Get(name), v) << name;
    } else {
      EXPECT_TRUE(std::isnan(r.Get(name))) << name;
    }
  }
}

TEST(MetricsTest, PartialIsWrittenOnlyWhenSet) {
  EpochMetrics m;
  EXPECT_FALSE(ToJson(m).contains("partial"));
  m.Set(metrics::kPartial, 0);
  EXPECT_FALSE(ToJson(m).contains("partial"));
  EXPECT_FALSE(EpochFromJson(ToJson(m)).Has(metrics::kPartial));
  m.Set(metrics::kPartial, 1);
  EXPECT_EQ(EpochFromJson(ToJson(m)).Get(metrics::kPartial), 1);
}

TEST(MetricsTest, LegacyJsonReadsAndIsWrittenBackByteForByte) {
  for (const char* legacy : {kLegacyPartial, kLegacyFull}) {
    const EpochMetrics m = EpochFromJson(nlohmann::json::parse(legacy));
    EXPECT_EQ(ToJson(m).dump(), legacy);
  }
  const EpochMetrics m = EpochFromJson(nlohmann::json::parse(kLegacyPartial));
  EXPECT_EQ(m.epoch, 3);
  EXPECT_EQ(m.Get(metrics::kTrainLoss), 0.1234567890123);
  EXPECT_EQ(m.Get(metrics::kValLoss), 0.5);
  EXPECT_EQ(m.Get(metrics::kValAccuracy), 1.0);
  EXPECT_TRUE(m.Has(metrics::kValAuc));
  EXPECT_TRUE(std::isnan(m.Get(metrics::kValAuc)));
  EXPECT_EQ(m.Get(metrics::kSteps), 120);
  EXPECT_EQ(m.Get(metrics::kPartial), 1);
  EXPECT_FALSE(EpochFromJson(nlohmann::json::parse(kLegacyFull)).Has(metrics::kPartial));
}

// The property that keeps a new metric to core/metrics and the line that computes it: a name the
// JSON code has never heard of is written and read like any other.
TEST(MetricsTest, AnyMetricInTheMapReachesTheJsonWithoutOtherCode) {
  EpochMetrics m;
  m.epoch = 1;
  m.Set("my_metric", 0.25);
  m.Set(metrics::kValLoss, 2);
  const nlohmann::json j = ToJson(m);
  EXPECT_EQ(j.at("my_metric"), 0.25);
  EXPECT_EQ(EpochFromJson(j).Get("my_metric"), 0.25);
}

TEST(MetricsTest, JsonWithoutAMetricReadsWithTheMetricAbsent) {
  nlohmann::json j = nlohmann::json::parse(kLegacyFull);
  j.erase("steps");  // e.g. written before the metric existed
  const EpochMetrics m = EpochFromJson(j);
  EXPECT_FALSE(m.Has(metrics::kSteps));
  EXPECT_EQ(m.Get(metrics::kValLoss), 0.5);
}

TEST(MetricsTest, MalformedJsonThrows) {
  nlohmann::json no_epoch = nlohmann::json::parse(kLegacyFull);
  no_epoch.erase("epoch");
  EXPECT_THROW(EpochFromJson(no_epoch), nlohmann::json::exception);
  nlohmann::json text = nlohmann::json::parse(kLegacyFull);
  text["val_loss"] = "0.5";
  EXPECT_THROW(EpochFromJson(text), nlohmann::json::exception);
  EXPECT_THROW(EpochFromJson(nlohmann::json::array()), nlohmann::json::exception);
}

}  // namespace
}  // namespace hypersweep
