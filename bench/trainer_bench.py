#!/usr/bin/python3
"""Benchmark: hypersweep-worker train vs the same training in Python PyTorch (python3-torch).

Same model (4x128 ReLU MLP), data (Fashion-MNIST), 1cycle schedule, batch order and thread count.
Runs the two alternately `--repeats` times per batch size and keeps each side's best epoch
throughput (training loop only, evaluation excluded). Also measures the peak RSS of a 5-epoch
C++ run. Prints a Markdown table for docs/PERFORMANCE.md.

Usage: /usr/bin/python3 bench/trainer_bench.py [--worker build/bin/hypersweep-worker]
       [--batch-sizes 32,256,1024] [--epochs 2] [--threads 1] [--repeats 2]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

TRIAL = """
dataset: {{fashion_mnist: {{}}}}
model: {{mlp: {{hidden: [128, 128, 128, 128], activation: relu, init: he}}}}
optimizer: sgd
schedule: {{one_cycle: {{max_lr: 0.05}}}}
momentum: 0.9
epochs: {epochs}
batch_size: {batch_size}
seed: 0
validation: {{test_split: true}}
"""


def best_sps(lines):
    rows = [json.loads(l) for l in lines.splitlines() if l.startswith("{")]
    rows = [r for r in rows if "epoch" in r]
    return max(r["samples_per_second"] for r in rows), rows


def run_cpp(worker, batch_size, epochs, threads):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(TRIAL.format(epochs=epochs, batch_size=batch_size))
        path = f.name
    try:
        out = subprocess.run([worker, "train", "--trial", path, "--threads", str(threads)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    return best_sps(out)


def run_py(batch_size, epochs, threads):
    out = subprocess.run([sys.executable, os.path.join(HERE, "pytorch_reference.py"),
                          "--batch-size", str(batch_size), "--epochs", str(epochs),
                          "--threads", str(threads), "--max-lr", "0.05"],
                         check=True, capture_output=True, text=True).stdout
    return best_sps(out)


def peak_rss_mib(worker, threads):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(TRIAL.format(epochs=5, batch_size=256))
        path = f.name
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run([worker, "train", "--trial", path, "--threads", str(threads)], check=True,
                       capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    finally:
        os.unlink(path)
    return max(before, after) / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", default=os.path.join(HERE, "..", "build", "bin", "hypersweep-worker"))
    ap.add_argument("--batch-sizes", default="32,256,1024")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print(f"| batch | hypersweep samples/s | PyTorch (Python) samples/s | ratio | target |")
    print(f"|---:|---:|---:|---:|---:|")
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        cpp = py = 0.0
        for _ in range(args.repeats):
            cpp = max(cpp, run_cpp(args.worker, bs, args.epochs, args.threads)[0])
            py = max(py, run_py(bs, args.epochs, args.threads)[0])
        target = 1.3 if bs <= 32 else 1.0
        print(f"| {bs} | {cpp:,.0f} | {py:,.0f} | {cpp / py:.2f}x | >= {target}x |", flush=True)
    rss = peak_rss_mib(args.worker, args.threads)
    print(f"\nPeak RSS of a 5-epoch run (batch 256): {rss:.0f} MiB (target < 1024 MiB)")


if __name__ == "__main__":
    main()
