#include "worker/cli.h"

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/lr_finder.h"
#include "core/metrics.h"
#include "core/packing.h"
#include "core/schedule.h"
#include "core/spec_reader.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"
#include "rpc/config.h"
#include "rpc/connection.h"
#include "worker/agent/agent.h"
#include "worker/settings.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) std::_Exit(130);  // a second signal exits now
}

int ExitCodeFor(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ? kExitBadInput : kExitFailure;
}

int Fail(const absl::Status& s) {
  std::cerr << "hypersweep-worker: " << s.message() << "\n";
  return ExitCodeFor(s);
}

// Prints each epoch as one JSON line on stdout and notices on stderr.
class StdoutSink : public MetricsSink {
 public:
  void OnEpoch(const EpochMetrics& m) override {
    std::cout << ToJson(m).dump() << std::endl;
    std::cerr << absl::StrFormat(
        "epoch %d: train_loss %.4f val_loss %.4f val_accuracy %.4f (%.1fs, %.0f samples/s)\n",
        m.epoch, m.Get(metrics::kTrainLoss), m.Get(metrics::kValLoss), m.Get(metrics::kValAccuracy),
        m.Get(metrics::kSeconds), m.Get(metrics::kSamplesPerSecond));
  }
  void OnLog(const std::string& message) override { std::cerr << message << "\n"; }
};

// FNV-1a of the canonical spec: a stable checkpoint file name for one trial.
std::string SpecDigest(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", h);
}

struct CommonOptions {
  std::string device = "auto";
  int threads = 0;
};

