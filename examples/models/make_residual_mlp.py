#!/usr/bin/python3
"""Writes examples/models/residual_mlp.pt: a residual MLP for Fashion-MNIST as TorchScript.

The built-in `mlp` is a plain stack of layers; this one adds its blocks' outputs to their inputs
(skip connections), which the built-ins cannot express. Train it with
    hypersweep-worker train --trial examples/trials/fmnist-torchscript.yaml

The contract (docs/TORCHSCRIPT.md): forward takes the dataset's rows as the
worker holds them, for Fashion-MNIST and MNIST float [N, 1, 28, 28] standardised pixels, and
returns [N, 10] logits. The worker switches train()/eval() on the module, so dropout and batch
norm behave as in Python. Needs python3-torch (Debian) only to make the file, never to train.
"""
import argparse
import os

import torch
from torch import nn


class ResidualMlp(nn.Module):
    def __init__(self, inputs: int = 28 * 28, hidden: int = 64, blocks: int = 2,
                 classes: int = 10):
        super().__init__()
        self.inp = nn.Linear(inputs, hidden)
        self.blocks = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(blocks)])
        self.out = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x.flatten(1)))
        for block in self.blocks:
            h = h + torch.relu(block(h))  # the skip connection
        return self.out(h)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "residual_mlp.pt"))
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="the initial weights saved in the file")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = ResidualMlp(hidden=a.hidden, blocks=a.blocks)
    torch.jit.script(model).save(a.out)
    n = sum(t.numel() for t in model.parameters())
    print(f"wrote {a.out}: {n} parameters")


if __name__ == "__main__":
    main()
