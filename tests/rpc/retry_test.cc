#include "rpc/retry.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep {
namespace {

// A fake clock that only moves when the retry loop sleeps.
struct FakeTime {
  absl::Time now = absl::UnixEpoch();
  std::vector<absl::Duration> sleeps;
  RetryOptions Options() {
    RetryOptions o;
    o.sleep = [this](absl::Duration d) {
      sleeps.push_back(d);
      now += d;
    };
    o.now = [this] { return now; };
    return o;
  }
};

TEST(RetryTest, RetriesUnavailableUntilOk) {
  FakeTime t;
  int calls = 0;
  absl::Status s = Retry(t.Options(), [&](int attempt) {
    EXPECT_EQ(attempt, calls);
    return ++calls < 4 ? absl::UnavailableError("down") : absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(t.sleeps.size(), 3u);
}

TEST(RetryTest, DoesNotRetryFinalCodes) {
  for (const absl::Status& final_status :
       {absl::AbortedError("stale lease"), absl::InvalidArgumentError("bad"),
        absl::FailedPreconditionError("done"), absl::PermissionDeniedError("role"),
        absl::UnauthenticatedError("token"), absl::InternalError("bug")}) {
    FakeTime t;
    int calls = 0;
    absl::Status s = Retry(t.Options(), [&](int) {
      ++calls;
      return final_status;
    });
    EXPECT_EQ(s, final_status);
    EXPECT_EQ(calls, 1) << final_status;
    EXPECT_TRUE(t.sleeps.empty());
  }
}

TEST(RetryTest, BackoffIsJitteredExponentialAndCapped) {
  FakeTime t;
  RetryOptions o = t.Options();
  o.initial_backoff = absl::Milliseconds(100);
  o.max_backoff = absl::Milliseconds(1000);
  o.max_attempts = 8;
  int calls = 0;
  absl::Status s = Retry(o, [&](int) {
    ++calls;
    return absl::UnavailableError("down");
  });
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(calls, 8);  // max_attempts counts the first call
  ASSERT_EQ(t.sleeps.size(), 7u);
  for (size_t i = 0; i < t.sleeps.size(); ++i) {
    const absl::Duration cap =
        std::min(absl::Milliseconds(1000), absl::Milliseconds(100) * (1 << i));
    EXPECT_GE(t.sleeps[i], cap / 2) << i;
    EXPECT_LE(t.sleeps[i], cap) << i;
  }
}

TEST(RetryTest, DeadlineBoundsTheAttempts) {
  FakeTime t;
  RetryOptions o = t.Options();
  o.initial_backoff = absl::Seconds(1);
  o.max_backoff = absl::Seconds(1);
  o.deadline = absl::Seconds(10);
  int calls = 0;
  absl::Status s = Retry(o, [&](int) {
    ++calls;
    return absl::DeadlineExceededError("slow");
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(s));
  EXPECT_LE(t.now - absl::UnixEpoch(), absl::Seconds(10));
  EXPECT_GE(calls, 11);  // waits of 0.5-1 s fit at least ten times into 10 s
  EXPECT_LE(calls, 21);
}

TEST(RetryTest, StopEndsRetriesAndOnRetryIsTold) {
  FakeTime t;
  RetryOptions o = t.Options();
  bool stop = false;
  o.stop = [&] { return stop; };
  std::vector<int> told;
  o.on_retry = [&](int attempt, const absl::Status& s) {
    told.push_back(attempt);
    EXPECT_TRUE(absl::IsUnavailable(s));
  };
  int calls = 0;
  absl::Status s = Retry(o, [&](int) {
    if (++calls == 3) stop = true;
    return absl::UnavailableError("down");
  });
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(calls, 3);
  EXPECT_THAT(told, ::testing::ElementsAre(0, 1));
}

TEST(RetryTest, CustomRetryablePredicate) {
  FakeTime t;
  RetryOptions o = t.Options();
  o.retryable = [](const absl::Status& s) { return absl::IsNotFound(s); };
  int calls = 0;
  absl::Status s = Retry(o, [&](int) {
    return ++calls < 3 ? absl::NotFoundError("later") : absl::UnavailableError("final here");
  });
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace hypersweep
