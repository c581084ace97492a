// Status propagation macros. absl 20220623 ships none, so we keep our own, in the style of
// absl's internal ones. Usage:
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto value, ComputeValue());
#ifndef HYPERSWEEP_CORE_STATUS_MACROS_H_
#define HYPERSWEEP_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HS_STATUS_CONCAT_INNER_(a, b) a##b
#define HS_STATUS_CONCAT_(a, b) HS_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    if (::absl::Status hs_status_ = (expr); !hs_status_.ok()) { \
      return hs_status_;                                        \
    }                                                           \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  HS_ASSIGN_OR_RETURN_IMPL_(HS_STATUS_CONCAT_(hs_statusor_, __LINE__), lhs, expr)

#define HS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) {                                \
    return std::move(statusor).status();               \
  }                                                    \
  lhs = *std::move(statusor)

#endif  // HYPERSWEEP_CORE_STATUS_MACROS_H_
