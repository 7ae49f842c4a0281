"""Tables of results: paper beside ours, a verdict per row, saved as CSV and Markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import paths

REPRODUCED, DIVERGES, NEEDS = "reproduced", "diverges", "needs GPU or network"


def verdict(ours: float | None, paper: float | None, tolerance: float,
            why: str = "", missing: str = NEEDS) -> str:
    """'reproduced' when |ours − paper| ≤ tolerance, else 'diverges (why)'.

    Where we have no measurement, ``missing`` says what it would take.
    """
    if paper is None or (isinstance(paper, float) and pd.isna(paper)):
        return "no paper number"
    if ours is None or (isinstance(ours, float) and pd.isna(ours)):
        return missing
    if abs(ours - paper) <= tolerance:
        return REPRODUCED
    gap = f"{ours - paper:+.2f}"
    return f"{DIVERGES} ({gap}{'; ' + why if why else ''})"


def save_table(df: pd.DataFrame, name: str, profile, floatfmt: str = ".3g") -> list[Path]:
    """Write ``df`` to ``<figures>/<name>.csv`` and ``.md`` for this profile."""
    folder = paths.figures_dir(getattr(profile, "name", profile))
    folder.mkdir(parents=True, exist_ok=True)
    csv, md = folder / f"{name}.csv", folder / f"{name}.md"
    df.to_csv(csv, index=False)
    md.write_text(to_markdown(df, floatfmt) + "\n")
    return [csv, md]


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """A GitHub Markdown table (no extra dependency on ``tabulate``)."""
    def cell(v):
        if isinstance(v, float):
            return "—" if pd.isna(v) else format(v, floatfmt)
        return "—" if v is None else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |",
             "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)
