#!/usr/bin/env python3
"""A plain PyTorch training loop run as a hypersweep command trial (docs/COMMAND_TRIALS.md).

An MLP on Fashion-MNIST (/usr/share/datasets/fashion-mnist) or, with --synthetic, on a small
generated two-class problem; the LR and momentum of every step come from the point's schedule
(hypersweep_trial.lr/momentum), and each epoch is reported with the program's own metric names
(val_nll, val_err). Exit 3 when the loss diverges, 2 for bad arguments.

  python3 train_fmnist.py [--synthetic] [--limit N]
"""

import argparse
import gzip
import math
import os
import struct
import sys

import torch

import hypersweep_trial as hs


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic & 0xFF)]
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(dims)


def fashion_mnist(root, limit):
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(root, name)):
                return os.path.join(root, name)
        raise FileNotFoundError(os.path.join(root, stem))

    x = read_idx(find("train-images-idx3-ubyte")).float().div(255).reshape(-1, 784)
    y = read_idx(find("train-labels-idx1-ubyte")).long()
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y, 10


def synthetic(limit, seed=7):
    g = torch.Generator().manual_seed(seed)
    n = limit or 2048
    x = torch.randn(n, 16, generator=g)
    y = (x[:, :4].sum(1) + 0.5 * torch.randn(n, generator=g) > 0).long()
    return x, y, 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()

    trial = hs.load()
    torch.manual_seed(trial["seed"])
    try:
        x, y, classes = synthetic(args.limit) if args.synthetic else fashion_mnist(args.root, args.limit)
    except FileNotFoundError as e:
        print("missing data file: %s" % e, file=sys.stderr)
        return hs.USER_ERROR
    n_val = len(x) // 5
    xv, yv, xt, yt = x[:n_val], y[:n_val], x[n_val:], y[n_val:]
    bs = trial["batch_size"]
    steps_per_epoch = math.ceil(len(xt) / bs)
    if trial["steps_per_epoch"] != steps_per_epoch:
        print("the sweep's command.steps_per_epoch is %d; this data has %d batches per epoch"
              % (trial["steps_per_epoch"], steps_per_epoch), file=sys.stderr)
        return hs.USER_ERROR

    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, classes))
    opt = torch.optim.SGD(model.parameters(), lr=hs.lr(0), momentum=hs.momentum(0),
                          weight_decay=trial["weight_decay"])
    start = 0
    ckpt = os.path.join(hs.checkpoint_dir(), "last.pt")
    if hs.resume() and os.path.exists(ckpt):
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["epoch"] + 1

    if hs.mode() == "lr_range":
        step = 0
        for epoch in range(1000):
            order = torch.randperm(len(xt))
            for i in range(steps_per_epoch):
                if step >= hs.steps():
                    return 0
                for g in opt.param_groups:
                    g["lr"], g["momentum"] = hs.lr(step), hs.momentum(step)
                idx = order[i * bs:(i + 1) * bs]
                loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                hs.report_lr_range(hs.lr(step), loss.item())
                step += 1
        return 0

    for epoch in range(start, trial["epochs"]):
        model.train()
        order = torch.randperm(len(xt))
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for g in opt.param_groups:
                g["lr"], g["momentum"] = hs.lr(step), hs.momentum(step)
            idx = order[i * bs:(i + 1) * bs]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            if not torch.isfinite(loss):
                print("loss diverged at step %d" % step, file=sys.stderr)
                return hs.DIVERGED
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            val_nll = torch.nn.functional.cross_entropy(out, yv).item()
            val_err = (out.argmax(1) != yv).float().mean().item()
        if not math.isfinite(val_nll):
            return hs.DIVERGED
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch}, ckpt)
        print("epoch %d done" % epoch)  # not a report: goes to the trial's log
        hs.report(epoch=epoch, val_nll=val_nll, val_err=val_err, lr=hs.lr(step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
