#!/usr/bin/python3
"""Writes the tiny TorchScript fixtures of tests/worker/torchscript_test.cc.

Run with Debian's python3-torch (a fixture dependency only; the tests read the committed .pt
files and never need Python):  /usr/bin/python3 tests/data/torchscript/make_fixtures.py
Each module takes the synthetic dataset's rows, float [N, 12].
"""
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = 12


class ResidualMlp(nn.Module):
    """Three classes; a skip connection and dropout (train/eval switching must reach it)."""

    def __init__(self, classes: int):
        super().__init__()
        self.inp = nn.Linear(FEATURES, 32)
        self.block = nn.Linear(32, 32)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(32, classes)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + self.drop(torch.relu(self.block(h)))
        return self.out(h)


class OneLogit(nn.Module):
    """Binary: returns [N], one logit per row, with a batch norm (a buffer to checkpoint)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(FEATURES, 16)
        self.bn = nn.BatchNorm1d(16)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.fc(x)))).squeeze(1)


class NoParameters(nn.Module):
    def forward(self, x):
        return x[:, :3] * 2.0


def main():
    torch.manual_seed(0)
    torch.jit.script(ResidualMlp(3)).save(os.path.join(HERE, "residual_mlp3.pt"))
    # The right rows but five logits: does not fit a three-class task.
    torch.jit.script(ResidualMlp(5)).save(os.path.join(HERE, "residual_mlp5.pt"))
    # A traced module works as well as a scripted one.
    torch.jit.trace(OneLogit().eval(), torch.randn(4, FEATURES)).save(
        os.path.join(HERE, "one_logit_traced.pt"))
    torch.jit.script(NoParameters()).save(os.path.join(HERE, "no_parameters.pt"))


if __name__ == "__main__":
    main()
