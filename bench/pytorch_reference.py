#!/usr/bin/python3
"""The Python PyTorch peer of `hypersweep-worker train` for benchmarks and reference values.

Same data preparation (Fashion-MNIST test split, x/255 standardised with the training mean/std),
same model and initialisation order, same per-epoch batch order (torch.randperm with the seed
hypersweep derives from (seed, epoch)), same 1cycle schedule (torch.optim.lr_scheduler.OneCycleLR),
same SGD. Prints one JSON line per epoch with samples_per_second measured over the training loop
only, like the C++ trainer.

Usage: /usr/bin/python3 bench/pytorch_reference.py --batch-size 256 --epochs 2 --threads 1 --max-lr 0.2

--residual FILE trains examples/models/make_residual_mlp.py's architecture in eager PyTorch
instead, starting from the weights saved in FILE (the TorchScript file a trial names with
`model: {torchscript: {path: FILE}}`): the reference for TorchScript models (docs/PERFORMANCE.md).
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


def mix_seed(seed, epoch, salt):
    """hypersweep's MixSeed (worker/trainer/trainer.cc)."""
    z = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + salt) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        t = torch.frombuffer(bytearray(data[16:16 + n * rows * cols]), dtype=torch.uint8)
        return t.view(n, 1, rows, cols).float().div_(255.0)
    return torch.frombuffer(bytearray(data[8:8 + n]), dtype=torch.uint8).long()


def build_model(hidden):
    layers = [nn.Flatten()]
    fan_in = 784
    for h in hidden:
        lin = nn.Linear(fan_in, h)
        nn.init.kaiming_normal_(lin.weight, a=0.0, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()]
        fan_in = h
    out = nn.Linear(fan_in, 10)
    nn.init.xavier_uniform_(out.weight)
    nn.init.zeros_(out.bias)
    layers.append(out)
    return nn.Sequential(*layers)


def load_residual(path):
    """The eager ResidualMlp with the initial weights of the TorchScript file at `path`."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                                    "models"))
    from make_residual_mlp import ResidualMlp
    state = torch.jit.load(path).state_dict()
    blocks = sum(1 for k in state if k.startswith("blocks.") and k.endswith(".weight"))
    model = ResidualMlp(hidden=state["inp.weight"].shape[0], blocks=blocks)
    model.load_state_dict(state)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-lr", type=float, default=0.2)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", default="128,128,128,128")
    ap.add_argument("--residual", help="a TorchScript file of make_residual_mlp.py's model")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    xtr = read_idx(f"{args.root}/train-images-idx3-ubyte.gz")
    ytr = read_idx(f"{args.root}/train-labels-idx1-ubyte.gz")
    xva = read_idx(f"{args.root}/t10k-images-idx3-ubyte.gz")
    yva = read_idx(f"{args.root}/t10k-labels-idx1-ubyte.gz")
    mean, std = xtr.mean(), xtr.std().clamp_min(1e-6)
    xtr.sub_(mean).div_(std)
    xva.sub_(mean).div_(std)
    n = xtr.shape[0]
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    torch.manual_seed(args.seed)
    if args.residual:
        model = load_residual(args.residual)
    else:
        model = build_model([int(h) for h in args.hidden.split(",")])
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9,
                          weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.max_lr,
                                                total_steps=steps_per_epoch * args.epochs)
    for epoch in range(args.epochs):
        torch.manual_seed(mix_seed(args.seed, epoch, 2))
        gen = torch.Generator()
        gen.manual_seed(mix_seed(args.seed, epoch, 1))
        perm = torch.randperm(n, generator=gen)
        model.train()
        loss_sum, seconds = 0.0, 0.0
        for b in range(steps_per_epoch):
            t0 = time.perf_counter()
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            x, y = xtr.index_select(0, idx), ytr.index_select(0, idx)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            lv = loss.item()
            seconds += time.perf_counter() - t0
            loss_sum += lv * idx.shape[0]
        model.eval()
        with torch.no_grad():
            logits = model(xva)
            val_loss = F.cross_entropy(logits, yva).item()
            acc = (logits.argmax(1) == yva).float().mean().item()
        print(json.dumps({"epoch": epoch, "train_loss": loss_sum / n, "val_loss": val_loss,
                          "val_accuracy": acc, "seconds": seconds,
                          "samples_per_second": n / seconds}), flush=True)


if __name__ == "__main__":
    main()
