#!/usr/bin/python3
"""Pruning payoff on a real sweep (issue 16; docs/PERFORMANCE.md "Pruners").

Starts hypersweepd and two hypersweep-worker processes on 127.0.0.1 (a free port, a scratch
directory), then runs the same seeded random sweep (Fashion-MNIST with a row limit, LR log-uniform
over four decades) once without a pruner and once with each pruner named by --pruners, one sweep
at a time, and prints per run: epochs trained, wall time (submit to end), trials pruned, the best
objective and how far it moved from the run without a pruner. --record FILE also writes the run
without a pruner as `hypersweep export --format json` (the replay benchmark's input,
bench/pruner_replay.py). --repeat N runs everything N times (each repeat starting with another
pruner) and reports medians; each run's figures and the 1-minute load average before it go to
stderr.

  /usr/bin/python3 bench/pruner_payoff.py --build build [--record bench/data/pruner_curves.json]
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PRUNERS = {
    "none": "",
    "asha": "pruner: {asha: {min_epochs: 1, reduction_factor: 3}}\n",
    "median": "pruner: {median: {startup_trials: 5, warmup_epochs: 1, interval: 1}}\n",
}


def sweep_spec(name, args, pruner):
    return (f"name: {name}\n"
            f"dataset: {{fashion_mnist: {{limit: {args.limit}}}}}\n"
            "model: {mlp: {hidden: [128, 128]}}\n"
            "schedule: {one_cycle: {max_lr: 0.05}}\n"
            f"epochs: {args.epochs}\nbatch_size: 128\nmomentum: 0.9\n"
            "validation: {holdout: 0.2}\n"
            "objective: {metric: val_loss, goal: minimize}\n"
            f"random: {{trials: {args.trials}, seed: {args.seed}, params: "
            f"{{schedule.max_lr: {{log_uniform: [{args.lr_min}, {args.lr_max}]}}}}}}\n" + pruner)


class Cluster:
    def __init__(self, build, workdir):
        self.build, self.dir = build, workdir
        self.procs = []
        port = self._free_port()
        self.address = f"127.0.0.1:{port}"
        self._start([f"{build}/bin/hypersweepd", "--listen", self.address, "--db",
                     f"{workdir}/hs.db", "--lease-ttl", "10s"], "hypersweepd.log")
        deadline = time.time() + 30
        while "listening on" not in self._read("hypersweepd.log"):
            if time.time() > deadline:
                sys.exit("hypersweepd did not start:\n" + self._read("hypersweepd.log"))
            time.sleep(0.1)
        for w in ("w1", "w2"):
            self._start([f"{build}/bin/hypersweep-worker", "--server", self.address,
                         "--worker-id", w, "--threads", "1", "--checkpoint-dir",
                         f"{workdir}/ckpt-{w}", "--acquire-wait-ms", "1000"], f"worker-{w}.log")

    @staticmethod
    def _free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def _read(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _start(self, argv, log):
        out = open(os.path.join(self.dir, log), "w")
        self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))

    def cli(self, *args):
        r = subprocess.run([f"{self.build}/bin/hypersweep", "--server", self.address, *args],
                           capture_output=True, text=True, env={**os.environ, "HOME": self.dir})
        if r.returncode != 0:
            sys.exit(f"hypersweep {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def run_sweep(self, spec, timeout):
        path = os.path.join(self.dir, "spec.yaml")
        with open(path, "w") as f:
            f.write(spec)
        t0 = time.monotonic()
        out = self.cli("submit", path, "--format", "json")
        sweep_id = json.loads(out)["id"]
        while True:
            doc = json.loads(self.cli("export", sweep_id, "--format", "json"))
            if doc["sweep"].get("state") in ("COMPLETED", "CANCELLED", "FAILED", "PAUSED"):
                return doc, time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                sys.exit(f"sweep {sweep_id} did not end in {timeout} s")
            time.sleep(0.5)

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def summarize(doc, wall):
    trials = doc["trials"]
    epochs = sum(len(t["epochs"]) for t in trials)
    best = None
    for t in trials:
        for e in t["epochs"]:
            v = e.get("val_loss")
            if v is not None and (best is None or v < best):
                best = v
    counts = {}
    for t in trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    return {"epochs": epochs, "wall_s": wall, "best": best, "statuses": counts,
            "pruned": counts.get("PRUNED", 0), "trials": len(trials)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--limit", type=int, default=20000, help="Fashion-MNIST rows")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--lr-min", type=float, default=1e-3)
    ap.add_argument("--lr-max", type=float, default=10.0)
    ap.add_argument("--pruners", default="none,asha,median")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--record", help="write the run without a pruner's export (JSON) here")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    names = args.pruners.split(",")
    for n in names:
        if n not in PRUNERS:
            sys.exit(f"--pruners: unknown pruner {n!r} (known: {', '.join(PRUNERS)})")
    if "none" not in names:
        names.insert(0, "none")
    results = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="pruner-payoff-") as d:
        cluster = Cluster(os.path.abspath(args.build), d)
        try:
            # A warm-up sweep (not reported): the first trial of a fresh worker pays one-off costs
            # (reading the dataset files into the page cache, LibTorch's start-up).
            warm = argparse.Namespace(**{**vars(args), "trials": 2, "epochs": 1})
            cluster.run_sweep(sweep_spec("payoff-warm-up", warm, ""), args.timeout)
            for r in range(args.repeat):
                # Each repeat starts with another pruner, so that a change of the shared machine's
                # load does not always fall on the same one.
                for n in names[r % len(names):] + names[:r % len(names)]:
                    load = os.getloadavg()[0]
                    doc, wall = cluster.run_sweep(sweep_spec(f"payoff-{n}-{r}", args, PRUNERS[n]),
                                                  args.timeout)
                    s = summarize(doc, wall)
                    s["load_before"] = load
                    results[n].append(s)
                    print(f"run {r} {n}: {json.dumps(s)}", file=sys.stderr, flush=True)
                    if n == "none" and r == 0 and args.record:
                        with open(args.record, "w") as f:
                            json.dump(doc, f, separators=(",", ":"))
        finally:
            cluster.stop()
    base = statistics.median(s["best"] for s in results["none"])
    base_epochs = statistics.median(s["epochs"] for s in results["none"])
    print(f"{args.trials} random points x {args.epochs} epochs, Fashion-MNIST limit {args.limit}, "
          f"2 workers x 1 thread, seed {args.seed}; medians of {args.repeat} run(s)")
    print("| pruner | epochs trained | wall s | pruned | best val_loss | best moved |")
    print("|---|---|---|---|---|---|")
    for n in names:
        rs = results[n]
        ep = statistics.median(s["epochs"] for s in rs)
        best = statistics.median(s["best"] for s in rs)
        print(f"| {n} | {ep:g} ({ep / base_epochs:.0%}) | "
              f"{statistics.median(s['wall_s'] for s in rs):.1f} | "
              f"{statistics.median(s['pruned'] for s in rs):g} | {best:.4f} | "
              f"{best - base:+.4f} ({(best - base) / base:+.1%}) |")


if __name__ == "__main__":
    main()
