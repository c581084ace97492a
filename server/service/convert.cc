#include "server/service/convert.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <variant>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace hypersweep {

// The domain enums mirror the proto's numbering, value for value.
#define HS_PIN(domain, proto) \
  static_assert(static_cast<int>(domain) == static_cast<int>(proto), #domain " != " #proto)
HS_PIN(TrialStatus::kQueued, v1::QUEUED);
HS_PIN(TrialStatus::kLeased, v1::LEASED);
HS_PIN(TrialStatus::kSucceeded, v1::SUCCEEDED);
HS_PIN(TrialStatus::kDiverged, v1::DIVERGED);
HS_PIN(TrialStatus::kFailed, v1::FAILED);
HS_PIN(TrialStatus::kCancelled, v1::CANCELLED);
HS_PIN(TrialStatus::kPruned, v1::PRUNED);
static_assert(v1::TrialStatus_MAX == v1::PRUNED, "a new proto TrialStatus needs a domain value");
HS_PIN(FailureClass::kNone, v1::FAILURE_CLASS_UNSPECIFIED);
HS_PIN(FailureClass::kUserError, v1::USER_ERROR);
HS_PIN(FailureClass::kTransient, v1::TRANSIENT);
HS_PIN(FailureClass::kPreempted, v1::PREEMPTED);
HS_PIN(FailureClass::kOutOfMemory, v1::OUT_OF_MEMORY);
static_assert(v1::FailureClass_MAX == v1::OUT_OF_MEMORY,
              "a new proto FailureClass needs a domain value");
HS_PIN(TrialRole::kTrain, v1::TRAIN);
HS_PIN(TrialRole::kLrRangeTest, v1::LR_RANGE_TEST);
static_assert(v1::TrialRole_MAX == v1::LR_RANGE_TEST, "a new proto TrialRole needs a domain value");
HS_PIN(SweepState::kRunning, v1::SWEEP_RUNNING);
HS_PIN(SweepState::kCompleted, v1::SWEEP_COMPLETED);
HS_PIN(SweepState::kCancelled, v1::SWEEP_CANCELLED);
HS_PIN(SweepState::kPaused, v1::SWEEP_PAUSED);
#undef HS_PIN

v1::TrialStatus ToProto(TrialStatus s) { return static_cast<v1::TrialStatus>(s); }
TrialStatus FromProto(v1::TrialStatus s) { return static_cast<TrialStatus>(s); }
v1::FailureClass ToProto(FailureClass c) { return static_cast<v1::FailureClass>(c); }
FailureClass FromProto(v1::FailureClass c) { return static_cast<FailureClass>(c); }
v1::TrialRole ToProto(TrialRole r) { return static_cast<v1::TrialRole>(r); }
v1::SweepState ToProto(SweepState s) { return static_cast<v1::SweepState>(s); }

namespace {

using google::protobuf::FieldDescriptor;

// The v1::Trial field of each kTrialFields entry (nullptr where it is not sent), looked up once.
// A name that v1::Trial lacks, or a field whose type cannot hold the member, is a programming
// error caught by the first conversion (and by trial_fields_test): abort rather than drop a field.
const std::array<const FieldDescriptor*, kTrialFieldCount>& TrialProtoFields() {
  static const auto fields = [] {
    std::array<const FieldDescriptor*, kTrialFieldCount> out{};
    const auto* d = v1::Trial::descriptor();
    for (int i = 0; i < kTrialFieldCount; ++i) {
      if (kTrialFields[i].proto == nullptr) continue;
      out[i] = d->FindFieldByName(kTrialFields[i].proto);
      if (out[i] == nullptr) {
        std::fprintf(stderr, "kTrialFields: v1::Trial has no field '%s'\n", kTrialFields[i].proto);
        std::abort();
      }
    }
    return out;
  }();
  return fields;
}

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

// Sets `fd` of `out` from an integer member, in the proto field's own integer type.
void SetInteger(const google::protobuf::Reflection* r, google::protobuf::Message* out,
                const FieldDescriptor* fd, int64_t v) {
  switch (fd->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      return r->SetInt64(out, fd, v);
    case FieldDescriptor::CPPTYPE_INT32:
      return r->SetInt32(out, fd, static_cast<int32_t>(v));
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->SetUInt64(out, fd, static_cast<uint64_t>(v));
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->SetUInt32(out, fd, static_cast<uint32_t>(v));
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->SetEnumValue(out, fd, static_cast<int>(v));
    default:
      std::fprintf(stderr, "kTrialFields: v1::Trial.%s is not an integer\n", fd->name().c_str());
      std::abort();
  }
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

void ToProto(const SweepInfo& in, v1::Sweep* out) {
  const SweepRecord& r = in.record;
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_state(ToProto(in.state));
  out->set_paused_reason(in.paused_reason);
  out->set_healthy_workers(in.workers.healthy);
  out->set_registered_workers(in.workers.registered);
  out->set_quarantined_workers(in.workers.quarantined);
  out->mutable_objective()->set_metric(r.objective_metric);
  out->mutable_objective()->set_goal(r.maximize ? v1::MAXIMIZE : v1::MINIMIZE);
  v1::TrialCounts* c = out->mutable_counts();
  c->set_queued(in.counts.Of(TrialStatus::kQueued));
  c->set_leased(in.counts.Of(TrialStatus::kLeased));
  c->set_succeeded(in.counts.Of(TrialStatus::kSucceeded));
  c->set_diverged(in.counts.Of(TrialStatus::kDiverged));
  c->set_failed(in.counts.Of(TrialStatus::kFailed));
  c->set_cancelled(in.counts.Of(TrialStatus::kCancelled));
  c->set_pruned(in.counts.Of(TrialStatus::kPruned));
  c->set_total(in.counts.total);
  int64_t finished = 0;
  for (TrialStatus s : kFinalStatuses) finished += in.counts.Of(s);
  c->set_finished(finished);
  out->set_spec_text(r.spec_text);
  out->set_created_unix_ms(r.created_ms);
  out->set_max_attempts(r.max_attempts);
}

void ToProto(const TrialRecord& in, v1::Trial* out) {
  const auto& fields = TrialProtoFields();
  const google::protobuf::Reflection* r = out->GetReflection();
  for (int i = 0; i < kTrialFieldCount; ++i) {
    const FieldDescriptor* fd = fields[i];
    if (fd == nullptr) continue;
    std::visit(
        Overloaded{
            [&](std::string TrialRecord::*m) { r->SetString(out, fd, in.*m); },
            [&](std::optional<double> TrialRecord::*m) {
              if ((in.*m).has_value()) r->SetDouble(out, fd, *(in.*m));
            },
            [&](TrialParams TrialRecord::*) {
              for (const auto& [k, v] : in.params) (*out->mutable_params())[k] = v;
            },
            [&](TrialStatus TrialRecord::*m) { SetInteger(r, out, fd, ToProto(in.*m)); },
            [&](FailureClass TrialRecord::*m) { SetInteger(r, out, fd, ToProto(in.*m)); },
            [&](TrialRole TrialRecord::*m) { SetInteger(r, out, fd, ToProto(in.*m)); },
            [&](auto TrialRecord::*m) { SetInteger(r, out, fd, static_cast<int64_t>(in.*m)); },
        },
        kTrialFields[i].member);
  }
  // Meaningful only while leased.
  if (in.status != TrialStatus::kLeased) out->clear_lease_expiry_unix_ms();
}

void ToProto(const EpochRecord& in, v1::EpochMetrics* out) {
  out->set_epoch(in.epoch);
  for (const auto& [k, v] : in.values) (*out->mutable_metrics())[k] = v;
}

void ToProto(const WorkerInfo& in, v1::Worker* out) {
  const WorkerRecord& w = in.record;
  out->set_id(w.id);
  v1::WorkerCapabilities* c = out->mutable_capabilities();
  c->set_host(w.host);
  c->set_device(w.device);
  c->set_memory_bytes(w.memory_bytes);
  c->set_libtorch_version(w.libtorch_version);
  c->set_slots(w.slots);
  c->set_max_consecutive_failures(w.max_consecutive_failures);
  out->set_registered_unix_ms(w.registered_ms);
  out->set_last_seen_unix_ms(w.last_seen_ms);
  out->set_consecutive_failures(w.consecutive_failures);
  out->set_quarantined(w.quarantined);
  out->set_active_leases(in.active_leases);
}

void ToProto(const SweepEvent& in, v1::SweepEvent* out) {
  ToProto(in.sweep, out->mutable_sweep());
  if (in.has_trial) ToProto(in.trial, out->mutable_trial());
  for (const auto& e : in.epochs) ToProto(e, out->add_epochs());
}

EpochRecord FromProto(const v1::EpochMetrics& in) {
  EpochRecord e;
  e.epoch = in.epoch();
  for (const auto& [k, v] : in.metrics()) e.values[k] = v;
  return e;
}

LeaseRef FromProto(const v1::LeaseRef& in) {
  return LeaseRef{in.trial_id(), in.attempt(), in.lease_token()};
}

WorkerRecord FromProto(const v1::WorkerCapabilities& in) {
  WorkerRecord w;
  w.host = in.host();
  w.device = in.device();
  w.memory_bytes = in.memory_bytes();
  w.libtorch_version = in.libtorch_version();
  w.slots = in.slots();
  w.max_consecutive_failures = std::max(0, in.max_consecutive_failures());
  return w;
}

}  // namespace hypersweep
