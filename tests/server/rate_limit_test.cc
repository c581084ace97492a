#include "server/service/rate_limit.h"

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

TEST(RateLimitTest, ABurstThenTheRatePerKey) {
  RateLimiter limit(/*rate_per_second=*/10, /*burst=*/20);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(limit.Allow("10.0.0.1", 5'000)) << i;
  EXPECT_FALSE(limit.Allow("10.0.0.1", 5'000));
  EXPECT_TRUE(limit.Allow("10.0.0.2", 5'000));  // per key
  // 10 a second after that: one every 100 ms.
  EXPECT_FALSE(limit.Allow("10.0.0.1", 5'050));
  EXPECT_TRUE(limit.Allow("10.0.0.1", 5'100));
  EXPECT_FALSE(limit.Allow("10.0.0.1", 5'100));
  int allowed = 0;
  for (int ms = 5'101; ms <= 6'100; ++ms) allowed += limit.Allow("10.0.0.1", ms);
  EXPECT_EQ(allowed, 10);
  RateLimiter none(0, 0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(none.Allow("a", 0));
}

TEST(RateLimitTest, ManyKeysArePrunedOnceRefilled) {
  RateLimiter limit(10, 10);
  for (int i = 0; i < 10'000; ++i) EXPECT_TRUE(limit.Allow("h" + std::to_string(i), 0));
  // Ten seconds later every bucket is full again: they are dropped, and all still allowed.
  EXPECT_TRUE(limit.Allow("new", 10'000));
  EXPECT_TRUE(limit.Allow("h1", 10'000));
}

TEST(RateLimitTest, PeerHostDropsTheSchemeAndPort) {
  EXPECT_EQ(PeerHost("ipv4:10.1.2.3:5555"), "10.1.2.3");
  EXPECT_EQ(PeerHost("ipv6:[::1]:5555"), "::1");
  EXPECT_EQ(PeerHost("unix:/tmp/s"), "unix:/tmp/s");
}

}  // namespace
}  // namespace hypersweep
