#!/usr/bin/python3
"""Optuna 3.1 on SQLite doing the simulated-worker lifecycle of coordinator_bench.cc:
ask -> 10 trial.report() calls -> tell, from W worker processes sharing one SQLite file.
Prints one JSON object. Run with Debian's /usr/bin/python3 (python3-optuna)."""
import argparse
import json
import multiprocessing as mp
import os
import time

import optuna


def worker(storage, study_name, trials, reports, out):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=study_name, storage=storage)
    done = errors = 0
    first_error = ""
    for _ in range(trials):
        try:
            trial = study.ask()
            wd = trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
            for epoch in range(reports):
                trial.report(1.0 / (epoch + 1) + wd, epoch)
            study.tell(trial, 1.0 / reports + wd)
            done += 1
        except Exception as e:  # "database is locked" and friends
            errors += 1
            first_error = first_error or str(e).splitlines()[0][:200]
    out.put((done, errors, first_error))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--trials-per-worker", type=int, default=25)
    p.add_argument("--reports", type=int, default=10)
    p.add_argument("--db", default="/tmp/hs-bench/optuna.db")
    a = p.parse_args()
    os.makedirs(os.path.dirname(a.db), exist_ok=True)
    if os.path.exists(a.db):
        os.remove(a.db)
    storage = "sqlite:///" + a.db
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.create_study(study_name="bench", storage=storage, direction="minimize")
    out = mp.Queue()
    procs = [mp.Process(target=worker, args=(storage, "bench", a.trials_per_worker, a.reports, out))
             for _ in range(a.workers)]
    t0 = time.monotonic()
    for pr in procs:
        pr.start()
    results = [out.get() for _ in procs]
    for pr in procs:
        pr.join()
    s = time.monotonic() - t0
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    sample = next((r[2] for r in results if r[2]), "")
    print(json.dumps({"mode": "optuna", "optuna": optuna.__version__, "workers": a.workers,
                      "trials": done, "reports": done * a.reports, "errors": errors,
                      "seconds": round(s, 3), "trials_per_s": round(done / s, 2),
                      "reports_per_s": round(done * a.reports / s, 1), "error_sample": sample}))


if __name__ == "__main__":
    main()
