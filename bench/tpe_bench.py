#!/usr/bin/python3
"""TPE quality against Optuna 3.1 and random search (docs/PERFORMANCE.md, "TPE against Optuna").

Runs sequential searches (one simulated worker) on Branin and Hartmann-6 for --seeds seeds:
hypersweep's core/tpe (via the hypersweep_tpe_bench binary; by default with Optuna 3.1's kernel
density, and once with the textbook one), its random sampler, and Optuna's
TPESampler(seed=s, n_startup_trials=10) with every other setting at its default. Prints a
Markdown table of the median best value after 50 and 100 trials with the interquartile range and
a bootstrap standard error of the median, then the proposal time at 1,000 observations.

  /usr/bin/python3 bench/tpe_bench.py --bin build/bench/hypersweep_tpe_bench --seeds 20
"""
import argparse
import json
import math
import random
import subprocess

import numpy as np
import optuna


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
     [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
     [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


def optuna_objective(function):
    if function == "branin":
        return lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15))
    return lambda t: hartmann6([t.suggest_float(f"x{j}", 0, 1) for j in range(6)])


def optuna_runs(function, seeds, trials):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = []
    for seed in range(seeds):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed,
                                                                       n_startup_trials=10))
        study.optimize(optuna_objective(function), n_trials=trials)
        best, curve = float("inf"), []
        for t in study.trials:
            best = min(best, t.value)
            curve.append(best)
        runs.append(curve)
    return runs


def our_runs(binary, function, sampler, seeds, trials, extra=()):
    out = subprocess.run([binary, "--function", function, "--sampler", sampler, "--seeds",
                          str(seeds), "--trials", str(trials), *extra], check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(line)["best"] for line in out.splitlines()]


def summary(values, rng):
    v = np.asarray(values)
    med = float(np.median(v))
    q1, q3 = np.percentile(v, [25, 75])
    boot = [np.median(rng.choice(v, size=len(v), replace=True)) for _ in range(2000)]
    return med, float(q1), float(q3), float(np.std(boot))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bench/hypersweep_tpe_bench")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--functions", default="branin,hartmann6")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    random.seed(0)
    print("| function | sampler | trials | median best | IQR | bootstrap SE of median |")
    print("|---|---|---:|---:|---|---:|")
    functions = args.functions.split(",")
    for function in functions:
        runs = {"hypersweep TPE": our_runs(args.bin, function, "tpe", args.seeds, 100),
                "hypersweep TPE, textbook density": our_runs(
                    args.bin, function, "tpe", args.seeds, 100, ["--textbook-density"]),
                "Optuna TPESampler": optuna_runs(function, args.seeds, 100),
                "random": our_runs(args.bin, function, "random", args.seeds, 100)}
        for name, curves in runs.items():
            for n in (50, 100):
                med, q1, q3, se = summary([c[n - 1] for c in curves], rng)
                print(f"| {function} | {name} | {n} | {med:.4f} | {q1:.4f} .. {q3:.4f} | {se:.4f} |")
    for function in functions:
        out = subprocess.run([args.bin, "--function", function, "--time"], check=True,
                             capture_output=True, text=True).stdout.strip()
        print(f"\nproposal at 1,000 observations: {out}")


if __name__ == "__main__":
    main()
