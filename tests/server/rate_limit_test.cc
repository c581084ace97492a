#include "server/service/rate_limit.h"

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

TEST(RateLimitTest, AtMostTheLimitPerKeyAndWindow) {
  RateLimiter limit(10, 1000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limit.Allow("10.0.0.1", 5'000 + i)) << i;
  EXPECT_FALSE(limit.Allow("10.0.0.1", 5'500));
  EXPECT_TRUE(limit.Allow("10.0.0.2", 5'500));  // per key
  EXPECT_TRUE(limit.Allow("10.0.0.1", 6'000));  // the next window
  RateLimiter none(0, 1000);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(none.Allow("a", 0));
}

TEST(RateLimitTest, PeerHostDropsTheSchemeAndPort) {
  EXPECT_EQ(PeerHost("ipv4:10.1.2.3:5555"), "10.1.2.3");
  EXPECT_EQ(PeerHost("ipv6:[::1]:5555"), "::1");
  EXPECT_EQ(PeerHost("unix:/tmp/s"), "unix:/tmp/s");
}

}  // namespace
}  // namespace hypersweep
