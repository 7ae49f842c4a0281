"""CIFAR ResNets of He et al. 2016, §4.2 (ResNet-20/32/44/56/110), for the cpu profile.

Three stages of n basic blocks with 16, 32, 64 filters on 32×32, 16×16, 8×8 maps, depth 6n+2.
Shortcuts are **option A** as in the paper's CIFAR experiments: identity, and where the shape
changes, stride-2 subsampling with zero-padded extra channels (no parameters). So ResNet-20 has
0.27 M parameters and ResNet-56 0.85 M, matching the paper's Table 6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .staged import PoolLinearHead, StagedNet

DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}


class OptionAShortcut(nn.Module):
    """Identity shortcut that subsamples by 2 and zero-pads the new channels."""

    def __init__(self, extra_channels: int):
        super().__init__()
        self.extra = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::2, ::2]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        needs_projection = stride != 1 or cin != cout
        self.shortcut = OptionAShortcut(cout - cin) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def cifar_resnet(name: str, num_classes: int = 10, width: int = 16) -> StagedNet:
    """ResNet-(6n+2) for 32×32 inputs; ``width`` is the first stage's filters (16 in the paper)."""
    n = DEPTHS[name]
    widths = [width, 2 * width, 4 * width]
    stages: dict[str, nn.Module] = {
        "stem": nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                              nn.ReLU(inplace=True)),
    }
    cin = width
    for i, cout in enumerate(widths):
        blocks = [BasicBlock(cin if j == 0 else cout, cout, 2 if (i > 0 and j == 0) else 1)
                  for j in range(n)]
        stages[f"stage{i + 1}"] = nn.Sequential(*blocks)
        cin = cout
    stages["head"] = PoolLinearHead(cin, num_classes)
    net = StagedNet(stages, cut="stage2", family="cifar_resnet")
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
    return net
