// Proto <-> domain conversions and absl::Status -> grpc::Status. The only place the two meet.
#ifndef HYPERSWEEP_SERVER_SERVICE_CONVERT_H_
#define HYPERSWEEP_SERVER_SERVICE_CONVERT_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "hypersweep/v1/service.pb.h"
#include "server/scheduler/scheduler.h"

namespace hypersweep {

grpc::Status ToGrpc(const absl::Status& s);

// Enum mappings. The domain enums carry the proto's numbers (pinned by static_asserts in
// convert.cc), so these are casts; every crossing goes through them. FromProto of a value the
// domain does not know is not checked here: the service validates enums before calling.
v1::TrialStatus ToProto(TrialStatus s);
TrialStatus FromProto(v1::TrialStatus s);
v1::FailureClass ToProto(FailureClass c);
FailureClass FromProto(v1::FailureClass c);
v1::TrialRole ToProto(TrialRole r);
v1::SweepState ToProto(SweepState s);

void ToProto(const SweepInfo& in, v1::Sweep* out);
// Every kTrialFields entry that names a v1::Trial field, by that name: so not the lease token,
// which is only ever sent to the worker that holds the lease.
void ToProto(const TrialRecord& in, v1::Trial* out);
void ToProto(const EpochRecord& in, v1::EpochMetrics* out);
void ToProto(const WorkerInfo& in, v1::Worker* out);
void ToProto(const SweepEvent& in, v1::SweepEvent* out);

EpochRecord FromProto(const v1::EpochMetrics& in);
LeaseRef FromProto(const v1::LeaseRef& in);
WorkerRecord FromProto(const v1::WorkerCapabilities& in);

}  // namespace hypersweep

#endif  // HYPERSWEEP_SERVER_SERVICE_CONVERT_H_
