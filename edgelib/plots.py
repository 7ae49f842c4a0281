"""One figure style and one way to save: ``save(fig, name, profile)`` writes PNG + PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from . import paths


def style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


def save(fig, name: str, profile) -> list[Path]:
    """Save ``fig`` as ``<figures>/<name>.png`` and ``.pdf`` for this profile; returns the paths."""
    folder = paths.figures_dir(getattr(profile, "name", profile))
    folder.mkdir(parents=True, exist_ok=True)
    out = [folder / f"{name}.png", folder / f"{name}.pdf"]
    for path in out:
        fig.savefig(path, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    return out
