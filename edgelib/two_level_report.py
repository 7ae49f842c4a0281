"""Notebook 02's evaluation and comparison with the two-level paper (Alg. 2, Table 2).

Threshold choice, the report-half evaluation, Table 2 beside ours and the verdicts, from
measurements only; each handles a measurement with nothing feasible in it (no threshold within
the call budget, no larger single backbone), tested in tests/test_claims_00_02.py.
"""

from __future__ import annotations

import pandas as pd
import torch

from . import branchy, cost, models, papers, report, two_level
from .recall import Thresholds

NO_RECALL = Thresholds(0.0, 0.0, 1)
FIT = "backbone + 2 x last stage"
OURS = "ours: K x (tail + head)"
SHARED = "shared tail + K heads"  # one reading of §3.2 ("share the same network ... except the final head")
PARAMS_TOLERANCE = 0.005  # M: Table 2 prints two decimals
GMACS_TOLERANCE = 0.001  # G: three decimals
FITTED = "consistent (a reading fitted to Table 2, not stated by the paper)"


def encoder_row(k: int, first, first_rec: dict, seconds: list, second_recs: list) -> dict:
    """One row of the encoder table: accuracies, parameters, MACs, training time for one K."""
    fm_shape = tuple(first.head_until(torch.zeros(1, 3, 32, 32)).shape)
    return {
        "K": k, "superclass acc (first level)": first_rec["metrics"]["superclass_acc"],
        "within-superclass acc (mean of encoders)":
            sum(r["metrics"]["within_superclass_acc"] for r in second_recs) / k,
        "first level params M": cost.parameters(first) / 1e6,
        "second level params M (each)": sum(cost.parameters(s) for s in seconds) / k / 1e6,
        "first level GMACs": cost.flops(first)["macs"] / 1e9,
        "second level GMACs (each)": cost.flops(seconds[0], fm_shape)["macs"] / 1e9,
        "training min": (first_rec["timing"]["train_seconds"] +
                         sum(r["timing"]["train_seconds"] for r in second_recs)) / 60}


