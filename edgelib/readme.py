"""Regenerate the README's results tables from the notebooks' paper-vs-here tables.

Each executed notebook writes ``figures/NN_paper_vs_here.csv`` (claim, paper, ours, verdict).
``python -m edgelib.readme`` rewrites every block of README.md between

    <!-- results NN,MM,... -->
    ...
    <!-- /results -->

with those notebooks' rows, so the README says what the committed notebooks say, word for word.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from . import paths, report

BLOCK = re.compile(r"(<!-- results ([0-9, ]+) -->\n)(.*?)(<!-- /results -->)", re.S)


def rows_of(notebook: str, figures: Path) -> pd.DataFrame:
    """The paper-vs-here table of notebook ``NN``, with a column naming it."""
    path = figures / f"{notebook}_paper_vs_here.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: execute notebook {notebook} first")
    table = pd.read_csv(path, dtype=str).fillna("—")
    if list(table.columns) != list(report.CLAIM_COLUMNS):
        raise ValueError(f"{path}: columns {list(table.columns)}, expected {report.CLAIM_COLUMNS}")
    table.insert(0, "notebook", notebook)
    return table


def render(text: str, figures: Path) -> str:
    """``text`` with every results block replaced by its notebooks' rows."""
    def block(match: re.Match) -> str:
        notebooks = [n.strip() for n in match.group(2).split(",") if n.strip()]
        table = pd.concat([rows_of(n, figures) for n in notebooks], ignore_index=True)
        return match.group(1) + report.to_markdown(table) + "\n" + match.group(4)

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edgelib.readme", description=__doc__)
    ap.add_argument("--readme", default=str(paths.ROOT / "README.md"))
    ap.add_argument("--figures", default=str(paths.figures_dir("cpu")))
    args = ap.parse_args(argv)
    readme = Path(args.readme)
    readme.write_text(render(readme.read_text(), Path(args.figures)))
    print(f"results tables of {readme} regenerated from {args.figures}")


if __name__ == "__main__":
    main()
