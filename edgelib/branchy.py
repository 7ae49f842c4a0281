"""BranchyNet training and early exit for the multi-exit AlexNet (notebook 03).

- ``train_branchy``: joint training of all exits (weighted sum of exit losses, BranchyNet),
  cached under ``data/cache/branchy/<key>/`` like every trained model.
- ``exit_accuracies``: accuracy of each exit alone (SAC-d reports 78.7 / 81.7 / 83.6 %).
- ``entropy_sweep``: BranchyNet's inference rule — leave at the first exit whose softmax entropy
  is below a threshold — as the threshold moves: accuracy, MACs per input, share leaving per exit.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from . import data, report, train
from .models.branchy_alexnet import BranchyAlexNet, early_exit, entropy
from .profiles import Profile


def branchy_config(profile: Profile, dataset: data.Cifar) -> dict:
    knobs = profile.edge
    return {"stage": "branchy", "model": "branchy_alexnet", **data.describe(dataset),
            "recipe": knobs.branchy.key(), "exit_weights": list(knobs.exit_weights),
            "seed": profile.seed, **train.hardware()}


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


@torch.no_grad()
def branch_macs(model: BranchyAlexNet) -> list[float]:
    """MACs of each exit's branch alone (input to that exit, no other branch tried)."""
    model = model.eval()
    out = []
    for e in range(1, model.num_exits + 1):
        with FlopCounterMode(display=False) as counter:
            model.run(torch.zeros(1, 3, 32, 32), e)
        out.append(counter.get_total_flops() / 2)
    return out


@torch.no_grad()
def layer_table(model: BranchyAlexNet) -> pd.DataFrame:
    """Every layer of every branch with its output shape and fp32 size for one 32×32 image."""
    rows = []
    for e in range(1, model.num_exits + 1):
        h = torch.zeros(1, 3, 32, 32)
        for i, layer in enumerate(model.branch(e), start=1):
            h = layer.module(h)
            rows.append({"exit": e, "index": i, "layer": layer.name, "type": layer.type,
                         "output shape": "×".join(map(str, h.shape[1:])),
                         "output kB": h[0].numel() * 4 / 1e3})
    return pd.DataFrame(rows)


def accuracies(logits: list[torch.Tensor], labels: torch.Tensor,
               mask: torch.Tensor | None = None) -> list[float]:
    """Accuracy (%) of each exit, on the images ``mask`` selects (all by default)."""
    mask = torch.ones(len(labels), dtype=torch.bool) if mask is None else mask
    return [100 * (z[mask].argmax(1) == labels[mask]).float().mean().item() for z in logits]


def halves(labels: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint class-stratified halves of a split (boolean masks): choose on the first,
    report on the second."""
    select = torch.zeros(len(labels), dtype=torch.bool)
    select[data.stratified_indices(labels, len(labels) // 2, seed)] = True
    return select, ~select


def cheapest_within(sweep: pd.DataFrame, reference_acc: float, points: float = 1.0) -> pd.Series:
    """The sweep row with the fewest MACs per input whose accuracy is at most ``points`` below
    ``reference_acc`` (fractions); None when no threshold gets there."""
    ok = sweep[sweep.accuracy >= reference_acc - points / 100]
    return None if ok.empty else ok.loc[ok.macs_per_input.idxmin()]


def claims(ours: list[float], paper: tuple[float, ...], test_size: int, epochs: int) -> list[dict]:
    """Paper-vs-here rows of notebook 03 (exit accuracies in %, ``test_size`` images)."""
    why = (f"{epochs} epochs (the profile's budget); our widths and layer choice are a guess "
           "at SAC-d's")
    rows = [report.claim(f"exit {e} accuracy (%)", paper[e - 1], round(ours[e - 1], 2),
                         report.within(ours[e - 1] - paper[e - 1], 1.0, why))
            for e in range(1, len(paper) + 1)]
    rows.append(report.claim("exit layers", "9 / 12 / 20", "9 / 12 / 20", report.REPRODUCED))
    # a later exit counts as more accurate when it leads by more than two standard errors
    se = [2 * (2 * (a / 100) * (1 - a / 100) / test_size) ** 0.5 * 100 for a in ours]
    better = [ours[i + 1] - ours[i] > max(se[i], se[i + 1]) for i in range(len(ours) - 1)]
    gaps = " ; ".join(f"exit {i + 2} − exit {i + 1}: {ours[i + 1] - ours[i]:+.2f} points"
                      for i in range(len(ours) - 1))
    verdict = report.REPRODUCED
    if not all(better):
        i = better.index(False)
        verdict = (f"{report.DIVERGES} (exit {i + 2} is not above exit {i + 1} by more than two "
                   f"standard errors, {max(se[i], se[i + 1]):.2f} points)")
    rows.append(report.claim("later exits more accurate",
                             " < ".join(f"{a:g}" for a in paper), gaps, verdict))
    return rows


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
