"""Notebook 05's summaries and paper-vs-here rows (SAC-d Fig. 5 and the coding limit).

``sizes`` and ``acc`` are the tables of ``coinference.compression_tables``: one row per
(exit, point, bits[, method]) with coded bytes, fp32 bytes, payload and entropy bits, and the
accuracy lost to quantization in points. Every claim copes with empty tables (nothing measured).
"""

from __future__ import annotations

import pandas as pd

from . import papers, report

# project goal for the lossless coder: payload within this fraction above the empirical entropy
CODING_GOAL = 0.02
_EPS = 1e-9  # losses are differences of float accuracies: 0.2 may print as 0.2000000000000002

CONV_FC, RELU_POOL = ("conv", "fc"), ("relu", "pool")


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
    """Σ payload bits / Σ empirical-entropy bits over every point (1.0 = at the entropy).

    Payload only: the header and the symbol table of each message are not in it
    (``message_overhead``)."""
    t = sizes[sizes.method == method]
    return t.payload_bits.sum() / t.entropy_bits.sum() if t.entropy_bits.sum() > 0 else float("nan")


def message_overhead(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per (method, bits): payload / entropy and whole message (header + symbol table + payload)
    / entropy, mean and max over the points, and the symbol table's median share of a message."""
    cols = ["method", "bits", "payload / entropy (mean)", "payload / entropy (max)",
            "message / entropy (mean)", "message / entropy (max)", "table share (median %)"]
    if sizes.empty:
        return pd.DataFrame(columns=cols)
    ent = sizes.entropy_bits.where(sizes.entropy_bits > 0)
    t = sizes.assign(payload=sizes.payload_bits / ent, message=8 * sizes.bytes / ent,
                     share=100 * sizes.table_bytes / sizes.bytes)
    g = t.groupby(["method", "bits"])
    out = pd.DataFrame({cols[2]: g.payload.mean(), cols[3]: g.payload.max(),
                        cols[4]: g.message.mean(), cols[5]: g.message.max(),
                        cols[6]: g.share.median()}).reset_index()
    return out[cols]


def main_branch(sizes: pd.DataFrame) -> pd.DataFrame:
    """The Huffman rows of the last exit (the whole network), with ``ratio`` = fp32 / coded."""
    if sizes.empty:
        return sizes.assign(ratio=pd.Series(dtype=float))
    main = sizes[(sizes.exit == sizes.exit.max()) & (sizes.method == "huffman")]
    return main.assign(ratio=main.fp32_bytes / main.bytes)


def compression_by_bits(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per bit width, over the main branch's points: how many are ≥ SAC-d's 10× (share), and the
    median / min / max of fp32 / coded."""
    main = main_branch(sizes)
    need = papers.SACD_MIN_COMPRESSION
    rows = []
    for c, t in main.groupby("bits"):
        hit = int((t.ratio >= need).sum())
        rows.append({"bits": int(c), "points": len(t), f"points ≥ {need:g}×": hit,
                     f"share ≥ {need:g}× (%)": 100 * hit / len(t), "median ×": t.ratio.median(),
                     "min ×": t.ratio.min(), "max ×": t.ratio.max()})
    return pd.DataFrame(rows)


def bits_trend(acc: pd.DataFrame, images: int) -> pd.DataFrame:
    """Per (exit, point), paired over the bit widths: the largest rise of the loss from fewer to
    more bits (any pair), the fall from the lowest to the highest bit width, and whether each
    is beyond the noise floor."""
    floor = noise_floor(images)
    if acc.empty:
        return pd.DataFrame(columns=["exit", "point", "largest rise", "rise between", "fall",
                                     "rises beyond floor", "falls beyond floor"])
    wide = acc.pivot_table(index=["exit", "point"], columns="bits", values="loss_points")
    bits = sorted(wide.columns)
    rows = []
    for (e, p), loss in wide.iterrows():
        rise, between = 0.0, "—"
        for i, a in enumerate(bits):
            for b in bits[i + 1:]:
                if loss[b] - loss[a] > rise:
                    rise, between = loss[b] - loss[a], f"{a}→{b}"
        fall = loss[bits[0]] - loss[bits[-1]]
        rows.append({"exit": int(e), "point": int(p), **{f"{c} bits": loss[c] for c in bits},
                     "largest rise": rise, "rise between": between, "fall": fall,
                     "rises beyond floor": rise > floor + _EPS,
                     "falls beyond floor": fall > floor + _EPS})
    return pd.DataFrame(rows)


def type_contrast(acc: pd.DataFrame, images: int) -> pd.DataFrame:
    """Per bit width: mean loss over the conv/FC points against the ReLU/pool points (pooled over
    the points of every exit), their difference and whether it is beyond the noise floor."""
    floor = noise_floor(images)
    rows = []
    for c, t in acc.groupby("bits"):
        big, small = t[t.type.isin(CONV_FC)], t[t.type.isin(RELU_POOL)]
        diff = big.loss_points.mean() - small.loss_points.mean()
        rows.append({"bits": int(c),
                     "conv/FC points": len(big), "conv/FC mean": big.loss_points.mean(),
                     "ReLU/pool points": len(small), "ReLU/pool mean": small.loss_points.mean(),
                     "difference": diff, "beyond floor": bool(diff > floor + _EPS),
                     "max loss": t.loss_points.max()})
    return pd.DataFrame(rows)


def _bits_list(bits) -> str:
    return ", ".join(str(int(b)) for b in bits)


def claims(sizes: pd.DataFrame, acc: pd.DataFrame, images: int) -> list[dict]:
    """Paper-vs-here rows of notebook 05; ``images`` is the size of the accuracy subset."""
    return [_size_row(sizes), *_accuracy_rows(acc, images), _coding_row(sizes)]


def _size_row(sizes: pd.DataFrame) -> dict:
    need = papers.SACD_MIN_COMPRESSION
    what = f"Fig. 5a: quantized + Huffman features ≥ {need:g}× smaller than fp32"
    paper = f"≥ {need:g}× (§III-A: \"1/{need:g} or less\"; bit width not stated)"
    by = compression_by_bits(sizes)
    if by.empty:
        return report.infeasible(what, paper, "no feature was coded")
    share, hit = f"share ≥ {need:g}× (%)", f"points ≥ {need:g}×"
    ours = "; ".join(f"{int(r.bits)} bits: {int(r[hit])} of {int(r.points)} points "
                     f"({r[share]:.0f} %), median {r['median ×']:.1f}×, min {r['min ×']:.1f}×"
                     for _, r in by.iterrows())
    all_met = by[by[hit] == by.points].bits.tolist()
    median_met = by[by["median ×"] >= need].bits.tolist()
    if len(all_met) == len(by):
        verdict = report.REPRODUCED
    elif all_met:
        verdict = (f"{report.REPRODUCED} at {_bits_list(all_met)} bits only (every point ≥ "
                   f"{need:g}×); {report.DIVERGES} at the other bit widths")
    else:
        median = (f"the median is ≥ {need:g}× at {_bits_list(median_met)} bits only"
                  if median_met else f"the median is below {need:g}× at every bit width")
        verdict = (f"{report.DIVERGES} (at no bit width is every main-branch point ≥ {need:g}×; "
                   f"{median})")
    return report.claim(what, paper, f"main branch, {ours}", verdict)


def _accuracy_rows(acc: pd.DataFrame, images: int) -> list[dict]:
    floor = noise_floor(images)
    what_type = "Fig. 5b: loss largest after conv/FC outputs, small after ReLU/pool"
    what_bits = "Fig. 5b: the more bits, the lower the loss"
    if acc.empty:
        return [report.infeasible(what_type, "yes", "no quantized accuracy was measured"),
                report.infeasible(what_bits, "yes", "no quantized accuracy was measured")]
    return [_type_row(acc, images, floor, what_type), _bits_row(acc, images, floor, what_bits)]


def _type_row(acc, images, floor, what) -> dict:
    con = type_contrast(acc, images)
    worst = acc.loc[acc.loss_points.idxmax()]
    low = int(con.bits.min())
    fc = acc[(acc.type == "fc") & (acc.bits == low)]
    fc_points = ", ".join(f"{r.get('after', r.point)} of exit {int(r.exit)}: {r.loss_points:.2f} "
                          f"points = {round(r.loss_points * images / 100)} of {images} images"
                          for _, r in fc.iterrows())
    fc_text = (f"FC is {len(fc)} point{'s' if len(fc) != 1 else ''} ({fc_points}, at {low} bits)"
               if len(fc) else "no FC point")
    ours = ("; ".join(f"{int(r.bits)} bits: conv/FC {r['conv/FC mean']:.2f} vs ReLU/pool "
                      f"{r['ReLU/pool mean']:.2f} ({r.difference:+.2f})" for _, r in con.iterrows())
            + f" points, means over {int(con['conv/FC points'].iloc[0])} conv/FC and "
            f"{int(con['ReLU/pool points'].iloc[0])} ReLU/pool points; noise floor {floor:.2f} "
            f"points (4 of {images} images); {fc_text}; largest loss anywhere "
            f"{worst.loss_points:.2f} points ({int(worst.bits)} bits, exit {int(worst.exit)}, "
            f"point {int(worst.point)}) against the paper's \"serious accuracy drop\"")
    held = con[con["beyond floor"]].bits.tolist()
    if len(held) == len(con):
        verdict = report.REPRODUCED
    elif held:
        others = con[~con["beyond floor"]].bits.tolist()
        verdict = (f"direction only, at {_bits_list(held)} bits (at {_bits_list(others)} bits no "
                   f"type differs beyond the noise floor; largest loss {worst.loss_points:.2f} "
                   f"points)")
    else:
        verdict = (f"{report.DIVERGES} (conv/FC and ReLU/pool differ by no more than the noise "
                   f"floor, {floor:.2f} points, at any bit width)")
    return report.claim(what, "yes", ours, verdict)


def _bits_row(acc, images, floor, what) -> dict:
    trend = bits_trend(acc, images)
    bits = sorted(int(b) for b in acc.bits.unique())
    n = len(trend)
    falls = int(trend["falls beyond floor"].sum())
    rises = trend[trend["rises beyond floor"]]
    # raw (no floor) count per exit and consecutive pair: the loss at more bits above fewer bits
    wide = acc.pivot_table(index=["exit", "point"], columns="bits", values="loss_points")
    raw = []
    for e, w in wide.groupby(level="exit"):
        for a, b in zip(bits, bits[1:]):
            k = int((w[b] > w[a] + _EPS).sum())
            if k:
                raw.append(f"exit {e}: {b}-bit loss above {a}-bit at {k} of {len(w)} points")
    rise_text = ("; ".join(f"exit {r.exit} point {r.point} {r['rise between']} bits "
                           f"{r['largest rise']:+.2f}" for _, r in rises.iterrows())
                 if len(rises) else "none")
    ours = (f"paired per (exit, point), {n} points: the loss falls by more than the noise floor "
            f"({floor:.2f} points) from {bits[0]} to {bits[-1]} bits at {falls}; it rises from "
            f"fewer to more bits by more than the floor at {len(rises)} ({rise_text}); "
            f"by any amount: "
            + ("; ".join(raw) if raw else "nowhere"))
    if len(rises) == 0 and falls > 0:
        verdict = report.REPRODUCED
    else:
        why = []
        if len(rises):
            per_exit = rises.groupby("exit").size()
            totals = trend.groupby("exit").size()
            counts = ", ".join(f"{k} of {totals[e]} points of exit {e}"
                               for e, k in per_exit.items())
            why.append(f"the loss rises from fewer to more bits by more than the noise floor at "
                       f"{counts}")
        if falls == 0:
            why.append(f"at no point does the loss fall by more than the noise floor from "
                       f"{bits[0]} to {bits[-1]} bits")
        verdict = f"{report.DIVERGES} ({'; '.join(why)})"
    return report.claim(what, "yes", ours, verdict)


def _coding_row(sizes: pd.DataFrame) -> dict:
    goal = 100 * CODING_GOAL
    what = f"coded payload within {goal:g} % of the empirical entropy (project goal)"
    if sizes.empty:
        return report.infeasible(what, "—", "no feature was coded")
    ans, huff = coding_overhead(sizes, "ans"), coding_overhead(sizes, "huffman")
    msg = message_overhead(sizes)
    h = msg[msg.method == "huffman"]
    whole = ", ".join(f"{int(r.bits)} bits {r['message / entropy (mean)']:.2f} (max "
                      f"{r['message / entropy (max)']:.2f})" for _, r in h.iterrows())
    ours = (f"payload over all points: ANS {100 * (ans - 1):.2f} % over, Huffman "
            f"{100 * (huff - 1):.1f} % over; whole Huffman message (header + symbol table + "
            f"payload) / entropy, mean over the points: {whole}")
    payload = ("met with ANS; not with Huffman (the paper's coder)" if ans <= 1 + CODING_GOAL < huff
               else "met" if huff <= 1 + CODING_GOAL else "not met")
    over = 100 * (msg["message / entropy (mean)"] - 1)
    whole = ("also within the goal" if (over <= goal).all() else
             f"not (mean {over.min():.0f}–{over.max():.0f} % over, by method and bits)")
    return report.claim(what, "—", ours, f"payload: {payload}; whole message: {whole}")


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
