"""hypersweep_trial: the standard-library helper for command trials (docs/COMMAND_TRIALS.md).

A program that hypersweep runs as a command trial reads its point and reports epochs with it:

    import hypersweep_trial as hs
    trial = hs.load()                  # the resolved point: trial["lr"], trial["batch_size"], ...
    for epoch in range(trial["epochs"]):
        for i, batch in enumerate(batches):
            step = epoch * steps_per_epoch + i
            set_lr(hs.lr(step)); set_momentum(hs.momentum(step))   # the point's exact schedule
            ...
        hs.report(epoch=epoch, val_loss=v, my_metric=m)            # one JSON line on stdout

Exit codes: 0 succeeded, 3 diverged (hs.DIVERGED), 2 user error (hs.USER_ERROR), anything else is
a retryable failure. Copy this file next to your program (it has no dependencies).
"""

import csv
import json
import math
import os
import sys

DIVERGED = 3
USER_ERROR = 2

_trial = None
_table = None


def load(path=None):
    """The point as a dict (HYPERSWEEP_TRIAL): lr, max_lr, base_lr, momentum, weight_decay,
    batch_size, epochs, seed, fold, folds, schedule_name, steps_per_epoch, mode, resume,
    checkpoint_dir, trial_id, attempt, name, and "spec" (the whole canonical trial spec)."""
    global _trial
    if _trial is None or path is not None:
        path = path or os.environ.get("HYPERSWEEP_TRIAL")
        if not path:
            raise RuntimeError("HYPERSWEEP_TRIAL is not set: run me as a hypersweep command trial")
        with open(path, encoding="utf-8") as f:
            _trial = json.load(f)
    return _trial


def _schedule():
    global _table
    if _table is None:
        path = os.environ.get("HYPERSWEEP_SCHEDULE")
        if not path:
            raise RuntimeError(
                "HYPERSWEEP_SCHEDULE is not set: give the sweep's command a steps_per_epoch")
        lrs, moms = [], []
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if int(row["step"]) != len(lrs):
                    raise ValueError("%s: step %s out of order" % (path, row["step"]))
                lrs.append(float(row["lr"]))
                moms.append(float(row["momentum"]))
        _table = (lrs, moms)
    return _table


def steps():
    """How many steps the schedule table covers (epochs x steps_per_epoch)."""
    return len(_schedule()[0])


def lr(step):
    """The learning rate for optimizer step `step` (0-based) of this point's schedule."""
    lrs = _schedule()[0]
    if not 0 <= step < len(lrs):
        raise IndexError("step %d outside the schedule's %d steps" % (step, len(lrs)))
    return lrs[step]


def momentum(step):
    """The momentum (or Adam beta1) for step `step`: cycled by 1cycle/cyclic, else the point's."""
    moms = _schedule()[1]
    if not 0 <= step < len(moms):
        raise IndexError("step %d outside the schedule's %d steps" % (step, len(moms)))
    return moms[step]


def mode():
    """"train", or "lr_range" for an LR range test (report with report_lr_range)."""
    return os.environ.get("HYPERSWEEP_MODE", "train")


def checkpoint_dir():
    """This trial's own directory for checkpoints; it survives a requeue on the same worker (or
    any worker when --checkpoint-dir is shared)."""
    return os.environ.get("HYPERSWEEP_CHECKPOINT_DIR", ".")


def resume():
    """True when checkpoint_dir() holds files from an earlier attempt of this trial."""
    return os.environ.get("HYPERSWEEP_RESUME", "0") == "1"


def _finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def report(epoch, **metrics):
    """Reports one epoch: {"epoch": epoch, name: value, ...} on stdout, flushed. Epochs increase;
    names are 1-64 of [A-Za-z0-9_.-]; values are numbers (NaN/inf become null)."""
    line = {"epoch": int(epoch)}
    for name, value in metrics.items():
        line[name] = _finite_or_none(value)
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def report_lr_range(lr, loss):
    """One LR range-test step (HYPERSWEEP_MODE=lr_range): the step's LR and its batch loss."""
    sys.stdout.write(json.dumps({"lr_range": {"lr": float(lr), "loss": _finite_or_none(loss)}}) + "\n")
    sys.stdout.flush()
