#!/usr/bin/python3
"""Pruner equivalence with Optuna 3.1 (issue 16; docs/PRUNERS.md "Replay against Optuna").

Replays the learning curves of a real sweep (`hypersweep export --format json`, default
bench/data/pruner_curves.json) through our pruners (server/scheduler/pruner.cc, driven through
the hypersweep_pruner_replay binary) and through Optuna 3.1's MedianPruner and
SuccessiveHalvingPruner, report by report in the same order, and prints per setting and order the
fraction of identical decisions.

Mapping (docs/PRUNERS.md): each trial of the export is one Optuna trial (the sweep has no seeds or
folds, so a point is a trial); the report of epoch e (0-based) is Optuna's step e + 1 with the
epoch's val_loss (minimize); median {startup_trials, warmup_epochs, interval} ->
MedianPruner(n_startup_trials, n_warmup_steps, interval_steps); asha {min_epochs,
reduction_factor} -> SuccessiveHalvingPruner(min_resource, reduction_factor,
min_early_stopping_rate=0).

Orders. Trial i's epoch e happens at time i * stagger + e (ties: lower trial index first), each
trial in the export's index order: stagger 0 is round-robin (every trial's epoch 0, then every
trial's epoch 1, ...), stagger >= the epoch count is sequential (trial by trial), values between
overlap trials as workers do. These three keep the trials' index order at every epoch, so ASHA
(which ranks every value recorded at a rung, whatever the trial's state) decides alike in all of
them; two more orders break it: sequential with the last trial first, and the recorded sweep's
own schedule (two workers taking trials in index order, each epoch at its recorded
elapsed_seconds), where a later trial may reach a rung first. Both sides walk the same order; once a side prunes a trial, that
side gets no more reports of it (the other may). A trial that was not pruned ends after its last
recorded epoch as it ended in the sweep: SUCCEEDED -> Optuna COMPLETE (value: its last val_loss),
ours SUCCEEDED; DIVERGED or FAILED -> Optuna FAIL, ours the same status. An epoch without a
finite val_loss is not reported to Optuna and is stored without a value on our side.

A decision is the answer to one report that both sides received; a trial's outcome is the epoch it
was pruned at (or none). Every disagreement is listed.

  cmake --build build --target hypersweep_pruner_replay
  /usr/bin/python3 bench/pruner_replay.py [--export FILE] [--replay build/bench/hypersweep_pruner_replay]
"""
import argparse
import json
import math
import os
import subprocess
import sys

import optuna

SETTINGS = [
    ("median", (5, 1, 1)),
    ("median", (3, 2, 1)),
    ("median", (5, 0, 2)),
    ("asha", (1, 3)),
    ("asha", (2, 2)),
    ("asha", (1, 2)),
]
ORDERS = [
    ("round-robin", ("stagger", 0)),
    ("staggered by 2", ("stagger", 2)),
    ("sequential", ("stagger", None)),
    ("sequential, last first", ("reversed",)),
    ("as recorded, 2 workers", ("workers", 2)),
]


def load_curves(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: not a `hypersweep export --format json` document: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("trials"), list):
        sys.exit(f"{path}: no \"trials\" list (want `hypersweep export --format json`)")
    curves = []
    for n, t in enumerate(doc["trials"]):
        if (not isinstance(t, dict) or not isinstance(t.get("id"), str)
                or not isinstance(t.get("index"), int) or not isinstance(t.get("epochs"), list)
                or not all(isinstance(e, dict) and isinstance(e.get("epoch"), int)
                           and isinstance(e.get("val_loss"), (int, float, type(None)))
                           for e in t["epochs"])):
            sys.exit(f"{path}: trials[{n}]: want an object with \"id\", \"index\" and "
                     "\"epochs\" ([{\"epoch\": int, \"val_loss\": number or null}, ...])")
    for t in sorted(doc["trials"], key=lambda t: t["index"]):
        status = t.get("status")
        if status not in ("SUCCEEDED", "DIVERGED", "FAILED"):
            sys.exit(f"{path}: trial {t['id']}: status {status!r}: want SUCCEEDED, DIVERGED or "
                     "FAILED (record a sweep without a pruner that has ended)")
        values, elapsed = {}, {}
        for e in t["epochs"]:
            v = e.get("val_loss")
            values[int(e["epoch"])] = float(v) if v is not None else math.nan
            elapsed[int(e["epoch"])] = float(e.get("elapsed_seconds") or 0.0)
        epochs = sorted(values)
        if epochs != list(range(len(epochs))):
            sys.exit(f"{path}: trial {t.get('id')}: epochs are not 0..n-1")
        curves.append({"id": t["id"], "status": status, "values": [values[e] for e in epochs],
                       "elapsed": [elapsed[e] for e in epochs]})
    return curves


