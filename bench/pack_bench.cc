// Trainer-level benchmark of trial packing (docs/PERFORMANCE.md, "Trial packing"): trains
// `--trials` trials (each its own LR, momentum, seed) in packs of `--pack` with TrainPack, or one
// by one with TrainTrial (--pack 1), on one thread, and prints one JSON line with the trial-epochs
// per second and the peak RSS. bench/pack_bench.sh runs it as two processes on two cores.
#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "worker/trainer/packed_trainer.h"
#include "worker/trainer/trainer.h"

namespace hypersweep {
namespace {

class NullSink : public MetricsSink {
 public:
  void OnEpoch(const EpochMetrics& m) override { last_val_loss = m.Get(metrics::kValLoss); }
  double last_val_loss = 0;
};

std::string Workload(const std::string& name) {
  if (name == "tabular") {
    // 60k rows: a 0.2 holdout leaves 48k training rows, as the ATLAS-like sweep.
    return "dataset: {synthetic: {samples: 60000, features: 30, classes: 2, weights: true}}\n"
           "model: {mlp: {hidden: [100, 100, 100, 100]}}\nbatch_size: 256\n";
  }
  return "dataset: fashion_mnist\nmodel: {mlp: {hidden: [128, 128, 128, 128]}}\nbatch_size: 256\n";
}

int Run(int argc, char** argv) {
  CLI::App app{"trial packing benchmark"};
  std::string workload = "tabular";
  int trials = 8, pack = 1, epochs = 1, first = 0;
  app.add_option("--workload", workload, "tabular | fmnist")
      ->check(CLI::IsMember({"tabular", "fmnist"}));
  app.add_option("--trials", trials, "trials to train")->check(CLI::Range(1, 256));
  app.add_option("--first", first, "index of the first trial (another process takes others)");
  app.add_option("--pack", pack, "trials per pack; 1: TrainTrial one by one")
      ->check(CLI::Range(1, 64));
  app.add_option("--epochs", epochs, "epochs per trial")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  // A pack's activations ([K, batch, width] floats) pass glibc's default 128 KiB mmap threshold:
  // without this every step maps and faults in fresh pages (docs/PACKING.md).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);

  std::vector<TrialSpec> specs;
  for (int i = first; i < first + trials; ++i) {
    const std::string text =
        Workload(workload) +
        "schedule: {one_cycle: {max_lr: " + std::to_string(0.02 + 0.01 * (i % 7)) +
        "}}\nmomentum: " + std::to_string(0.8 + 0.02 * (i % 5)) + "\nseed: " + std::to_string(i) +
        "\nepochs: " + std::to_string(epochs) + "\n";
    auto s = ParseTrialSpec(text);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.status().message()).c_str());
      return 2;
    }
    specs.push_back(*s);
  }
  auto cache = NewDatasetCache();
  std::vector<NullSink> sinks(specs.size());
  // The clock includes one data load per process in either mode (the cache shares it).
  const auto t0 = std::chrono::steady_clock::now();
  int failed = 0;
  if (pack == 1) {
    for (size_t i = 0; i < specs.size(); ++i) {
      TrainOptions o;
      o.threads = 1;
      o.cache = cache;
      failed += !TrainTrial(specs[i], o, &sinks[i]).ok();
    }
  } else {
    PackOptions o;
    o.threads = 1;
    o.cache = cache;
    for (size_t i = 0; i < specs.size(); i += static_cast<size_t>(pack)) {
      std::vector<PackMember> members;
      for (size_t j = i; j < specs.size() && j < i + static_cast<size_t>(pack); ++j) {
        PackMember m;
        m.spec = specs[j];
        m.sink = &sinks[j];
        members.push_back(m);
      }
      for (auto& r : TrainPack(members, o)) failed += !r.ok();
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"workload\": \"%s\", \"pack\": %d, \"trials\": %d, \"epochs\": %d, \"seconds\": %.3f, "
      "\"trial_epochs_per_s\": %.3f, \"peak_rss_mb\": %.1f, \"failed\": %d, "
      "\"last_val_loss\": %.5f}\n",
      workload.c_str(), pack, trials, epochs, secs, trials * epochs / secs, ru.ru_maxrss / 1024.0,
      failed, sinks.back().last_val_loss);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace hypersweep

int main(int argc, char** argv) { return hypersweep::Run(argc, argv); }
