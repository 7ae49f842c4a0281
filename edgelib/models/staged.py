"""A network as an ordered list of named stages, so that any stage boundary can be a cut.

The two-level architecture cuts a backbone after a middle stage (ResNet after conv3_x,
DenseNet after transition2): the device runs the stages up to the cut and uploads the feature
map, an edge server runs the rest. ``StagedNet`` makes that a one-liner for every backbone.
"""

from __future__ import annotations

import torch
from torch import nn


class StagedNet(nn.Module):
    """``forward(x)`` runs every stage in order; ``head_until`` / ``tail_from`` split it."""

    def __init__(self, stages: dict[str, nn.Module], cut: str, family: str):
        super().__init__()
        self.stages = nn.ModuleDict(stages)
        if cut not in self.stages:
            raise ValueError(f"cut {cut!r} is not a stage; stages are {list(self.stages)}")
        self.cut = cut  # the paper's default cut point
        self.family = family

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages)

    def _index(self, stage: str) -> int:
        try:
            return self.stage_names.index(stage)
        except ValueError:
            raise ValueError(f"unknown stage {stage!r}; stages are {self.stage_names}") from None

    def head_until(self, x: torch.Tensor, stage: str | None = None) -> torch.Tensor:
        """Run the stages up to and including ``stage`` (default: the paper's cut)."""
        last = self._index(stage or self.cut)
        for module in list(self.stages.values())[: last + 1]:
            x = module(x)
        return x

    def tail_from(self, feature: torch.Tensor, stage: str | None = None) -> torch.Tensor:
        """Run the stages after ``stage`` on the feature map it produced."""
        first = self._index(stage or self.cut) + 1
        for module in list(self.stages.values())[first:]:
            feature = module(feature)
        return feature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.stages.values():
            x = module(x)
        return x

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled feature vector before the final classifier (embeddings for issue 3)."""
        for module in list(self.stages.values())[:-1]:
            x = module(x)
        return self.stages["head"].features(x)


class PoolLinearHead(nn.Module):
    """Global average pooling then a linear classifier; ``features`` stops before the linear."""

    def __init__(self, channels: int, num_classes: int, pre: nn.Module | None = None):
        super().__init__()
        self.pre = pre or nn.Identity()
        self.fc = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
