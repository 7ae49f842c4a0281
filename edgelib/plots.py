"""One figure style and one way to save: ``save(fig, name, profile)`` writes PNG + PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from . import paths


def style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})
    pd.set_option("display.max_colwidth", None)  # verdicts and reasons are read whole


def plain_log_ticks(*axes) -> None:
    """Plain numbers (0.5, 2, 10 …) instead of 10^x on the log axes given."""
    for axis in axes:
        axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(mticker.NullFormatter())


def integer_ticks(*axes) -> None:
    """Integer ticks only on the (discrete) axes given: epochs, K, exits."""
    for axis in axes:
        axis.set_major_locator(mticker.MaxNLocator(integer=True))


def save(fig, name: str, profile) -> None:
    """Save ``fig`` as ``<figures>/<name>.png`` and ``.pdf`` for this profile (``paths_of``).

    Returns nothing, so that a notebook cell ending with it prints no list of paths.
    """
    folder = paths.figures_dir(getattr(profile, "name", profile))
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths_of(name, profile):
        fig.savefig(path, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)


def paths_of(name: str, profile) -> list[Path]:
    """Where ``save`` writes the figure ``name`` for this profile (PNG, PDF)."""
    folder = paths.figures_dir(getattr(profile, "name", profile))
    return [folder / f"{name}.png", folder / f"{name}.pdf"]


def infinity_row(ax, below: float, row: float, label: str = "∞") -> None:
    """On a log y axis, give everything above ``below`` to one row that stands for ∞: a dotted
    line at ``below``, a single tick labelled ``label`` at ``row`` and no finite tick above the
    line. The row is a label, not part of the scale (the axis is not broken)."""
    import numpy as np
    from matplotlib.ticker import NullFormatter

    lo, hi = ax.get_ylim()
    ax.axhline(below, color="k", lw=0.8, ls=":")
    decades = 10.0 ** np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(below)) + 1)
    major = [d for d in decades if lo <= d < below]
    minor = [k * d for d in decades for k in range(2, 10) if lo <= k * d < below]
    ax.set_yticks(major + [row], [f"$10^{{{np.log10(d):.0f}}}$" for d in major] + [label])
    ax.set_yticks(minor, minor=True)
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(lo, hi)
