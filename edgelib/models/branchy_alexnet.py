"""A multi-exit (BranchyNet) AlexNet for 32×32 CIFAR-10, enumerated layer by layer.

SAC-d (Niu, Teng, Han, Zou) uses an AlexNet with three exits whose branches have 9, 12 and 20
layers, exit 3 being the main branch; Edgent (Li, Zhou, Chen) a branchy AlexNet with more exits.
Every layer boundary is a candidate partition point, so each branch is a flat list of single
layers — conv, ReLU, max-pool, LRN, dropout, FC (an FC layer flattens its input first) — and
``run(x, exit, start, stop)`` executes any contiguous slice of one branch.

Our enumeration (SAC-d does not list its layers; widths are scaled to 32×32 inputs)::

    trunk   1 conv1 5×5/64  2 relu  3 pool  4 lrn  | 5 conv2 5×5/128  6 relu  7 pool  8 lrn
    exit 1  trunk[1..4] + conv 3×3/32, relu, pool, dropout, fc             = 9 layers
    exit 2  trunk[1..8] + conv 3×3/64, relu, pool, fc                      = 12 layers
    exit 3  trunk[1..8] + conv3 3×3/192, relu, conv4 3×3/192, relu,
            conv5 3×3/128, relu, pool, dropout, fc6 512, relu, dropout, fc7 = 20 layers

A branch's partition point p ∈ {0, …, len(branch)}: p = 0 sends the raw image, p = len(branch)
only the result. Layers are shared modules: the trunk's layers are the same objects in all three
branches, so the exits are trained jointly (weighted sum of exit losses, as BranchyNet).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

EXIT_LAYERS = (9, 12, 20)  # SAC-d: the three branches' layer counts
LAYER_TYPES = ("conv", "relu", "pool", "lrn", "dropout", "fc")


@dataclass(frozen=True)
class Layer:
    """One enumerated layer of a branch: its name, its type and the module that runs it."""

    name: str
    type: str
    module: nn.Module


class FC(nn.Module):
    """Flatten, then a linear layer: one "fully connected" layer in Edgent's table."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.linear = nn.Linear(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(x, 1))


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


def _lrn() -> nn.LocalResponseNorm:
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)  # Krizhevsky et al.


