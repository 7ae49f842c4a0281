#!/usr/bin/env python
"""Re-execute every notebook, in order, for one profile (papermill).

    python run_all.py                      # cpu profile, notebooks executed in place
    python run_all.py --profile smoke      # into build/smoke/ (never over the committed outputs)
    python run_all.py --only 00,03 --list  # which notebooks would run

A failing notebook does not stop the run: the rest still execute, and the run exits non-zero
naming each notebook and cell that failed. Figures go to figures/ (cpu) or figures/<profile>/.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"


def discover(only: list[str] | None = None) -> list[Path]:
    notebooks = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if re.match(r"\d\d_", p.name))
    if only:
        unknown = [o for o in only if not any(p.name.startswith(o + "_") for p in notebooks)]
        if unknown:
            names = ", ".join(p.name for p in notebooks)
            raise SystemExit(f"--only: no notebook numbered {', '.join(unknown)}; have {names}")
        notebooks = [p for p in notebooks if p.name[:2] in only]
    return notebooks


def run_one(notebook: Path, output: Path, profile: str) -> str | None:
    """Execute one notebook; returns None on success or a one-line description of the failure."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(notebook), str(output), parameters={"profile": profile},
                            cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")
    except pm.PapermillExecutionError as err:
        first_line = next((line for line in err.source.splitlines() if line.strip()), "")
        return (f"{notebook.name}: cell {err.cell_index} of the executed notebook (execution "
                f"count {err.exec_count}, starting `{first_line[:60]}`) raised {err.ename}: "
                f"{err.evalue}")
    except Exception as err:  # noqa: BLE001 — kernel died, notebook missing a parameters cell, …
        return f"{notebook.name}: {type(err).__name__}: {err}"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profile", default="cpu", help="smoke, cpu or paper (default cpu)")
    ap.add_argument("--only", help="comma-separated notebook numbers, e.g. 03,04")
    ap.add_argument("--list", action="store_true", help="list the notebooks and exit")
    ap.add_argument("--output-dir", type=Path,
                    help="where executed notebooks go (default: in place for cpu, "
                         "build/<profile>/ otherwise)")
    ap.add_argument("--figures-dir", type=Path, help="override EDGELIB_FIGURES_DIR")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from edgelib import profiles

    try:
        profiles.get(args.profile)
    except ValueError as err:
        ap.error(str(err))
    only = [o.strip().zfill(2) for o in args.only.split(",")] if args.only else None
    notebooks = discover(only)
    if args.list:
        print("\n".join(p.name for p in notebooks))
        return 0
    if not notebooks:
        print("no notebooks found in", NOTEBOOKS)
        return 1
    out_dir = args.output_dir or (NOTEBOOKS if args.profile == "cpu" else ROOT / "build" / args.profile)
    if args.figures_dir:
        os.environ["EDGELIB_FIGURES_DIR"] = str(args.figures_dir.resolve())

    failures, times = [], []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb.name} (profile {args.profile}) …", flush=True)
        start = time.perf_counter()
        failure = run_one(nb, Path(out_dir) / nb.name, args.profile)
        times.append((nb.name, time.perf_counter() - start, "FAILED" if failure else "ok"))
        print(f"    {times[-1][2]} in {times[-1][1]:.0f} s", flush=True)
        if failure:
            failures.append(failure)

    print("\nsummary (wall time per notebook):")
    for name, seconds, state in times:
        print(f"  {name:<40} {seconds:8.1f} s  {state}")
    print(f"  {'total':<40} {sum(t for _, t, _ in times):8.1f} s")
    if failures:
        print("\nfailed:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
