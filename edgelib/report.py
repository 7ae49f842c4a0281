"""Tables of results: paper beside ours, a verdict per row, saved as CSV and Markdown."""

from __future__ import annotations


import pandas as pd

from . import paths

REPRODUCED, DIVERGES, NEEDS = "reproduced", "diverges", "needs GPU or network"
# a claim that could not be tested because nothing in the measurement met its conditions
NOTHING_FEASIBLE = "not tested: nothing feasible"
CLAIM_COLUMNS = ("claim", "paper", "ours", "verdict")


def claim(what: str, paper, ours, verdict: str) -> dict:
    """One row of a paper-vs-here table."""
    return {"claim": what, "paper": paper, "ours": ours, "verdict": verdict}


def claims(rows: list[dict], name: str | None = None, profile=None) -> pd.DataFrame:
    """The paper-vs-here table of a notebook (saved as ``name`` when given)."""
    table = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    bad = [r for r in rows if set(r) != set(CLAIM_COLUMNS) or not r["verdict"]]
    if bad:
        raise ValueError(f"a claim row needs exactly {CLAIM_COLUMNS} and a verdict: {bad[0]}")
    if name is not None:
        save_table(table, name, profile)
    return table


def infeasible(what: str, paper, why: str) -> dict:
    """The row of a claim whose measurement has nothing feasible in it (and says why)."""
    return claim(what, paper, f"nothing feasible: {why}", NOTHING_FEASIBLE)


def within(gap: float, tolerance: float, why: str = "") -> str:
    """'reproduced' when |gap| ≤ tolerance, else 'diverges (gap; why)'."""
    if abs(gap) <= tolerance:
        return REPRODUCED
    return f"{DIVERGES} ({gap:+.2f}{'; ' + why if why else ''})"


def verdict(ours: float | None, paper: float | None, tolerance: float,
            why: str = "", missing: str = NEEDS) -> str:
    """'reproduced' when |ours − paper| ≤ tolerance, else 'diverges (why)'.

    Where we have no measurement, ``missing`` says what it would take.
    """
    if paper is None or (isinstance(paper, float) and pd.isna(paper)):
        return "no paper number"
    if ours is None or (isinstance(ours, float) and pd.isna(ours)):
        return missing
    return within(ours - paper, tolerance, why)


def save_table(df: pd.DataFrame, name: str, profile, floatfmt: str = ".3g") -> None:
    """Write ``df`` to ``<figures>/<name>.csv`` and ``.md`` for this profile."""
    folder = paths.figures_dir(getattr(profile, "name", profile))
    folder.mkdir(parents=True, exist_ok=True)
    csv, md = folder / f"{name}.csv", folder / f"{name}.md"
    df.to_csv(csv, index=False)
    md.write_text(to_markdown(df, floatfmt) + "\n")


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


def findings(lines: list[str], title: str = "What we found"):
    """A notebook's closing section as Markdown, built from measured values (every number in it
    is computed, none typed)."""
    from IPython.display import Markdown

    return Markdown(f"## {title}\n\n" + "\n".join(f"- {line}" for line in lines))
