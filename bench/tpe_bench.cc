// TPE quality and proposal-time benchmark (docs/PERFORMANCE.md, "TPE against Optuna"): runs
// sequential searches of core/tpe on Branin or Hartmann-6 and prints, per seed, the best value
// after each trial as one JSON line; bench/tpe_bench.py runs Optuna's TPESampler the same way and
// makes the table. `--time` measures one proposal with 1,000 completed observations.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "core/tpe.h"

namespace hypersweep {
namespace {

using tpe::Dimension;

double Branin(const std::vector<double>& x) {
  const double pi = 3.14159265358979323846;
  const double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
  const double y = x[1] - b * x[0] * x[0] + c * x[0] - 6;
  return y * y + 10 * (1 - t) * std::cos(x[0]) + 10;
}

double Hartmann6(const std::vector<double>& x) {
  static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                 {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                 {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                 {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  double s = 0;
  for (int i = 0; i < 4; ++i) {
    double e = 0;
    for (int j = 0; j < 6; ++j) e += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
    s += alpha[i] * std::exp(-e);
  }
  return -s;
}

struct Problem {
  std::vector<Dimension> space;
  double (*f)(const std::vector<double>&);
};

Problem Make(const std::string& name) {
  if (name == "branin") {
    return {{{Dimension::Kind::kUniform, -5, 10, 0}, {Dimension::Kind::kUniform, 0, 15, 0}},
            Branin};
  }
  return {std::vector<Dimension>(6, {Dimension::Kind::kUniform, 0, 1, 0}), Hartmann6};
}

int Run(int argc, char** argv) {
  CLI::App app{"TPE benchmark"};
  std::string function = "branin", sampler = "tpe";
  int trials = 100, seeds = 20, startup = 10;
  bool time_only = false, textbook = false;
  app.add_option("--function", function, "branin or hartmann6")
      ->check(CLI::IsMember({"branin", "hartmann6"}));
  app.add_option("--sampler", sampler, "tpe or random")->check(CLI::IsMember({"tpe", "random"}));
  app.add_option("--trials", trials)->check(CLI::Range(1, 100000));
  app.add_option("--seeds", seeds)->check(CLI::Range(1, 10000));
  app.add_option("--startup", startup)->check(CLI::Range(0, 100000));
  app.add_flag("--textbook-density", textbook, "include -log(sigma) in kernel densities");
  app.add_flag("--time", time_only, "time proposals at 1,000 completed observations");
  CLI11_PARSE(app, argc, argv);
  const Problem problem = Make(function);
  tpe::Options options;
  options.startup_trials = sampler == "random" ? (1LL << 62) : startup;
  options.optuna31_density = !textbook;

  if (time_only) {
    // 1,000 random observations, then 50 proposals; report the median and the slowest.
    std::vector<tpe::Observation> history;
    for (uint64_t i = 0; i < 1000; ++i) {
      tpe::Options random = options;
      random.startup_trials = 1LL << 62;
      const auto x = tpe::Propose(problem.space, {}, random, 1, i);
      history.push_back({x, problem.f(x), false, 0});
    }
    std::vector<double> ms;
    for (uint64_t k = 0; k < 50; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto x = tpe::Propose(problem.space, history, options, 2, 1000 + k);
      const auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (x.empty()) return 1;
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"function\":\"%s\",\"observations\":1000,\"median_ms\":%.4f,\"max_ms\":%.4f}\n",
                function.c_str(), ms[ms.size() / 2], ms.back());
    return 0;
  }
  for (int seed = 0; seed < seeds; ++seed) {
    std::vector<tpe::Observation> history;
    double best = 1e300;
    std::printf("{\"function\":\"%s\",\"sampler\":\"%s\",\"seed\":%d,\"best\":[", function.c_str(),
                sampler.c_str(), seed);
    for (int i = 0; i < trials; ++i) {
      const auto x = tpe::Propose(problem.space, history, options, static_cast<uint64_t>(seed), i);
      const double v = problem.f(x);
      best = std::min(best, v);
      history.push_back({x, v, false, 0});
      std::printf("%s%.10g", i ? "," : "", best);
    }
    std::printf("]}\n");
  }
  return 0;
}

}  // namespace
}  // namespace hypersweep

int main(int argc, char** argv) { return hypersweep::Run(argc, argv); }
