"""BranchyNet training and early exit for the multi-exit AlexNet (notebook 03).

- ``train_branchy``: joint training of all exits (weighted sum of exit losses, BranchyNet),
  cached under ``data/cache/branchy/<key>/`` like every trained model.
- ``exit_accuracies``: accuracy of each exit alone (SAC-d reports 78.7 / 81.7 / 83.6 %).
- ``entropy_sweep``: BranchyNet's inference rule — leave at the first exit whose softmax entropy
  is below a threshold — as the threshold moves: accuracy, MACs per input, share leaving per exit.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from . import data, train
from .models.branchy_alexnet import BranchyAlexNet, early_exit, entropy
from .profiles import Profile


def branchy_config(profile: Profile, dataset: data.Cifar) -> dict:
    knobs = profile.edge
    return {"stage": "branchy", "model": "branchy_alexnet", "dataset": dataset.name,
            "source": dataset.source, "train_size": len(dataset.train),
            "test_size": len(dataset.test), "recipe": asdict(knobs.branchy),
            "exit_weights": list(knobs.exit_weights), "seed": profile.seed,
            "device": train.device().type}


def train_branchy(profile: Profile, dataset: data.Cifar,
                  progress: bool = True) -> tuple[BranchyAlexNet, dict]:
    """Train (or load from the cache) the profile's branchy AlexNet on ``dataset``."""
    knobs = profile.edge
    if knobs is None:
        raise ValueError(f"profile {profile.name!r} has no edge knobs (profiles.EdgeKnobs)")
    train.seed_everything(profile.seed)
    model = BranchyAlexNet(dataset.num_classes, width=knobs.branchy.width)
    loss = train.multi_exit_loss(knobs.exit_weights, knobs.branchy.label_smoothing)

    def metrics(trained: torch.nn.Module) -> dict:
        return {"exit_test_acc": exit_accuracies(trained, dataset.test)}

    return train.train_or_load("branchy", branchy_config(profile, dataset), model, dataset,
                               knobs.branchy, profile.seed, metrics, loss_fn=loss,
                               desc=f"branchy AlexNet on {dataset.name}", progress=progress)


def exit_logits(model: BranchyAlexNet, split: data.Split) -> list[torch.Tensor]:
    """Logits of every exit on ``split``; the model is left on the CPU, where splits run."""
    out = train.logits(model, split, all_exits=True)
    model.cpu()
    return out


def exit_accuracies(model: BranchyAlexNet, split: data.Split) -> list[float]:
    """Test accuracy of each exit taken alone (every input leaves there)."""
    return [(z.argmax(1) == split.labels).float().mean().item() for z in exit_logits(model, split)]


@torch.no_grad()
def exit_macs(model: BranchyAlexNet) -> list[float]:
    """MACs of one 32×32 input leaving at each exit, the shared trunk computed once.

    Leaving at exit i after trying exits 1…i−1 costs the layers of all those branches
    (the trunk once): that is what early exit spends on an input.
    """
    model = model.eval()
    x = torch.zeros(1, 3, 32, 32)
    spent, seen, cumulative = 0.0, set(), []
    for e in range(1, model.num_exits + 1):
        h = x
        for layer in model.branch(e):
            if layer.name not in seen:
                with FlopCounterMode(display=False) as counter:
                    out = layer.module(h)
                spent += counter.get_total_flops() / 2
                seen.add(layer.name)
            else:
                out = layer.module(h)
            h = out
        cumulative.append(spent)
    return cumulative


def entropy_sweep(logits: list[torch.Tensor], labels: torch.Tensor, macs: list[float],
                  points: int = 25) -> pd.DataFrame:
    """Accuracy vs average MACs per input as one entropy threshold (shared by the side exits)
    moves from 0 (everything goes to the main exit) to the maximum entropy (all leave at exit 1).
    """
    if points < 2:
        raise ValueError(f"need at least 2 thresholds, got {points}")
    top = float(np.log(logits[0].shape[1])) + 1e-6
    rows = []
    for t in np.linspace(0.0, top, points):
        taken = early_exit(logits, [t] * (len(logits) - 1))
        pred = torch.stack([z.argmax(1) for z in logits])[taken, torch.arange(len(labels))]
        share = torch.bincount(taken, minlength=len(logits)).float() / len(labels)
        rows.append({"threshold": float(t),
                     "accuracy": (pred == labels).float().mean().item(),
                     "macs_per_input": float(sum(s * m for s, m in zip(share.tolist(), macs))),
                     **{f"exit{i + 1}_share": s for i, s in enumerate(share.tolist())}})
    return pd.DataFrame(rows)


def mean_entropy_by_exit(logits: list[torch.Tensor], labels: torch.Tensor) -> pd.DataFrame:
    """Mean exit entropy of correctly and wrongly classified inputs (why entropy works)."""
    rows = []
    for i, z in enumerate(logits):
        h, ok = entropy(z), z.argmax(1) == labels
        rows.append({"exit": i + 1, "entropy | correct": h[ok].mean().item(),
                     "entropy | wrong": h[~ok].mean().item()})
    return pd.DataFrame(rows)