void AddCommon(CLI::App* cmd, CommonOptions* o) {
  cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", o->threads, "intra-op threads (0: LibTorch's default)")
      ->check(CLI::NonNegativeNumber);
}

// Options shared by the local commands; a signal stops them at the next batch.
TrainOptions LocalOptions(const CommonOptions& common) {
  TrainOptions options;
  options.device = common.device;
  options.threads = common.threads;
  options.should_stop = [] { return g_signals.load() > 0; };
  return options;
}

int RunTrain(const std::string& trial_file, const std::string& checkpoint_dir, bool resume,
             const CommonOptions& common) {
  auto spec = LoadTrialSpecFile(trial_file);
  if (!spec.ok()) return Fail(spec.status());
  TrainOptions options = LocalOptions(common);
  if (!checkpoint_dir.empty()) {
    options.checkpoint_path =
        absl::StrCat(checkpoint_dir, "/trial-", SpecDigest(ToJson(*spec).dump()), ".pt");
  } else if (resume) {
    return Fail(absl::InvalidArgumentError("--resume needs --checkpoint-dir"));
  }
  options.resume = resume;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  StdoutSink sink;
  auto result = TrainTrial(*spec, options, &sink);
  if (!result.ok()) return Fail(result.status());
  nlohmann::json summary = {{"status", TrialOutcomeName(result->outcome)},
                            {"epochs", result->epochs.size()},
                            {"device", result->device}};
  if (!result->reason.empty()) summary["reason"] = result->reason;
  if (!options.checkpoint_path.empty()) summary["checkpoint"] = options.checkpoint_path;
  if (!result->epochs.empty()) {
    double best_acc = 0, best_loss = 1e300;
    for (const auto& e : result->epochs) {
      best_acc = std::max(best_acc, e.Get(metrics::kValAccuracy, 0));
      const double loss = e.Get(metrics::kValLoss);
      if (std::isfinite(loss)) best_loss = std::min(best_loss, loss);
    }
    summary["best_val_accuracy"] = best_acc;
    summary["best_val_loss"] = best_loss;
    summary["final"] = ToJson(result->epochs.back());
  }
  std::cout << nlohmann::json{{"summary", summary}}.dump() << std::endl;
  switch (result->outcome) {
    case TrialOutcome::kSucceeded:
      return kExitOk;
    case TrialOutcome::kDiverged:
      std::cerr << "diverged: " << result->reason << "\n";
      return kExitDiverged;
    case TrialOutcome::kStopped:
      std::cerr << "stopped by signal; continue with --resume\n";
      return kExitFailure;
  }
  return kExitFailure;
}

class CurveSink : public MetricsSink {
 public:
  void OnEpoch(const EpochMetrics&) override {}
};

// lr-find's output: the curve (each point's loss and EMA, null and "diverged": true where the loss
// was not finite), every rule's LR (null when it has none, with the reason in "reasons"), and the
// rule asked for with its LR. CSV: the curve, then "# rule NAME: LR" (or "# rule NAME: none: WHY")
// for every rule, and "# rule: NAME" for the one asked for.
int RunLrFind(const std::string& trial_file, const std::string& format,
              const std::string& rule_name, const CommonOptions& common) {
  auto spec = LoadTrialSpecFile(trial_file);
  if (!spec.ok()) return Fail(spec.status());
  auto rule = ParseSuggestRule(rule_name);
  if (!rule.ok()) return Fail(rule.status());
  TrainOptions options = LocalOptions(common);
  CurveSink sink;
  auto r = RunLrRangeTest(*spec, options, &sink);
  if (!r.ok()) return Fail(r.status());
  const absl::StatusOr<double> chosen = r->suggestions.Get(*rule);
  if (format == "json") {
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    nlohmann::json curve = nlohmann::json::array();
    for (const auto& p : r->curve) {
      curve.push_back({{"lr", p.lr},
                       {"loss", num(p.loss)},
                       {"smoothed", num(p.smoothed)},
                       {"diverged", !std::isfinite(p.loss)}});
    }
    nlohmann::json suggestions = nlohmann::json::object(), reasons = nlohmann::json::object();
    for (SuggestRule k : kAllSuggestRules) {
      const auto lr = r->suggestions.Get(k);
      suggestions[SuggestRuleName(k)] = lr.ok() ? nlohmann::json(*lr) : nlohmann::json();
      if (!lr.ok()) reasons[SuggestRuleName(k)] = std::string(lr.status().message());
    }
    nlohmann::json out = {{"curve", curve},
                          {"steps_per_epoch", r->steps_per_epoch},
                          {"suggestions", suggestions},
                          {"reasons", reasons},
                          {"rule", SuggestRuleName(*rule)},
                          {"lr", chosen.ok() ? nlohmann::json(*chosen) : nlohmann::json()}};
    std::cout << out.dump(1) << std::endl;
  } else {
    std::cout << "step,lr,loss,smoothed_loss\n";
    for (size_t i = 0; i < r->curve.size(); ++i) {
      const auto& p = r->curve[i];
      std::cout << absl::StrFormat("%d,%.9g,%.9g,%.9g\n", i, p.lr, p.loss, p.smoothed);
    }
    for (SuggestRule k : kAllSuggestRules) {
      const auto lr = r->suggestions.Get(k);
      std::cout << "# rule " << SuggestRuleName(k) << ": "
                << (lr.ok() ? absl::StrFormat("%.6g", *lr)
                            : absl::StrCat("none: ", lr.status().message()))
                << "\n";
    }
    std::cout << "# rule: " << SuggestRuleName(*rule) << "\n";
  }
  if (chosen.ok()) {
    std::cerr << absl::StrFormat("suggested max_lr (rule %s): %.4g\n", SuggestRuleName(*rule),
                                 *chosen);
    return kExitOk;
  }
  std::cerr << "no suggestion from rule " << SuggestRuleName(*rule) << ": "
            << chosen.status().message() << "\n";
  return kExitFailure;
}

int RunSchedule(const std::string& schedule_arg, int64_t steps, int64_t steps_per_epoch,
                double momentum) {
  std::string text = schedule_arg;
  if (std::filesystem::is_regular_file(schedule_arg)) {
    std::ifstream in(schedule_arg);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto node = LoadYaml(text, "--schedule");
  if (!node.ok()) return Fail(node.status());
  YAML::Node root = *node;
  if (root.IsMap() && root["schedule"].IsDefined()) root = root["schedule"];  // a whole trial file
  auto spec = ParseSchedule(root, "schedule", {});
  if (!spec.ok()) return Fail(spec.status());
  // The same table and CSV as `hypersweep schedule` (core/schedule.h).
  ScheduleTableOptions options;
  options.steps = steps;
  options.steps_per_epoch = steps_per_epoch;
  options.momentum = momentum;
  auto rows = ScheduleTable(*spec, options);
  if (!rows.ok()) return Fail(rows.status());
  WriteScheduleCsv(*rows, std::cout);
  return kExitOk;
}

// The daemon's command-line options: CLI11 parses into these; only those given become flags.
struct DaemonOptions {
  std::string config, server, token_file, tls_ca, device, checkpoint_dir, data_root, worker_id;
  int64_t slots = 0, pack = 0, threads = 0, max_consecutive_failures = 0, acquire_wait_ms = 0;
  int64_t max_data_bytes = 0, max_data_rows = 0, max_data_features = 0;
  std::vector<std::string> allow_data_root, allow_command;
  double command_grace_seconds = 10;
  std::vector<std::pair<CLI::Option*, std::function<void(WorkerFlags*)>>> given;
};

int RunDaemon(const DaemonOptions& options) {
  WorkerFlags flags;
  for (const auto& [option, set] : options.given) {
    if (option->count() > 0) set(&flags);
  }
  auto settings = ResolveWorkerSettings(flags, ProcessEnv());
  if (!settings.ok()) return Fail(settings.status());
  AgentOptions& o = settings->agent;
  if (o.pack > 1) {
    // A pack's activations ([K, batch, width]) cross glibc's 128 KiB mmap threshold; without
    // this every step would map and fault in fresh pages (docs/PACKING.md, "Memory").
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
  }
  if (o.server.empty()) {
    std::cerr << "hypersweep-worker: give a command (train, lr-find, schedule) or --server ADDR "
                 "(or HYPERSWEEP_SERVER) to serve a coordinator; see --help\n";
    return kExitBadInput;
  }
  auto channel = MakeChannel(settings->connection);
  if (!channel.ok()) return Fail(channel.status());
  std::error_code ec;
  std::filesystem::create_directories(o.checkpoint_dir, ec);
  if (ec) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("cannot create --checkpoint-dir '", o.checkpoint_dir, "': ", ec.message())));
  }
  Agent agent(o, v1::WorkerService::NewStub(*channel));
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::atomic<bool> done{false};
  // Signal handlers only set a flag; this thread turns it into a drain.
  std::thread watcher([&] {
    while (!done) {
      if (g_signals.load() > 0) agent.Stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const int code = agent.Run();
  done = true;
  watcher.join();
  return code;
}

}  // namespace

int RunWorkerCli(int argc, char** argv) {
  CLI::App app{
      "hypersweep-worker: trains hyperparameter-sweep trials with LibTorch.\n"
      "Local commands run one trial with no coordinator; exit codes: 0 succeeded, 2 bad input, "
      "3 diverged, 1 other failure.\n"
      "Without a command it serves a coordinator: hypersweep-worker --server HOST:PORT [options]."};
  app.require_subcommand(0, 1);
  DaemonOptions daemon;
  AgentOptions defaults;
  // Registers one daemon option; when given on the command line it becomes flags->*field.
  auto option = [&](const std::string& name, auto* value, auto field, const std::string& help) {
    CLI::Option* opt = app.add_option(name, *value, help);
    daemon.given.emplace_back(opt, [value, field](WorkerFlags* f) { f->*field = *value; });
    return opt;
  };
  option("--config", &daemon.config, &WorkerFlags::config,
         "worker config file (default: $XDG_CONFIG_HOME/hypersweep/worker.yaml or "
         "~/.config/hypersweep/worker.yaml); flags win over the environment, which wins over it");
  option("--server", &daemon.server, &WorkerFlags::server,
         "coordinator address (env HYPERSWEEP_SERVER)");
  option("--token-file", &daemon.token_file, &WorkerFlags::token_file,
         "file with the worker bearer token (env HYPERSWEEP_WORKER_TOKEN or HYPERSWEEP_TOKEN)");
  option("--tls-ca", &daemon.tls_ca, &WorkerFlags::tls_ca,
         "PEM CA bundle: connect with TLS (env HYPERSWEEP_TLS_CA)");
  daemon.slots = defaults.slots;
  option("--slots", &daemon.slots, &WorkerFlags::slots, "trials trained at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  daemon.pack = defaults.pack;
  option("--pack", &daemon.pack, &WorkerFlags::pack,
         "trial packing: each slot trains up to this many compatible trials of a sweep as one "
         "batched model (built-in MLPs; docs/PACKING.md); 1: no packing")
      ->check(CLI::Range(1, kMaxPackTrials))
      ->capture_default_str();
  option("--threads", &daemon.threads, &WorkerFlags::threads,
         "intra-op threads (0: LibTorch's default)")
      ->check(CLI::NonNegativeNumber);
  daemon.device = defaults.device;
  option("--device", &daemon.device, &WorkerFlags::device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  daemon.checkpoint_dir = defaults.checkpoint_dir;
  option("--checkpoint-dir", &daemon.checkpoint_dir, &WorkerFlags::checkpoint_dir,
         "checkpoints (on a shared filesystem, a requeued trial resumes on another worker)")
      ->capture_default_str();
  option("--data-root", &daemon.data_root, &WorkerFlags::data_root,
         "relative dataset paths are resolved against this; trials read data only here and "
         "under --allow-data-root");
  option("--allow-data-root", &daemon.allow_data_root, &WorkerFlags::allow_data_root,
         "another directory trials may read data from (repeatable; default " +
             std::string(kDefaultAllowedDataRoot) + "; giving it replaces the default)");
  daemon.max_data_bytes = defaults.data_limits.max_bytes;
  option("--max-data-bytes", &daemon.max_data_bytes, &WorkerFlags::max_data_bytes,
         "largest data file a trial may load (after gunzip)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  daemon.max_data_rows = defaults.data_limits.max_rows;
  option("--max-data-rows", &daemon.max_data_rows, &WorkerFlags::max_data_rows,
         "most rows (samples) of one data file")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  daemon.max_data_features = defaults.data_limits.max_features;
  option("--max-data-features", &daemon.max_data_features, &WorkerFlags::max_data_features,
         "most input features (CSV feature columns, image pixels)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  daemon.max_consecutive_failures = defaults.max_consecutive_failures;
  option("--max-consecutive-failures", &daemon.max_consecutive_failures,
         &WorkerFlags::max_consecutive_failures,
         "quarantine this worker after this many failed trials in a row")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  option("--worker-id", &daemon.worker_id, &WorkerFlags::worker_id, "keep this id across restarts");
  option("--allow-command", &daemon.allow_command, &WorkerFlags::allow_command,
         "run command trials whose argv[0] is PREFIX exactly, or lies below PREFIX when it ends "
         "in '/' (repeatable; none: command trials are refused; docs/COMMAND_TRIALS.md)");
  option("--command-grace-seconds", &daemon.command_grace_seconds,
         &WorkerFlags::command_grace_seconds,
         "a command trial's program gets SIGTERM, then SIGKILL this much later")
      ->capture_default_str();
  daemon.acquire_wait_ms = defaults.acquire_wait_ms;
  option("--acquire-wait-ms", &daemon.acquire_wait_ms, &WorkerFlags::acquire_wait_ms,
         "long-poll length of one acquire")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.set_version_flag("--version",
                       absl::StrCat("hypersweep-worker 0.1.0 (LibTorch ", LibTorchVersion(),
                                    CudaAvailable() ? ", CUDA" : ", CPU only", ")"));

  CommonOptions train_common, find_common;
  std::string trial_file, checkpoint_dir;
  bool resume = false;
  auto* train = app.add_subcommand(
      "train", "Train one trial locally; one JSON object per epoch on stdout, then a summary");
  train
      ->add_option("--trial", trial_file,
                   "trial file (YAML or JSON): one point of the sweep schema")
      ->required();
  train->add_option("--checkpoint-dir", checkpoint_dir,
                    "write a checkpoint after every epoch here");
  train->add_flag("--resume", resume, "continue from the trial's checkpoint in --checkpoint-dir");
  AddCommon(train, &train_common);

  std::string find_file, find_format = "csv", find_rule = SuggestRuleName(AutoLrOptions{}.rule);
  auto* find =
      app.add_subcommand("lr-find", "Run an LR range test; prints the curve and suggested max LRs");
  find->add_option("--trial", find_file, "trial file (YAML or JSON)")->required();
  find->add_option("--format", find_format,
                   "csv or json. json: {curve: [{lr, loss, smoothed, diverged}], suggestions: "
                   "{rule: lr or null}, reasons: {rule: why it has no lr}, rule, lr}; csv: the "
                   "curve, then '# rule NAME: LR' lines")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  find->add_option("--rule", find_rule,
                   "the rule whose LR is 'the' suggestion (exit 1 when it has none): min, "
                   "min_div_10, steepest or valley")
      ->check(CLI::IsMember({"min", "min_div_10", "steepest", "valley"}))
      ->capture_default_str();
  AddCommon(find, &find_common);

  std::string schedule_arg;
  int64_t steps = 0, steps_per_epoch = 1;
  double momentum = 0.9;
  auto* sched =
      app.add_subcommand("schedule", "Print a schedule's lr and momentum per step as CSV");
  sched
      ->add_option("--schedule", schedule_arg,
                   "schedule as JSON or YAML text, e.g. '{one_cycle: {max_lr: 0.1}}', or a file")
      ->required();
  sched->add_option("--steps", steps, "number of steps")->required()->check(CLI::PositiveNumber);
  sched->add_option("--steps-per-epoch", steps_per_epoch, "steps per epoch (for *_epochs fields)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sched->add_option("--momentum", momentum, "momentum when the schedule does not cycle it")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  if (*train) return RunTrain(trial_file, checkpoint_dir, resume, train_common);
  if (*find) return RunLrFind(find_file, find_format, find_rule, find_common);
  if (*sched) return RunSchedule(schedule_arg, steps, steps_per_epoch, momentum);
  return RunDaemon(daemon);
}

}  // namespace hypersweep