def halves(labels: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Class-balanced selection and report halves of a test split (``branchy.halves``, named)."""
    select, report_half = branchy.halves(labels, seed)
    return {"select": select, "report": report_half}


def part(outs: dict, mask: torch.Tensor) -> dict:
    """``TwoLevel.outputs`` restricted to the inputs of ``mask``."""
    return {"first": outs["first"][mask], "labels": outs["labels"][:, mask],
            "confidence": outs["confidence"][:, mask]}


def choose(rows: pd.DataFrame, budget: float) -> tuple[Thresholds, bool]:
    """The most accurate thresholds within ``budget`` second-level calls per input (fewest calls
    on ties); (no recall, False) when no swept setting is within the budget."""
    ok = rows[rows["calls"] <= budget].sort_values(["accuracy", "calls"], ascending=[False, True])
    if ok.empty:
        return NO_RECALL, False
    b = ok.iloc[0]
    return Thresholds(float(b.t_l_max), float(b.t_l_min), int(b.p_max),
                      None if pd.isna(b.t_h) else float(b.t_h)), True


def settings(k: int, outs: dict, labels: torch.Tensor, chosen: Thresholds, smap,
             e: pd.Series) -> tuple[list[dict], dict]:
    """Report-half rows for one K (no recall, Alg. 2, every encoder, oracle) and the per-input
    correctness of no recall and of Alg. 2 (for the paired comparison)."""
    rows, correct = [], {}
    for name, th in (("no recall (one encoder)", NO_RECALL), ("Alg. 2, chosen thresholds", chosen),
                     ("query every encoder", Thresholds(1.0, 0.0, k))):
        r = two_level.replay(outs, labels, th, per_input=True)
        correct[name] = r["correct"]
        rows.append({"K": k, "setting": name, "accuracy %": 100 * r["accuracy"],
                     "second-level calls": r["calls"], "recall rate": r["recall_rate"],
                     "expected GMACs": e["first level GMACs"] + r["calls"] *
                     e["second level GMACs (each)"]})
    rows.append({"K": k, "setting": "oracle superclass (upper bound)",
                 "accuracy %": 100 * two_level.oracle_accuracy(outs, labels, smap)})
    return rows, correct


def singles_table(trained: dict) -> pd.DataFrame:
    """model / acc (%) / GMACs / params M of single backbones, from {name: (model, record)}."""
    return pd.DataFrame([{"model": models.PRETTY[n], "acc": 100 * rec["metrics"]["test_acc"],
                          "GMACs": cost.flops(net)["macs"] / 1e9,
                          "params M": cost.parameters(net) / 1e6}
                         for n, (net, rec) in trained.items()])


def table2(singles: pd.DataFrame, two: dict, backbone: str) -> pd.DataFrame:
    """Our Table 2: single backbones, our two-level model, and the paper's five rows."""
    ours = {"model": f"two-level {models.PRETTY[backbone]}, K={two['K']} (ours)",
            **{c: two[c] for c in ("acc", "GMACs", "expected GMACs", "params M")}}
    paper = [{"model": f"two-level {models.PRETTY[n]} (paper, Table 2)",
              "acc": r["cifar10_acc"], "GMACs": r["gmacs"], "params M": r["params_M"]}
             for n, r in papers.TWO_LEVEL_TABLE2.items()]
    mine = singles.assign(model="single " + singles.model + " (ours)")
    table = pd.concat([mine, pd.DataFrame([ours]), pd.DataFrame(paper)], ignore_index=True)
    # The two counts differ by convention (notebook 00): ours omit BN, Table 2's include it.
    table["GMACs counted as"] = ["conv + linear"] * (len(mine) + 1) + \
        ["Table 1's: conv + linear + 5 per BN element"] * len(paper)
    return table.rename(columns={"acc": "CIFAR-10 acc %"})


def readings_table(k: int = 5, classes_per_superclass: int = 20) -> pd.DataFrame:
    """Table 2's "params M / GMACs" beside each reading of the second levels (rows) for each
    of its five backbones (columns), Table 1's counting convention."""
    got = {n: two_level.parameter_readings(n, k, classes_per_superclass)
           for n in papers.TWO_LEVEL_TABLE2}
    cols = {models.PRETTY[n]: n for n in papers.TWO_LEVEL_TABLE2}
    rows = [{"reading": "published (Table 2)", **{c: f"{papers.TWO_LEVEL_TABLE2[n]['params_M']:.2f}"
             f" / {papers.TWO_LEVEL_TABLE2[n]['gmacs']:.3f}" for c, n in cols.items()}}]
    for reading in got[next(iter(got))]:
        rows.append({"reading": reading, **{c: f"{got[n][reading][0]:.2f} / {got[n][reading][1]:.3f}"
                                            for c, n in cols.items()}})
    return pd.DataFrame(rows).set_index("reading")


def _reading_claim(what: str, reading: str, column: int, tolerance: float, unit: str,
                   fitted: bool = False) -> dict:
    field = ("params_M", "gmacs")[column]
    gaps = {n: two_level.parameter_readings(n, 5, 20)[reading][column] - row[field]
            for n, row in papers.TWO_LEVEL_TABLE2.items()}
    worst = max(gaps, key=lambda n: abs(gaps[n]))
    fits = sum(abs(g) <= tolerance for g in gaps.values())
    return report.claim(what, f"{papers.TWO_LEVEL_TABLE2['resnet18'][field]} {unit} for ResNet-18",
                        f"{fits}/5 within {tolerance} {unit}; ResNet-18 "
                        f"{papers.TWO_LEVEL_TABLE2['resnet18'][field] + gaps['resnet18']:.3f} "
                        f"{unit}, worst {models.PRETTY[worst]} {gaps[worst]:+.3f} {unit}",
                        (FITTED if fitted else report.REPRODUCED) if fits == 5
                        else f"{report.DIVERGES} ({5 - fits}/5 rows)")


def beats(two: dict, singles: pd.DataFrame, n_two: int, n_single: int) -> list[str]:
    """The single backbones with more GMACs than ``two``'s expected cost (with Alg. 2's recalls)
    that it beats by > 2 standard errors (unpaired: conservative, the samples overlap)."""
    out = []
    for r in singles.itertuples(index=False):
        if r.GMACs <= two["expected GMACs"]:
            continue
        if two["acc"] - r.acc > 2 * _unpaired_se(two["acc"], r.acc, n_two, n_single):
            out.append(f"{r.model} at {100 * two['expected GMACs'] / r.GMACs:.0f} % of its GMACs")
    return out


def _unpaired_se(acc_a: float, acc_b: float, n_a: int, n_b: int) -> float:
    """Standard error (points) of the difference of two accuracies (%) on independent samples."""
    p, q = acc_a / 100, acc_b / 100
    return 100 * (p * (1 - p) / n_a + q * (1 - q) / n_b) ** 0.5


def paired_gain(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Accuracy gain of b over a on the same inputs (points) and its standard error."""
    diff = b.float() - a.float()
    n = len(diff)
    return 100 * diff.mean().item(), 100 * diff.std().item() / n ** 0.5 if n > 1 else float("nan")


def claims(two: dict, singles: pd.DataFrame, n_two: int, n_single: int, gains: dict,
           backbone: str, name: str | None = None, profile=None,
           extra: list[dict] = (), unstable: tuple[int, ...] = ()) -> pd.DataFrame:
    """Notebook 02's paper-vs-here table. ``two`` = {"acc", "GMACs", "K"} of our two-level
    model, ``singles`` = model/acc/GMACs of single backbones, ``gains`` = ``recall_claim``'s;
    ``extra`` rows (``two_level_study.claim``) come before the recall row; ``unstable`` = the K
    whose partition changes with the seed (notebook 01's study), named in the recall verdict."""
    t2 = papers.TWO_LEVEL_TABLE2
    rows = [
        report.claim("Table 2 two-level accuracy (5 models), CIFAR-10 / CIFAR-100",
                     f"{min(r['cifar10_acc'] for r in t2.values())}–"
                     f"{max(r['cifar10_acc'] for r in t2.values())} % / "
                     f"{min(r['cifar100_acc'] for r in t2.values())}–"
                     f"{max(r['cifar100_acc'] for r in t2.values())} %", "—",
                     "needs GPU (paper profile) and network (CIFAR-100)"),
        _reading_claim("Table 2 parameters read as ours: K second levels, each the stages after "
                       "the cut + a head", OURS, 0, PARAMS_TOLERANCE, "M"),
        _reading_claim("Table 2 parameters read as one shared second-level network + K heads "
                       "(one reading of §3.2)", SHARED, 0, PARAMS_TOLERANCE, "M"),
        _reading_claim("Table 2 parameters read as the backbone + 2 copies of its last stage",
                       FIT, 0, PARAMS_TOLERANCE, "M", fitted=True),
        _reading_claim("Table 2 FLOPs (one inference) of our build, Table 1's count", OURS, 1,
                       GMACS_TOLERANCE, "G"),
        _reading_claim("Table 2 FLOPs read as the backbone + 2 copies of its last stage", FIT, 1,
                       GMACS_TOLERANCE, "G", fitted=True),
    ]
    what = "a small-backbone two-level model beats a larger single backbone at fewer FLOPs"
    t1, t2r = papers.TWO_LEVEL_TABLE1["resnet50"], papers.TWO_LEVEL_TABLE2["resnet18"]
    paper = (f"two-level ResNet-18 above ResNet-50 at "
             f"{papers.TWO_LEVEL_HEADLINES['resnet18_two_level_flops_pct_of_resnet50']} % of its "
             f"FLOPs (§4.2.1; its tables: CIFAR-10 {t2r['cifar10_acc']} vs {t1['cifar10_acc']} %, "
             f"CIFAR-100 {t2r['cifar100_acc']} vs {t1['cifar100_acc']} %"
             + ("; the paper's own tables contradict it on CIFAR-100)"
                if t2r["cifar100_acc"] < t1["cifar100_acc"] else ")"))
    if not (singles.GMACs > two["expected GMACs"]).any():
        rows.append(report.infeasible(what, paper, "no single backbone has more GMACs"))
    else:
        won = beats(two, singles, n_two, n_single)
        own = singles[singles.model == models.PRETTY[backbone]].acc
        rows.append(report.claim(
            what, paper, f"two-level {models.PRETTY[backbone]} K={two['K']} "
            f"({two['acc']:.2f} %, {two['expected GMACs']:.4f} expected GMACs) beats "
            + (", ".join(won) if won else "no larger single backbone by > 2 standard errors")
            + (_against_own(two, singles[singles.model == models.PRETTY[backbone]].iloc[0],
                            n_two, n_single) if len(own) else ""),
            "reproduced at this scale" if won else f"{report.DIVERGES} at this scale"))
    rows += list(extra)
    rows.append(recall_claim(gains, unstable))
    return report.claims(rows, name, profile)


def _against_own(two: dict, own, n_two: int, n_single: int) -> str:
    se = _unpaired_se(two["acc"], own.acc, n_two, n_single)
    return (f"; vs its own single backbone {two['acc'] - own.acc:+.2f} ± {se:.2f} points at "
            f"{two['expected GMACs'] / own.GMACs:.2f}× its GMACs")


def recall_claim(gains: dict, unstable: tuple[int, ...] = ()) -> dict:
    """Alg. 2 against one encoder, paired on the report half, for every K: ``gains`` maps K to
    (gain, standard error, recall rate of the chosen thresholds); ``unstable`` K (partition
    changes with the seed) are named where recall wins."""
    what = "recall (Alg. 2) improves on querying one encoder"
    paper = "design intent (§2, §3.3); no measurement given"
    never = [k for k, (_, _, rate) in gains.items() if rate == 0]
    used = {k: v for k, v in gains.items() if v[2] > 0}
    if not used:
        return report.infeasible(what, paper, "at no K did the thresholds chosen on the selection "
                                 "half recall (no recall setting was more accurate there)")
    ours = "; ".join(f"K={k}: {g:+.2f} ± {se:.2f} points, {100 * rate:.1f} % of inputs took the "
                     "recall branch"
                     for k, (g, se, rate) in used.items())
    if never:
        ours += f"; K={', '.join(map(str, never))}: the chosen thresholds never recall"
    wins = [k for k, (g, se, _) in used.items() if g > 2 * se]
    losses = [k for k, (g, se, _) in used.items() if g < -2 * se]
    def ks(found):
        return ", ".join(map(str, found))

    if wins:
        rest = [k for k in gains if k not in wins]
        shaky = [k for k in wins if k in unstable]
        verdict = (f"{report.REPRODUCED} at K = {ks(wins)}"
                   + (f" (not at K = {ks(rest)})" if rest else "")
                   + (f"; at K = {ks(shaky)} the partition changes with the seed" if shaky
                      else ""))
    elif losses:
        verdict = f"{report.DIVERGES} (recall loses at K = {ks(losses)})"
    else:
        verdict = f"{report.DIVERGES} (no gain beyond 2 standard errors at any K)"
    return report.claim(what, paper, ours + " (paired, report half)", verdict)


def findings(claims_table: pd.DataFrame, encoders: pd.DataFrame, fell_back: list[int],
             select_acc: dict | None = None) -> list[str]:
    """Notebook 02's "what we found", every number from its inputs."""
    lines = [f"{r.claim}: {r.ours} → {r.verdict}." for r in claims_table.itertuples()]
    best = encoders.loc[encoders["superclass acc (first level)"].idxmax()]
    lines.append(f"The first level's superclass accuracy is highest at K = {int(best.K)} "
                 f"({100 * best['superclass acc (first level)']:.1f} % of test images).")
    if select_acc:
        k = max(select_acc, key=select_acc.get)
        lines.append("Two-level accuracy on the selection half, which chooses K: " + ", ".join(
            f"K = {j}: {100 * a:.2f} %" for j, a in select_acc.items()) + f"; K = {k} is chosen.")
    if fell_back:
        lines.append(f"No swept threshold stayed within the call budget for K = {fell_back}; "
                     "those K fall back to no recall.")
    return lines
