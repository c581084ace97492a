#include "rpc/status_policy.h"

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "rpc/connection.h"

namespace hypersweep {
namespace {

// The table in rpc/status_policy.h, code by code.
TEST(StatusPolicyTest, RetriesOnlyCodesWhereRepeatingCanSucceed) {
  struct Row {
    absl::StatusCode code;
    bool retried;
  };
  const Row table[] = {
      {absl::StatusCode::kOk, false},
      {absl::StatusCode::kCancelled, false},
      {absl::StatusCode::kUnknown, true},
      {absl::StatusCode::kInvalidArgument, false},
      {absl::StatusCode::kDeadlineExceeded, true},
      {absl::StatusCode::kNotFound, false},
      {absl::StatusCode::kAlreadyExists, false},
      {absl::StatusCode::kPermissionDenied, false},
      {absl::StatusCode::kResourceExhausted, false},
      {absl::StatusCode::kFailedPrecondition, false},
      {absl::StatusCode::kAborted, false},
      {absl::StatusCode::kOutOfRange, false},
      {absl::StatusCode::kUnimplemented, false},
      {absl::StatusCode::kInternal, false},
      {absl::StatusCode::kUnavailable, true},
      {absl::StatusCode::kDataLoss, false},
      {absl::StatusCode::kUnauthenticated, false},
  };
  for (const Row& row : table) {
    EXPECT_EQ(IsRetryableCode(row.code), row.retried) << absl::StatusCodeToString(row.code);
    EXPECT_EQ(IsRetryable(absl::Status(row.code, "x")), row.retried)
        << absl::StatusCodeToString(row.code);
  }
}

TEST(StatusPolicyTest, LeaseLostCodes) {
  EXPECT_TRUE(IsLeaseLost(absl::AbortedError("stale lease")));
  EXPECT_TRUE(IsLeaseLost(absl::NotFoundError("no such trial")));
  EXPECT_TRUE(IsLeaseLost(absl::FailedPreconditionError("trial finished")));
  EXPECT_FALSE(IsLeaseLost(absl::UnavailableError("down")));
  EXPECT_FALSE(IsLeaseLost(absl::PermissionDeniedError("client token")));
  EXPECT_FALSE(IsLeaseLost(absl::OkStatus()));
}

TEST(StatusPolicyTest, GrpcCodesKeepTheirMeaning) {
  const absl::Status s = FromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "down");
  EXPECT_TRUE(IsRetryable(s));
  EXPECT_FALSE(IsRetryable(FromGrpc(grpc::Status(grpc::StatusCode::ABORTED, "stale"))));
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace hypersweep
