#!/usr/bin/python3
"""How stable is the auto LR? Runs `hypersweep-worker lr-find` on Fashion-MNIST (the tutorial's
4x128 MLP, SGD momentum 0.9) for several batch sizes and seeds and reports, for every rule, the
geometric mean of the seeds' LRs per batch size, their spread (max/min) and whether the means rise
with the batch size as issue 13 asks: LR(1024) >= 3 x LR(32), no step to a larger batch lowering
it by more than 25%, and every spread within 2x.

  /usr/bin/python3 bench/lr_find_stability.py --worker build/bin/hypersweep-worker \
      [--batches 32,128,512,1024] [--seeds 0,1,2] [--steps-per-decade N] [--min-lr LR]

Exit status 0 when the default rule (or --rule) meets every bound, 1 when it does not. Only the
standard library is used.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

RULES = ["min", "min_div_10", "steepest", "valley"]


def trial(batch, seed, steps_per_decade, limit, min_lr=None):
    # Without an lr_range_test schedule, lr-find runs the worker's default range test.
    rt = {}
    if min_lr:
        rt["min_lr"] = min_lr
    if steps_per_decade:
        rt["steps_per_decade"] = steps_per_decade
    ds = {"fashion_mnist": {"limit": limit}} if limit else {"fashion_mnist": {}}
    return {
        "name": f"lr-find-b{batch}-s{seed}",
        "dataset": ds,
        "model": {"mlp": {"hidden": [128, 128, 128, 128], "activation": "relu", "init": "he"}},
        "optimizer": "sgd",
        "schedule": {"lr_range_test": rt} if rt else {"one_cycle": {"max_lr": 0.1}},
        "momentum": 0.9,
        "weight_decay": 0,
        "epochs": 1,
        "batch_size": batch,
        "seed": seed,
        "validation": {"holdout": 0.2},
    }


def run(worker, spec, threads):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        path = f.name
    try:
        cmd = [worker, "lr-find", "--trial", path, "--format", "json"]
        if threads:
            cmd += ["--threads", str(threads)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if not p.stdout.strip():
            sys.exit(f"lr-find failed ({p.returncode}): {p.stderr.strip()}")
        return json.loads(p.stdout)
    finally:
        os.unlink(path)


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", default="build/bin/hypersweep-worker")
    ap.add_argument("--batches", default="32,128,512,1024")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps-per-decade", type=int, default=0,
                    help="0: the worker's default")
    ap.add_argument("--limit", type=int, default=0, help="training rows (0: all 60,000)")
    ap.add_argument("--min-lr", type=float, default=0, help="range test start (0: the default)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--rule", default="", help="the rule the exit status checks (default: lr-find's)")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    lrs = {r: {b: [] for b in batches} for r in RULES}
    default_rule = None
    steps = {}
    for b in batches:
        for s in seeds:
            out = run(args.worker, trial(b, s, args.steps_per_decade, args.limit, args.min_lr),
                      args.threads)
            default_rule = out["rule"]
            steps[b] = len(out["curve"])
            for r in RULES:
                v = out["suggestions"].get(r)
                lrs[r][b].append(v)
            print(f"batch {b} seed {s}: {len(out['curve'])} steps; " +
                  ", ".join(f"{r} {out['suggestions'].get(r)}" for r in RULES), file=sys.stderr)

    checked = args.rule or default_rule
    verdicts = {}
    print(f"steps_per_decade: {args.steps_per_decade or 'default'}; seeds {args.seeds}; "
          f"default rule: {default_rule}\n")
    print("| rule | " + " | ".join(f"batch {b}: geo mean (spread)" for b in batches) +
          " | LR(last)/LR(first) | meets the bounds |")
    print("|---" * (len(batches) + 3) + "|")
    for r in RULES:
        cells, means, ok = [], [], True
        for b in batches:
            vals = lrs[r][b]
            if any(v is None for v in vals):
                cells.append(f"{sum(v is None for v in vals)} of {len(vals)} failed")
                ok = False
                means.append(None)
                continue
            g, spread = geomean(vals), max(vals) / min(vals)
            means.append(g)
            ok = ok and spread <= 2.0
            cells.append(f"{g:.3g} ({spread:.2f}x)")
        ratio = "-"
        if all(m is not None for m in means):
            ratio = f"{means[-1] / means[0]:.2f}"
            ok = ok and means[-1] >= 3 * means[0]
            ok = ok and all(means[i + 1] >= 0.75 * means[i] for i in range(len(means) - 1))
        verdicts[r] = ok
        print(f"| {r} | " + " | ".join(cells) + f" | {ratio} | {'yes' if ok else 'no'} |")
    return 0 if verdicts.get(checked) else 1


if __name__ == "__main__":
    sys.exit(main())
