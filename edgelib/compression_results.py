"""Notebook 05's summaries and paper-vs-here rows (SAC-d Fig. 5 and the coding limit).

``sizes`` and ``acc`` are the tables of ``coinference.compression_tables``: one row per
(exit, point, bits[, method]) with coded bytes, fp32 bytes, payload and entropy bits, and the
accuracy lost to quantization in points. Every claim copes with empty tables (nothing measured).
"""

from __future__ import annotations

import pandas as pd

from . import papers, report


def noise_floor(images: int) -> float:
    """Accuracy points that four flipped predictions out of ``images`` move: a loss below it is
    not measurable on that many images."""
    return 4 * 100 / images


def loss_by_type(acc: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy loss (points) by the type of the layer the feature comes from × bits."""
    table = acc.pivot_table(index="type", columns="bits", values="loss_points", aggfunc="mean")
    table.columns = [f"{c} bits" for c in table.columns]
    return table


def coding_overhead(sizes: pd.DataFrame, method: str) -> float:
    """Σ payload bits / Σ empirical-entropy bits over every point (1.0 = at the entropy)."""
    t = sizes[sizes.method == method]
    return t.payload_bits.sum() / t.entropy_bits.sum() if t.entropy_bits.sum() > 0 else float("nan")


def claims(sizes: pd.DataFrame, acc: pd.DataFrame, images: int) -> list[dict]:
    """Paper-vs-here rows of notebook 05; ``images`` is the size of the accuracy subset."""
    rows = []
    main = sizes[(sizes.exit == sizes.exit.max()) & (sizes.method == "huffman")] if len(sizes) else sizes
    ratio = main.fp32_bytes / main.bytes if len(main) else pd.Series(dtype=float)
    what = f"Fig. 5a: quantized + Huffman features ≥ {papers.SACD_MIN_COMPRESSION:g}× smaller than fp32"
    paper = f"≥ {papers.SACD_MIN_COMPRESSION:g}× (1/10 or less)"
    r8 = ratio[main.bits == 8] if len(main) else ratio
    if r8.empty:
        rows.append(report.infeasible(what, paper, "no 8-bit feature was coded"))
    else:
        hit = int((r8 >= papers.SACD_MIN_COMPRESSION).sum())
        rest = "; ".join(f"{c} bits: median {ratio[main.bits == c].median():.1f}×"
                         for c in sorted(main.bits.unique()) if c != 8)
        rows.append(report.claim(
            what, paper, f"8 bits: median {r8.median():.1f}×, min {r8.min():.1f}×; {rest}",
            report.REPRODUCED if r8.min() >= papers.SACD_MIN_COMPRESSION else
            f"{report.DIVERGES} (≥ {papers.SACD_MIN_COMPRESSION:g}× at 8 bits at {hit} of "
            f"{len(r8)} points of the main branch)"))
    floor = noise_floor(images)
    types = loss_by_type(acc) if len(acc) else pd.DataFrame()
    what = "Fig. 5b: loss largest after conv/FC outputs, small after ReLU/pool"
    if types.empty:
        rows.append(report.infeasible(what, "yes", "no quantized accuracy was measured"))
        rows.append(report.infeasible("Fig. 5b: the more bits, the lower the loss", "yes",
                                      "no quantized accuracy was measured"))
        return rows + [_coding_row(sizes)]
    low = types.columns[0]
    big = types[low].reindex(["conv", "fc"]).mean()
    small = types[low].reindex(["relu", "pool"]).mean()
    worst = acc.loc[acc.loss_points.idxmax()]
    rows.append(report.claim(
        what, "yes",
        f"{low}: conv/FC {big:.2f} vs ReLU/pool {small:.2f} points (noise floor {floor:.2f} "
        f"points: 4 of {images} images); worst {worst.loss_points:.2f} points at "
        f"{int(worst.bits)} bits, exit {int(worst.exit)}, point {int(worst.point)}",
        report.REPRODUCED if big - small > floor else
        f"{report.DIVERGES} (conv/FC and ReLU/pool differ by {big - small:+.2f} points, within "
        f"the noise floor of {floor:.2f})"))
    worst_by_bits = acc.groupby("bits").loss_points.max()
    mean_by_bits = acc.groupby("bits").loss_points.mean()
    w = worst_by_bits.values
    falling = all(a >= b - floor for a, b in zip(w, w[1:])) and w[0] > w[-1] + floor
    rows.append(report.claim(
        "Fig. 5b: the more bits, the lower the loss", "yes",
        "worst loss over the partition points " + ", ".join(
            f"{c} bits {v:.2f}" for c, v in worst_by_bits.items()) + " points (mean "
        + ", ".join(f"{v:.2f}" for v in mean_by_bits.values) + ")",
        report.REPRODUCED if falling else
        f"{report.DIVERGES} (the worst loss does not fall with the bits by more than the noise "
        f"floor, {floor:.2f} points)"))
    return rows + [_coding_row(sizes)]


def _coding_row(sizes: pd.DataFrame) -> dict:
    what = "coded size within 2 % of the empirical entropy (issue goal)"
    if sizes.empty:
        return report.infeasible(what, "—", "no feature was coded")
    ans, huff = coding_overhead(sizes, "ans"), coding_overhead(sizes, "huffman")
    return report.claim(
        what, "—", f"payload over all points: ANS {100 * (ans - 1):.2f} % over, Huffman "
                   f"{100 * (huff - 1):.1f} % over; the symbol table comes on top",
        "met with ANS; not with Huffman (the paper's coder)" if ans <= 1.02 < huff
        else "met" if huff <= 1.02 else "not met")


def fp32_check(acc: pd.DataFrame, full_test_acc: list[float], images: int) -> pd.DataFrame:
    """The unquantized accuracy per exit on the measurement subset (what notebook 07's instance
    uses) against the whole test split (notebook 03), with two binomial standard errors."""
    rows = []
    for e, full in enumerate(full_test_acc, start=1):
        sub = acc[acc.exit == e].fp32_accuracy
        if sub.empty:
            continue
        a = float(sub.iloc[0])
        two_se = 2 * 100 * (a * (1 - a) / images) ** 0.5
        rows.append({"exit": e, "subset (%)": 100 * a, "whole test split (%)": 100 * full,
                     "difference (points)": 100 * (a - full), "2 SE (points)": two_se,
                     "within sampling error": abs(100 * (a - full)) <= two_se})
    return pd.DataFrame(rows)
