#!/usr/bin/python3
"""Generates tests/data/schedule_fixtures.json from torch.optim.lr_scheduler (python3-torch).

Each case holds a hypersweep schedule spec, the run geometry, and the lr and momentum that PyTorch's
scheduler gives before each optimizer step. core/schedule.cc must reproduce them to 1e-6 relative.
Run: /usr/bin/python3 tools/gen_schedule_fixtures.py > tests/data/schedule_fixtures.json
"""
import json
import math

import torch
from torch.optim import lr_scheduler as S


def record(make_sched, steps, lr0=0.1, momentum=0.9):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr0, momentum=momentum)
    sched = make_sched(opt)
    lrs, moms = [], []
    for _ in range(steps):
        g = opt.param_groups[0]
        lrs.append(float(g["lr"]))
        moms.append(float(g["momentum"]))
        opt.step()
        sched.step()
    return lrs, moms


def case(name, schedule, spe, epochs, momentum, make_sched, steps=None, lr0=0.1):
    steps = steps or spe * epochs
    lrs, moms = record(make_sched, steps, lr0=lr0, momentum=momentum)
    return {"name": name, "schedule": schedule, "steps_per_epoch": spe, "epochs": epochs,
            "momentum": momentum, "lr": lrs, "momentum_values": moms}


def main():
    cases = []
    cases.append(case("constant", {"constant": {"lr": 0.05}}, 10, 3, 0.9,
                      lambda o: S.LambdaLR(o, lambda i: 1.0), lr0=0.05))
    cases.append(case("one_cycle_cos_default", {"one_cycle": {"max_lr": 0.1}}, 25, 4, 0.9,
                      lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=100)))
    cases.append(case("one_cycle_linear_design",
                      {"one_cycle": {"max_lr": 0.3, "pct_start": 0.3, "anneal_strategy": "linear",
                                     "div_factor": 10, "final_div_factor": 1000}}, 79, 3, 0.9,
                      lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=237, pct_start=0.3,
                                             anneal_strategy="linear", div_factor=10,
                                             final_div_factor=1000)))
    cases.append(case("one_cycle_three_phase",
                      {"one_cycle": {"max_lr": 1.0, "three_phase": True, "pct_start": 0.25}}, 50, 2, 0.9,
                      lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=100, three_phase=True,
                                             pct_start=0.25)))
    cases.append(case("one_cycle_no_momentum_cycle",
                      {"one_cycle": {"max_lr": 0.2, "cycle_momentum": False}}, 30, 2, 0.8,
                      lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=60, cycle_momentum=False)))
    cases.append(case("one_cycle_custom_momentum",
                      {"one_cycle": {"max_lr": 0.5, "base_momentum": 0.9, "max_momentum": 0.99,
                                     "total_steps": 80}}, 20, 4, 0.9,
                      lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=80, base_momentum=0.9,
                                             max_momentum=0.99)))
    cases.append(case("cyclic_triangular",
                      {"cyclic": {"base_lr": 0.01, "max_lr": 0.3, "step_size_up": 20}}, 25, 4, 0.9,
                      lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.3, step_size_up=20)))
    cases.append(case("cyclic_triangular2",
                      {"cyclic": {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 15,
                                  "step_size_down": 25, "mode": "triangular2"}}, 40, 4, 0.9,
                      lambda o: S.CyclicLR(o, base_lr=0.001, max_lr=0.1, step_size_up=15,
                                           step_size_down=25, mode="triangular2")))
    cases.append(case("cyclic_exp_range",
                      {"cyclic": {"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 10,
                                  "mode": "exp_range", "gamma": 0.99}}, 30, 3, 0.9,
                      lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=10,
                                           mode="exp_range", gamma=0.99)))
    cases.append(case("cyclic_epochs_no_momentum",
                      {"cyclic": {"base_lr": 0.01, "max_lr": 0.3, "step_size_up_epochs": 4,
                                  "cycle_momentum": False}}, 7, 12, 0.85,
                      lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.3, step_size_up=28,
                                           cycle_momentum=False)))
    cases.append(case("cyclic_momentum_range",
                      {"cyclic": {"base_lr": 0.05, "max_lr": 0.5, "step_size_up": 12,
                                  "base_momentum": 0.85, "max_momentum": 0.95}}, 10, 5, 0.9,
                      lambda o: S.CyclicLR(o, base_lr=0.05, max_lr=0.5, step_size_up=12,
                                           base_momentum=0.85, max_momentum=0.95)))
    cases.append(case("cosine_restarts_t0_30",
                      {"cosine_restarts": {"max_lr": 0.3, "t_0": 30}}, 20, 5, 0.9,
                      lambda o: S.CosineAnnealingWarmRestarts(o, T_0=30), lr0=0.3))
    cases.append(case("cosine_restarts_tmult2",
                      {"cosine_restarts": {"max_lr": 0.1, "t_0": 10, "t_mult": 2, "eta_min": 0.001}},
                      16, 10, 0.9,
                      lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=0.001),
                      lr0=0.1))
    cases.append(case("cosine_restarts_epochs",
                      {"cosine_restarts": {"max_lr": 0.3, "t_0_epochs": 1, "t_mult": 1, "eta_min": 0}},
                      13, 6, 0.9, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=13), lr0=0.3))
    for mode in ("exp", "linear"):
        lo, hi, n = 1e-7, 10.0, 100
        if mode == "exp":
            f = lambda i: (hi / lo) ** (min(i, n - 1) / (n - 1))
        else:
            f = lambda i: (lo + (hi - lo) * min(i, n - 1) / (n - 1)) / lo
        cases.append(case("lr_range_test_" + mode,
                          {"lr_range_test": {"min_lr": lo, "max_lr": hi, "mode": mode, "steps": n}}, n, 1, 0.9,
                          lambda o, f=f: S.LambdaLR(o, f), lr0=lo))
    print(json.dumps({"generator": "tools/gen_schedule_fixtures.py", "torch": torch.__version__,
                      "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
