// The JSON form of EpochMetrics (metrics.h): what checkpoints store must read back unchanged.
#include "worker/trainer/metrics.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

TEST(MetricsTest, JsonRoundTripKeepsEveryFieldAndNonFiniteValuesBecomeNull) {
  EpochMetrics m;
  m.epoch = 3;
  m.train_loss = 0.1234567890123;
  m.val_loss = std::numeric_limits<double>::infinity();
  m.val_accuracy = 0.75;
  m.val_auc = std::numeric_limits<double>::quiet_NaN();
  m.val_ams = 1.5;
  m.lr = 1e-3;
  m.momentum = 0.9;
  m.seconds = 2.5;
  m.samples_per_second = 1000;
  m.elapsed_seconds = 10;
  m.steps = 120;
  m.partial = true;
  const nlohmann::json j = ToJson(m);
  EXPECT_TRUE(j.at("val_loss").is_null());
  EXPECT_TRUE(j.at("val_auc").is_null());
  EXPECT_EQ(j.at("partial"), true);

  const EpochMetrics r = EpochFromJson(j);
  EXPECT_EQ(r.epoch, 3);
  EXPECT_EQ(r.train_loss, m.train_loss);
  EXPECT_TRUE(std::isnan(r.val_loss));
  EXPECT_EQ(r.val_accuracy, 0.75);
  EXPECT_TRUE(std::isnan(r.val_auc));
  EXPECT_EQ(r.val_ams, 1.5);
  EXPECT_EQ(r.lr, 1e-3);
  EXPECT_EQ(r.momentum, 0.9);
  EXPECT_EQ(r.seconds, 2.5);
  EXPECT_EQ(r.samples_per_second, 1000);
  EXPECT_EQ(r.elapsed_seconds, 10);
  EXPECT_EQ(r.steps, 120);
  EXPECT_TRUE(r.partial);
}

TEST(MetricsTest, PartialIsWrittenOnlyWhenTrue) {
  EpochMetrics m;
  EXPECT_FALSE(ToJson(m).contains("partial"));
  EXPECT_FALSE(EpochFromJson(ToJson(m)).partial);
}

TEST(MetricsTest, MissingFieldThrows) {
  nlohmann::json j = ToJson(EpochMetrics{});
  j.erase("steps");
  EXPECT_THROW(EpochFromJson(j), nlohmann::json::exception);
}

}  // namespace
}  // namespace hypersweep
