// Proto <-> domain conversions and absl::Status -> grpc::Status. The only place the two meet.
#ifndef HYPERSWEEP_SERVER_SERVICE_CONVERT_H_
#define HYPERSWEEP_SERVER_SERVICE_CONVERT_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "hypersweep/v1/service.pb.h"
#include "server/scheduler/scheduler.h"

namespace hypersweep {

grpc::Status ToGrpc(const absl::Status& s);

void ToProto(const SweepInfo& in, v1::Sweep* out);
// Without the lease token: that is only ever sent to the worker that holds the lease.
void ToProto(const TrialRecord& in, v1::Trial* out);
void ToProto(const EpochRecord& in, v1::EpochMetrics* out);
void ToProto(const WorkerInfo& in, v1::Worker* out);
void ToProto(const SweepEvent& in, v1::SweepEvent* out);

EpochRecord FromProto(const v1::EpochMetrics& in);
LeaseRef FromProto(const v1::LeaseRef& in);
WorkerRecord FromProto(const v1::WorkerCapabilities& in);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_CONVERT_H_
