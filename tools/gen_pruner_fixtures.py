#!/usr/bin/python3
"""Generates tests/data/pruner_fixtures.json: Optuna's own pruning decisions on scripted studies.

Each case runs several trials concurrently through optuna's ask/tell interface with
MedianPruner or SuccessiveHalvingPruner (ASHA: min_early_stopping_rate=0), in a random
interleaving of their reports, and records every report with the answer of trial.should_prune().
A trial that is pruned reports nothing more (told PRUNED); a trial that reaches its last step is
told COMPLETE. tests/server/pruner_test.cc replays the same events through SweepPruner (one trial
per point) and expects the same answers.

Steps: Optuna's step s is our epoch s - 1 (the epochs trained), so the study reports steps 1..E.

Run: /usr/bin/python3 tools/gen_pruner_fixtures.py > tests/data/pruner_fixtures.json
"""
import json
import random

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_case(name, pruner_spec, direction, n_trials, epochs, seed, decimals, concurrency):
    rng = random.Random(seed)
    if "median" in pruner_spec:
        m = pruner_spec["median"]
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=m["startup_trials"],
            n_warmup_steps=m["warmup_epochs"],
            interval_steps=m["interval"],
        )
    else:
        a = pruner_spec["asha"]
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=a["min_epochs"],
            reduction_factor=a["reduction_factor"],
            min_early_stopping_rate=0,
        )
    study = optuna.create_study(direction=direction, pruner=pruner)
    # Each trial's planned curve: a level plus noise, rounded so that ties happen.
    curves = []
    for _ in range(n_trials):
        level = rng.uniform(0.2, 1.0)
        slope = rng.uniform(0.0, 0.1)
        curves.append([round(level - slope * s + rng.uniform(-0.05, 0.05), decimals)
                       for s in range(epochs)])
    events = []
    pending = list(range(n_trials))  # not started yet, in order
    running = {}  # index -> (optuna trial, next step)
    while pending or running:
        while pending and len(running) < concurrency:
            i = pending.pop(0)
            running[i] = (study.ask(), 1)
        i = rng.choice(sorted(running))
        trial, step = running[i]
        value = curves[i][step - 1]
        trial.report(value, step)
        prune = bool(trial.should_prune())
        events.append({"trial": i, "epoch": step - 1, "value": value, "prune": prune})
        if prune:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            del running[i]
        elif step == epochs:
            study.tell(trial, value)
            del running[i]
        else:
            running[i] = (trial, step + 1)
    return {"name": name, "pruner": pruner_spec, "maximize": direction == "maximize",
            "trials": n_trials, "epochs": epochs, "events": events}


def main():
    cases = []
    median = lambda s, w, i: {"median": {"startup_trials": s, "warmup_epochs": w, "interval": i}}
    asha = lambda m, r: {"asha": {"min_epochs": m, "reduction_factor": r}}
    cases.append(run_case("median_defaults", median(5, 0, 1), "minimize", 20, 8, 1, 3, 4))
    cases.append(run_case("median_warmup_interval", median(3, 2, 3), "minimize", 20, 12, 2, 3, 3))
    cases.append(run_case("median_maximize_ties", median(2, 1, 1), "maximize", 20, 6, 3, 1, 5))
    cases.append(run_case("median_sequential", median(4, 0, 2), "minimize", 15, 7, 4, 2, 1))
    cases.append(run_case("asha_r3", asha(1, 3), "minimize", 30, 9, 5, 3, 4))
    cases.append(run_case("asha_r2_min2", asha(2, 2), "minimize", 25, 16, 6, 3, 6))
    cases.append(run_case("asha_maximize_ties", asha(1, 3), "maximize", 30, 9, 7, 1, 5))
    cases.append(run_case("asha_sequential", asha(1, 4), "minimize", 20, 16, 8, 2, 1))
    print(json.dumps({"generator": "tools/gen_pruner_fixtures.py", "optuna": optuna.__version__,
                      "cases": cases}, separators=(",", ":")).replace('{"trial"', '\n{"trial"'))


if __name__ == "__main__":
    main()
