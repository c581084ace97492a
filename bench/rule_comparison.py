#!/usr/bin/python3
"""Which LR rule should `max_lr: auto` use? For each batch size and seed, runs an LR range test
(`hypersweep-worker lr-find`) and then 1cycle training at every rule's LR, on Fashion-MNIST with
the tutorial's 4x128 MLP (SGD, momentum cycled 0.95-0.85 by 1cycle), validating on a 20% holdout
of the training images. Prints the final validation accuracy, mean +- standard error over the
seeds, per rule and batch size, and each rule's mean over all (batch, seed) runs with the paired
difference to the best rule (and its SE). The test split is not used.

  /usr/bin/python3 bench/rule_comparison.py --worker build/bin/hypersweep-worker \
      [--batches 64,128,256,512,1024] [--seeds 0,1,2] [--epochs 5] [--min-lr LR]

Only the standard library is used; it takes about 10 minutes on 2 cores.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lr_find_stability import RULES, run as lr_find, trial as range_trial  # noqa: E402


def train(worker, batch, seed, lr, epochs, threads):
    spec = range_trial(batch, seed, 0, 0, None)
    spec["name"] = f"rule-b{batch}-s{seed}"
    spec["schedule"] = {"one_cycle": {"max_lr": lr}}
    spec["epochs"] = epochs
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        path = f.name
    try:
        cmd = [worker, "train", "--trial", path]
        if threads:
            cmd += ["--threads", str(threads)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        last = None
        for line in p.stdout.splitlines():
            obj = json.loads(line)
            if "epoch" in obj:
                last = obj
        if last is None:
            sys.exit(f"train failed ({p.returncode}): {p.stderr.strip()}")
        acc = last.get("val_accuracy")
        return acc if acc is not None else float("nan")
    finally:
        os.unlink(path)


def mean_se(xs):
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var / n)


def fmt(xs):
    if not xs:
        return "-"
    m, se = mean_se(xs)
    return f"{m:.4f} ± {se:.4f}" if se == se else f"{m:.4f} (one run)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", default="build/bin/hypersweep-worker")
    ap.add_argument("--batches", default="64,128,256,512,1024")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--min-lr", type=float, default=0, help="range test start (0: the default)")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    acc = {r: {b: {} for b in batches} for r in RULES}  # rule -> batch -> seed -> accuracy
    lrs = {r: {b: {} for b in batches} for r in RULES}
    failed = {r: 0 for r in RULES}
    for b in batches:
        for s in seeds:
            out = lr_find(args.worker, range_trial(b, s, 0, 0, args.min_lr), args.threads)
            for r in RULES:
                lr = out["suggestions"].get(r)
                if lr is None:
                    failed[r] += 1
                    continue
                lrs[r][b][s] = lr
                acc[r][b][s] = train(args.worker, b, s, lr, args.epochs, args.threads)
                print(f"batch {b} seed {s} {r}: lr {lr:.3g} -> val_accuracy {acc[r][b][s]:.4f}",
                      file=sys.stderr, flush=True)

    print(f"1cycle for {args.epochs} epochs at each rule's LR; final validation accuracy "
          f"(20% holdout of the training images), mean ± SE over seeds {args.seeds}.\n")
    print("| rule | " + " | ".join(f"batch {b}" for b in batches) + " | all runs | failed |")
    print("|---" * (len(batches) + 3) + "|")
    overall = {}
    for r in RULES:
        cells = [fmt(list(acc[r][b].values())) for b in batches]
        allv = [v for b in batches for v in acc[r][b].values()]
        overall[r] = mean_se(allv)[0] if allv else float("-inf")
        print(f"| {r} | " + " | ".join(cells) + f" | {fmt(allv)} | {failed[r]} |")
    print("\n| rule | LR per batch (geometric mean over seeds) |")
    print("|---|---|")
    for r in RULES:
        cells = []
        for b in batches:
            v = list(lrs[r][b].values())
            cells.append(f"{b}: {math.exp(sum(map(math.log, v)) / len(v)):.3g}" if v else f"{b}: -")
        print(f"| {r} | " + ", ".join(cells) + " |")

    complete = [r for r in RULES if failed[r] == 0]
    best = max(complete or RULES, key=lambda r: overall[r])
    print(f"\nBest on all runs: **{best}**. Paired differences (best - rule) over the same "
          "(batch, seed) runs; within 2 SE is no clear difference:\n")
    for r in RULES:
        if r == best:
            continue
        d = [acc[best][b][s] - acc[r][b][s] for b in batches for s in seeds
             if s in acc[best][b] and s in acc[r][b]]
        if len(d) < 2:
            print(f"- {best} vs {r}: too few paired runs")
            continue
        m, se = mean_se(d)
        verdict = "no clear difference" if abs(m) <= 2 * se else (
            f"{best} better" if m > 0 else f"{r} better")
        print(f"- {best} - {r}: {m:+.4f} ± {se:.4f} ({len(d)} pairs): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