class BranchyAlexNet(nn.Module):
    """Three exits; ``forward`` returns the logits of every exit (a list, exit 1 first)."""

    def __init__(self, num_classes: int = 10, width: int = 64, dropout: float = 0.5):
        super().__init__()
        w = {"c1": width, "c2": 2 * width, "c3": 3 * width, "c5": 2 * width,
             "b1": width // 2, "b2": width, "fc6": 8 * width}
        trunk = [("conv1", "conv", _conv(3, w["c1"], 5)), ("relu1", "relu", nn.ReLU()),
                 ("pool1", "pool", nn.MaxPool2d(3, 2, 1)), ("lrn1", "lrn", _lrn()),
                 ("conv2", "conv", _conv(w["c1"], w["c2"], 5)), ("relu2", "relu", nn.ReLU()),
                 ("pool2", "pool", nn.MaxPool2d(3, 2, 1)), ("lrn2", "lrn", _lrn())]
        exit1 = [("b1_conv", "conv", _conv(w["c1"], w["b1"], 3)), ("b1_relu", "relu", nn.ReLU()),
                 ("b1_pool", "pool", nn.MaxPool2d(3, 2, 1)),
                 ("b1_dropout", "dropout", nn.Dropout(dropout)),
                 ("b1_fc", "fc", FC(w["b1"] * 8 * 8, num_classes))]
        exit2 = [("b2_conv", "conv", _conv(w["c2"], w["b2"], 3)), ("b2_relu", "relu", nn.ReLU()),
                 ("b2_pool", "pool", nn.MaxPool2d(3, 2, 1)),
                 ("b2_fc", "fc", FC(w["b2"] * 4 * 4, num_classes))]
        main = [("conv3", "conv", _conv(w["c2"], w["c3"], 3)), ("relu3", "relu", nn.ReLU()),
                ("conv4", "conv", _conv(w["c3"], w["c3"], 3)), ("relu4", "relu", nn.ReLU()),
                ("conv5", "conv", _conv(w["c3"], w["c5"], 3)), ("relu5", "relu", nn.ReLU()),
                ("pool5", "pool", nn.MaxPool2d(3, 2, 1)),
                ("dropout5", "dropout", nn.Dropout(dropout)),
                ("fc6", "fc", FC(w["c5"] * 4 * 4, w["fc6"])), ("relu6", "relu", nn.ReLU()),
                ("dropout6", "dropout", nn.Dropout(dropout)),
                ("fc7", "fc", FC(w["fc6"], num_classes))]
        self.layers = nn.ModuleDict({name: m for name, _, m in trunk + exit1 + exit2 + main})
        types = {name: t for name, t, _ in trunk + exit1 + exit2 + main}
        names = [[n for n, _, _ in trunk[:4] + exit1], [n for n, _, _ in trunk + exit2],
                 [n for n, _, _ in trunk + main]]
        self.branches = [[Layer(n, types[n], self.layers[n]) for n in branch] for branch in names]
        assert tuple(len(b) for b in self.branches) == EXIT_LAYERS
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    @property
    def num_exits(self) -> int:
        return len(self.branches)

    def branch(self, exit: int) -> list[Layer]:
        """The layers of exit ``exit`` (1-based, as in the papers), input to output."""
        if not isinstance(exit, int) or not 1 <= exit <= self.num_exits:
            raise ValueError(f"exit must be 1…{self.num_exits}, got {exit!r}")
        return self.branches[exit - 1]

    def run(self, x: torch.Tensor, exit: int, start: int = 0, stop: int | None = None
            ) -> torch.Tensor:
        """Layers [start, stop) of exit ``exit``'s branch applied to ``x``.

        ``run(run(x, e, 0, p), e, p)`` equals ``run(x, e)`` for every partition point p.
        """
        layers = self.branch(exit)
        stop = len(layers) if stop is None else stop
        if not 0 <= start <= stop <= len(layers):
            raise ValueError(f"partition range [{start}, {stop}) is outside 0…{len(layers)} "
                             f"for exit {exit}")
        for layer in layers[start:stop]:
            x = layer.module(x)
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every exit, computing the shared trunk once."""
        trunk1 = self.run(x, 1, 0, 4)
        trunk2 = self.run(trunk1, 2, 4, 8)
        return [self.run(trunk1, 1, 4), self.run(trunk2, 2, 8), self.run(trunk2, 3, 8)]


def branchy_alexnet(num_classes: int = 10, width: int = 64) -> BranchyAlexNet:
    return BranchyAlexNet(num_classes, width)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of softmax(logits), one value per row: BranchyNet's exit test."""
    logp = torch.log_softmax(logits.float(), dim=1)
    return -(logp.exp() * logp).sum(1)


def early_exit(exit_logits: list[torch.Tensor], thresholds: list[float]) -> torch.Tensor:
    """Index (0-based) of the exit each input leaves at: the first whose entropy < threshold.

    ``thresholds`` has one value per exit but the last (the main branch takes what is left).
    """
    if len(thresholds) != len(exit_logits) - 1:
        raise ValueError(f"need {len(exit_logits) - 1} thresholds, got {len(thresholds)}")
    taken = torch.full((len(exit_logits[0]),), len(exit_logits) - 1, dtype=torch.long)
    undecided = torch.ones(len(taken), dtype=torch.bool)
    for i, (z, t) in enumerate(zip(exit_logits[:-1], thresholds)):
        leave = undecided & (entropy(z) < t)
        taken[leave] = i
        undecided &= ~leave
    return taken
