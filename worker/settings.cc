#include "worker/settings.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/packing.h"
#include "core/status_macros.h"

namespace hypersweep {

absl::StatusOr<WorkerSettings> ResolveWorkerSettings(const WorkerFlags& flags, const Env& env) {
  WorkerSettings out;
  out.config_file = flags.config ? *flags.config : ConfigFilePath(env, "worker.yaml");
  ASSIGN_OR_RETURN(ConfigFile file,
                   ConfigFile::Read(out.config_file,
                                    {"server", "token_file", "token", "tls_ca", "slots", "pack",
                                     "threads", "device", "checkpoint_dir", "data_root",
                                     "max_consecutive_failures", "worker_id", "acquire_wait_ms",
                                     "allow_data_root", "max_data_bytes", "max_data_rows",
                                     "max_data_features", "allow_command", "command_grace_seconds"},
                                    /*must_exist=*/flags.config.has_value()));
  const ConfigReader r(env, std::move(file));
  const Check<int64_t> positive{[](int64_t v) { return v > 0; }, "must be > 0"};
  const Check<int64_t> non_negative{[](int64_t v) { return v >= 0; }, "must be >= 0"};
  const Check<int64_t> fits_int{[](int64_t v) { return v > 0 && v <= (1 << 20); },
                                "must be in [1, 1048576]"};

  AgentOptions& a = out.agent;
  RETURN_IF_ERROR(r.Get({"--server", {"HYPERSWEEP_SERVER"}, "server"}, flags.server, &a.server));
  RETURN_IF_ERROR(
      r.GetToken(flags.token_file, {"HYPERSWEEP_WORKER_TOKEN", "HYPERSWEEP_TOKEN"}, &a.token));
  RETURN_IF_ERROR(r.GetPath({"--tls-ca", {"HYPERSWEEP_TLS_CA"}, "tls_ca"}, flags.tls_ca,
                            &out.connection.tls_ca_file));
  int64_t slots = a.slots, threads = a.threads, failures = a.max_consecutive_failures;
  int64_t pack = a.pack;
  RETURN_IF_ERROR(r.Get({"--slots", {}, "slots"}, flags.slots, &slots, fits_int));
  const Check<int64_t> pack_range{[](int64_t v) { return v >= 1 && v <= kMaxPackTrials; },
                                  absl::StrCat("must be in [1, ", kMaxPackTrials, "]")};
  RETURN_IF_ERROR(r.Get({"--pack", {}, "pack"}, flags.pack, &pack, pack_range));
  a.pack = static_cast<int>(pack);
  RETURN_IF_ERROR(r.Get({"--threads", {}, "threads"}, flags.threads, &threads, non_negative));
  RETURN_IF_ERROR(r.Get({"--max-consecutive-failures", {}, "max_consecutive_failures"},
                        flags.max_consecutive_failures, &failures, fits_int));
  RETURN_IF_ERROR(r.Get({"--acquire-wait-ms", {}, "acquire_wait_ms"}, flags.acquire_wait_ms,
                        &a.acquire_wait_ms, positive));
  a.slots = static_cast<int>(slots);
  a.threads = static_cast<int>(std::min<int64_t>(threads, 1 << 20));
  a.max_consecutive_failures = static_cast<int>(failures);
  RETURN_IF_ERROR(r.Get({"--device", {}, "device"}, flags.device, &a.device));
  RETURN_IF_ERROR(r.GetPath({"--checkpoint-dir", {}, "checkpoint_dir"}, flags.checkpoint_dir,
                            &a.checkpoint_dir));
  RETURN_IF_ERROR(r.GetPath({"--data-root", {}, "data_root"}, flags.data_root, &a.data_root));
  RETURN_IF_ERROR(r.Get({"--worker-id", {}, "worker_id"}, flags.worker_id, &a.worker_id));
  DataLimits& l = a.data_limits;
  RETURN_IF_ERROR(r.Get({"--max-data-bytes", {}, "max_data_bytes"}, flags.max_data_bytes,
                        &l.max_bytes, positive));
  RETURN_IF_ERROR(
      r.Get({"--max-data-rows", {}, "max_data_rows"}, flags.max_data_rows, &l.max_rows, positive));
  RETURN_IF_ERROR(r.Get({"--max-data-features", {}, "max_data_features"}, flags.max_data_features,
                        &l.max_features, positive));
  if (flags.allow_data_root) {
    a.allowed_data_roots.clear();
    for (const auto& d : *flags.allow_data_root) {
      if (!d.empty()) a.allowed_data_roots.push_back(d);
    }
  } else {
    std::string joined = absl::StrJoin(a.allowed_data_roots, ":");
    RETURN_IF_ERROR(r.Get({"--allow-data-root", {}, "allow_data_root"}, std::nullopt, &joined));
    a.allowed_data_roots = absl::StrSplit(joined, ':', absl::SkipEmpty());
  }
  if (flags.allow_command) {
    a.allow_command.clear();
    for (const auto& c : *flags.allow_command) {
      if (!c.empty()) a.allow_command.push_back(c);
    }
  } else {
    std::string joined;
    RETURN_IF_ERROR(r.Get({"--allow-command", {}, "allow_command"}, std::nullopt, &joined));
    a.allow_command = absl::StrSplit(joined, ':', absl::SkipEmpty());
  }
  double grace = absl::ToDoubleSeconds(a.command_grace);
  RETURN_IF_ERROR(r.Get(
      {"--command-grace-seconds", {}, "command_grace_seconds"}, flags.command_grace_seconds, &grace,
      Check<double>{[](double v) { return v >= 0 && v <= 3600; }, "must be in [0, 3600]"}));
  a.command_grace = absl::Seconds(grace);
  out.connection.server = a.server;
  out.connection.token = a.token;
  return out;
}

}  // namespace hypersweep