def events(curves, order):
    """(trial position, epoch) in replay order: ("stagger", n), ("workers", n) or ("reversed",)."""
    kind = order[0]
    longest = max((len(c["values"]) for c in curves), default=0)
    ev = []
    if kind == "stagger":
        step = longest if order[1] is None else order[1]
        ev = [(i * step + e, i, e) for i, c in enumerate(curves) for e in range(len(c["values"]))]
    elif kind == "reversed":
        n = len(curves)
        ev = [((n - 1 - i) * longest + e, i, e) for i, c in enumerate(curves)
              for e in range(len(c["values"]))]
    elif kind == "workers":
        # The recorded sweep's schedule: n workers take the trials in index order, each trial
        # starting when a worker is free and taking its recorded per-epoch times.
        free = [0.0] * order[1]
        for i, c in enumerate(curves):
            w = min(range(len(free)), key=lambda k: free[k])
            start = free[w]
            for e, t in enumerate(c["elapsed"]):
                ev.append((start + t, i, e))
            free[w] = start + (c["elapsed"][-1] if c["elapsed"] else 0.0)
    return [(i, e) for _, i, e in sorted(ev)]


class Ours:
    def __init__(self, binary):
        self.p = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        answer = self.p.stdout.readline().rstrip("\n")
        if not answer or answer.startswith("error"):
            sys.exit(f"hypersweep_pruner_replay: {line!r}: {answer or 'no answer'}")
        return answer

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def optuna_pruner(kind, params):
    if kind == "median":
        s, w, i = params
        return optuna.pruners.MedianPruner(n_startup_trials=s, n_warmup_steps=w, interval_steps=i)
    m, rf = params
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=m, reduction_factor=rf,
                                                  min_early_stopping_rate=0)


def replay(curves, kind, params, order, ours, step_offset=1):
    ours.ask(f"pruner {kind} {' '.join(map(str, params))}")
    study = optuna.create_study(direction="minimize", pruner=optuna_pruner(kind, params),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    trials = {}
    alive = {"ours": set(range(len(curves))), "optuna": set(range(len(curves)))}
    pruned_at = {"ours": {}, "optuna": {}}
    same = both = 0
    diffs = []
    for i, e in events(curves, order):
        c = curves[i]
        v = c["values"][e]
        if e == 0:
            ours.ask(f"trial {c['id']}")
            trials[i] = study.ask()
        said = {}
        if i in alive["ours"]:
            a = ours.ask(f"report {c['id']} {e} {v!r}")
            said["ours"] = a.startswith("prune")
        if i in alive["optuna"]:
            t = trials[i]
            if not math.isnan(v):
                t.report(v, step=e + step_offset)
                said["optuna"] = t.should_prune()
            else:
                said["optuna"] = False
        for side, prune in said.items():
            if prune:
                alive[side].discard(i)
                pruned_at[side][i] = e
        if said.get("optuna"):
            study.tell(trials[i], state=optuna.trial.TrialState.PRUNED)
        if len(said) == 2:
            both += 1
            if said["ours"] == said["optuna"]:
                same += 1
            else:
                diffs.append(f"{c['id']} epoch {e}: ours {'prune' if said['ours'] else 'continue'}"
                             f", optuna {'prune' if said['optuna'] else 'continue'}")
        if e == len(c["values"]) - 1:  # the trial's last recorded epoch: it ends
            if i in alive["ours"]:
                ours.ask(f"end {c['id']} {c['status'].lower()}")
            if i in alive["optuna"]:
                if c["status"] == "SUCCEEDED":
                    study.tell(trials[i], v)
                else:
                    study.tell(trials[i], state=optuna.trial.TrialState.FAIL)
    outcome_same = sum(pruned_at["ours"].get(i) == pruned_at["optuna"].get(i)
                       for i in range(len(curves)))
    return {"decisions": both, "same": same, "trials_same": outcome_same,
            "pruned_ours": len(pruned_at["ours"]), "pruned_optuna": len(pruned_at["optuna"]),
            "diffs": diffs}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", default=os.path.join(here, "data", "pruner_curves.json"))
    ap.add_argument("--replay", default="build/bench/hypersweep_pruner_replay")
    ap.add_argument("--step-offset", type=int, default=1,
                    help="Optuna's step for epoch e is e + this (1, docs/PRUNERS.md); 0 is a "
                    "deliberately wrong mapping that must show differences (a check of the check)")
    args = ap.parse_args()
    if not os.access(args.replay, os.X_OK):
        sys.exit(f"--replay {args.replay}: not an executable (cmake --build build --target "
                 "hypersweep_pruner_replay)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curves = load_curves(args.export)
    statuses = {}
    for c in curves:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
    print(f"{os.path.basename(args.export)}: {len(curves)} trials "
          f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}), "
          f"{sum(len(c['values']) for c in curves)} epochs; optuna {optuna.__version__}")
    print("| setting | order | identical decisions | identical trial outcomes | pruned ours / optuna |")
    print("|---|---|---|---|---|")
    ours = Ours(args.replay)
    all_same = True
    try:
        for kind, params in SETTINGS:
            names = (("startup_trials", "warmup_epochs", "interval") if kind == "median"
                     else ("min_epochs", "reduction_factor"))
            setting = f"{kind} " + ", ".join(f"{n} {p}" for n, p in zip(names, params))
            for order, how in ORDERS:
                r = replay(curves, kind, params, how, ours, args.step_offset)
                all_same &= not r["diffs"]
                print(f"| {setting} | {order} | {r['same']}/{r['decisions']} "
                      f"({r['same'] / max(1, r['decisions']):.1%}) | "
                      f"{r['trials_same']}/{len(curves)} | "
                      f"{r['pruned_ours']} / {r['pruned_optuna']} |")
                for d in r["diffs"]:
                    print(f"|   difference: {d} | | | | |")
    finally:
        ours.close()
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
