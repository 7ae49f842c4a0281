"""A wide, shallow CIFAR network in the style of Keller Jordan's airbench (2024).

Three blocks of (conv → max-pool → BN → GELU → conv → BN → GELU) with 64, 256, 256 filters after
a 3×3 stem; no residual connections. Wide convolutions use two CPU cores far better than the
16-channel layers of the CIFAR ResNets, so it learns more per minute here. It is not airbench
itself (a 3×3 stem with batch norm instead of a 2×2 whitening conv, average instead of max
pooling at the head); airbench's training tricks are ``Recipe`` switches of the project's one
training loop (``edgelib.tricks``, measured by ``edgelib.recipe_bench``). The cut for the
two-level architecture is after block2.
"""

from __future__ import annotations

from torch import nn

from .staged import PoolLinearHead, StagedNet


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2),
        nn.BatchNorm2d(cout), nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU())


def cifarnet(num_classes: int = 10, width: int = 64) -> StagedNet:
    """``width`` scales every layer (64 → filters 32/64/256/256 as in airbench94)."""
    w = [width // 2, width, 4 * width, 4 * width]
    stages = {
        "stem": nn.Sequential(nn.Conv2d(3, w[0], 3, padding=1, bias=False),
                              nn.BatchNorm2d(w[0]), nn.GELU()),
        "block1": _block(w[0], w[1]),
        "block2": _block(w[1], w[2]),
        "block3": _block(w[2], w[3]),
        "head": PoolLinearHead(w[3], num_classes),
    }
    return StagedNet(stages, cut="block2", family="cifarnet")
