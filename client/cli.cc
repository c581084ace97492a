#include "client/cli.h"

#include <optional>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "client/commands.h"
#include "client/dashboard/server.h"
#include "client/plot_command.h"
#include "client/result_commands.h"
#include "client/schedule_command.h"
#include "client/sweep_client.h"
#include "client/sweep_commands.h"
#include "client/worker_commands.h"
#include "rpc/config.h"

namespace hypersweep {
namespace {

bool ColourAllowed(const CliEnvironment& e) {
  auto it = e.env.find("NO_COLOR");
  return it == e.env.end() || it->second.empty();
}

}  // namespace

int RunCli(int argc, char** argv, const CliEnvironment& environment, std::ostream& out,
           std::ostream& err) {
  CLI::App app{
      "hypersweep: submit, watch, query, export and plot hyperparameter sweeps.\n"
      "Exit codes: 0 ok, 1 other error, 2 usage or bad spec, 3 not found, 4 server unreachable "
      "or authentication failure."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hypersweep 0.1.0");

  std::string server, token_file, tls_ca;
  double timeout = 0;
  auto* server_opt = app.add_option(
      "--server", server,
      "coordinator host:port (env HYPERSWEEP_SERVER; default " + std::string(kDefaultServer) + ")");
  auto* token_opt = app.add_option("--token-file", token_file,
                                   "file holding the client bearer token (env HYPERSWEEP_TOKEN)");
  auto* ca_opt = app.add_option("--tls-ca", tls_ca, "PEM CA bundle: connect with TLS");
  auto* timeout_opt =
      app.add_option("--timeout", timeout, "seconds to wait for the connection (default 5)");

  std::string format;
  auto add_format = [&](CLI::App* cmd) {
    cmd->add_option("--format", format,
                    "table, csv or json (default: table on a terminal, csv otherwise)");
  };
  std::string sweep_id;
  auto add_sweep = [&](CLI::App* cmd) {
    cmd->add_option("SWEEP", sweep_id, "sweep id")->required();
  };

  SubmitOptions submit;
  auto* submit_cmd = app.add_subcommand("submit", "validate a sweep spec and queue it");
  submit_cmd->add_option("SPEC", submit.spec_path, "sweep spec file (YAML or JSON)")->required();
  submit_cmd->add_flag("--dry-run", submit.dry_run,
                       "validate and print the expansion (count and points); queue nothing");
  submit_cmd->add_flag("--wait", submit.wait, "show progress until the sweep ends");
  add_format(submit_cmd);

  auto* list_cmd = app.add_subcommand("list", "list sweeps");
  add_format(list_cmd);
  auto* status_cmd =
      app.add_subcommand("status", "counts per state, progress, ETA and best so far");
  add_sweep(status_cmd);
  add_format(status_cmd);
  auto* watch_cmd = app.add_subcommand("watch", "follow a sweep live until it ends");
  add_sweep(watch_cmd);
  add_format(watch_cmd);
  auto* cancel_cmd = app.add_subcommand("cancel", "cancel a sweep's unfinished trials");
  add_sweep(cancel_cmd);
  add_format(cancel_cmd);
  auto* resume_cmd = app.add_subcommand(
      "resume", "requeue a PAUSED sweep's trials that failed with a user error and run it again");
  add_sweep(resume_cmd);
  add_format(resume_cmd);
  std::string clear_worker;
  auto* workers_cmd = app.add_subcommand("workers", "list workers");
  workers_cmd->add_option("--clear-quarantine", clear_worker,
                          "lift this worker's quarantine and reset its failure count (needs the "
                          "coordinator's operator token as --token-file or HYPERSWEEP_TOKEN)");
  add_format(workers_cmd);

  TrialsOptions trials;
  auto* trials_cmd = app.add_subcommand("trials", "list a sweep's trials");
  add_sweep(trials_cmd);
  trials_cmd->add_option("--status", trials.statuses, "only these statuses (repeatable)")
      ->delimiter(',');
  trials_cmd->add_option("--sort", trials.sort_metric,
                         "sort by this metric's best value (goal: the objective's when it is "
                         "the objective metric, else minimize); default: index order with the "
                         "objective's best and final values");
  trials_cmd->add_option("--limit", trials.limit, "at most N trials (0: all)");
  add_format(trials_cmd);

  std::string best_metric;
  auto* best_cmd = app.add_subcommand("best", "the best trial by a metric");
  add_sweep(best_cmd);
  best_cmd->add_option("--metric", best_metric, "metric (default: the sweep's objective)");
  add_format(best_cmd);

  CurvesOptions curves;
  auto* curves_cmd = app.add_subcommand("curves", "per-epoch metrics of trials");
  add_sweep(curves_cmd);
  curves_cmd->add_option("--trial", curves.trial_ids, "only these trials (repeatable)");
  std::string curve_metrics;
  curves_cmd->add_option("--metrics", curve_metrics, "comma-separated metric names");
  add_format(curves_cmd);

  auto* export_cmd =
      app.add_subcommand("export", "every trial with its parameters and every epoch");
  add_sweep(export_cmd);
  add_format(export_cmd);

  std::string trial_id;
  auto* lr_cmd = app.add_subcommand("lr-curve", "an LR range test trial's curve and suggestion");
  lr_cmd->add_option("TRIAL", trial_id, "trial id")->required();
  add_format(lr_cmd);

  ScheduleOptions schedule;
  auto* schedule_cmd = app.add_subcommand(
      "schedule", "preview a learning-rate/momentum schedule (no server needed)");
  schedule_cmd
      ->add_option("--schedule", schedule.schedule,
                   "JSON or YAML, e.g. '{one_cycle: {max_lr: 0.1}}'")
      ->required();
  schedule_cmd->add_option("--steps", schedule.steps, "optimizer steps")->required();
  schedule_cmd->add_option("--steps-per-epoch", schedule.steps_per_epoch,
                           "optimizer steps per epoch (default 1)");
  schedule_cmd->add_option("--momentum", schedule.momentum,
                           "momentum when the schedule does not cycle it (default 0.9)");
  schedule_cmd->add_option("--format", schedule.format, "csv (default), table, json or svg");

  PlotOptionsCli plot;
  auto* plot_cmd = app.add_subcommand("plot", "draw a self-contained SVG plot");
  add_sweep(plot_cmd);
  plot_cmd
      ->add_option("--kind", plot.kind,
                   "curves, lr-finder, schedule, time, objective-history or parallel")
      ->required();
  plot_cmd->add_option("--out", plot.out_path, "output file (.svg)")->required();
  plot_cmd->add_option("--metric", plot.metric, "metric (default: the sweep's objective)");

  dashboard::DashboardOptions dash;
  auto* dashboard_cmd = app.add_subcommand(
      "dashboard",
      "serve a read-only web dashboard of the coordinator's sweeps, trials and workers (talks "
      "to hypersweepd with the --server, --token-file and --tls-ca given before 'dashboard'; "
      "docs/DASHBOARD.md)");
  dashboard_cmd->add_option("--listen", dash.listen,
                            "host:port to serve HTTP on (default 127.0.0.1:8080; port 0: any)");
  dashboard_cmd->add_option("--token-file", dash.token_file,
                            "file holding the token browsers must send (HTTP bearer, or basic "
                            "auth with the token as password); required off loopback");
  dashboard_cmd->add_option("--tls-cert", dash.tls_cert, "PEM certificate: serve HTTPS");
  dashboard_cmd->add_option("--tls-key", dash.tls_key, "PEM private key of --tls-cert");
  dashboard_cmd->add_option("--max-streams", dash.max_streams,
                            "live event streams served at once; more get 503 (default 16)");
  dashboard_cmd->add_flag("--allow-cancel", dash.allow_cancel,
                          "add a cancel button to running sweeps (POST /sweeps/ID/cancel)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    out << app.help();
    return kCliOk;
  } catch (const CLI::CallForAllHelp& e) {
    out << app.help("", CLI::AppFormatMode::All);
    return kCliOk;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return kCliOk;
  } catch (const CLI::ParseError& e) {
    std::string help;
    for (CLI::App* sub : app.get_subcommands()) help = sub->get_name();
    err << "hypersweep: " << e.what() << "\n"
        << "run 'hypersweep " << (help.empty() ? "" : help + " ") << "--help' for usage\n";
    return kCliUsage;
  }

  Io io;
  io.out = &out;
  io.err = &err;
  io.out_is_terminal = environment.out_is_terminal;
  io.err_is_terminal = environment.err_is_terminal;
  io.out_style = Style(environment.out_is_terminal && ColourAllowed(environment));
  io.err_style = Style(environment.err_is_terminal && ColourAllowed(environment));

  ClientFlags flags;
  if (server_opt->count()) flags.server = server;
  if (token_opt->count()) flags.token_file = token_file;
  if (ca_opt->count()) flags.tls_ca = tls_ca;
  if (timeout_opt->count()) flags.timeout_seconds = timeout;

  std::unique_ptr<SweepClient> client;
  auto connect = [&]() -> absl::StatusOr<std::unique_ptr<SweepClient>> {
    auto config = ResolveClientConfig(flags, environment.env);
    if (!config.ok()) return config.status();
    return SweepClient::Connect(*config);
  };
  auto with_client = [&](const std::function<absl::Status(SweepClient&)>& fn) -> absl::Status {
    auto c = connect();
    if (!c.ok()) return c.status();
    return fn(**c);
  };

  absl::Status status;
  if (*submit_cmd) {
    submit.format = format;
    status = RunSubmit(submit, connect, io);
  } else if (*schedule_cmd) {
    status = RunSchedule(schedule, io);
  } else if (*list_cmd) {
    status = with_client([&](SweepClient& c) { return RunList(c, format, io); });
  } else if (*status_cmd) {
    status = with_client([&](SweepClient& c) { return RunStatus(c, sweep_id, format, io); });
  } else if (*watch_cmd) {
    status = with_client([&](SweepClient& c) { return RunWatch(c, sweep_id, format, io); });
  } else if (*cancel_cmd) {
    status = with_client([&](SweepClient& c) { return RunCancel(c, sweep_id, format, io); });
  } else if (*resume_cmd) {
    status = with_client([&](SweepClient& c) { return RunResume(c, sweep_id, format, io); });
  } else if (*workers_cmd && !clear_worker.empty()) {
    status = with_client(
        [&](SweepClient& c) { return RunClearQuarantine(c, clear_worker, format, io); });
  } else if (*workers_cmd) {
    status = with_client([&](SweepClient& c) { return RunWorkers(c, format, io); });
  } else if (*trials_cmd) {
    trials.sweep_id = sweep_id;
    trials.format = format;
    status = with_client([&](SweepClient& c) { return RunTrials(c, trials, io); });
  } else if (*best_cmd) {
    status =
        with_client([&](SweepClient& c) { return RunBest(c, sweep_id, best_metric, format, io); });
  } else if (*curves_cmd) {
    curves.sweep_id = sweep_id;
    curves.format = format;
    if (!curve_metrics.empty()) {
      curves.metrics = absl::StrSplit(curve_metrics, ',', absl::SkipWhitespace());
    }
    status = with_client([&](SweepClient& c) { return RunCurves(c, curves, io); });
  } else if (*export_cmd) {
    status = with_client([&](SweepClient& c) { return RunExport(c, sweep_id, format, io); });
  } else if (*lr_cmd) {
    status = with_client([&](SweepClient& c) { return RunLrCurve(c, trial_id, format, io); });
  } else if (*dashboard_cmd) {
    auto config = ResolveClientConfig(flags, environment.env);
    status = config.ok() ? dashboard::RunDashboard(dash, *config, io) : config.status();
  } else if (*plot_cmd) {
    plot.sweep_id = sweep_id;
    status = with_client([&](SweepClient& c) { return RunPlot(c, plot, io); });
  }
  out.flush();
  if (!status.ok()) {
    err << "hypersweep: " << io.err_style.Red(std::string(status.message())) << "\n";
  }
  return ExitCodeFor(status);
}

}  // namespace hypersweep
