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


THRESHOLD = "detection threshold"
NOT_A_TEST = ("a detection threshold, not a significance test: a paired per-image (McNemar) test "
              "would need per-image predictions, which are not stored")
# max-pool commutes with per-image min-max quantization after a ReLU, and dropout is the identity
# at inference: such a point repeats the feature event of the point before it
_REPEATS = {"pool": ("relu",), "dropout": None}


def noise_floor(images: int) -> float:
    """Detection threshold (accuracy points): four flipped predictions out of ``images``. A
    change below it is not counted; it is not a significance test (per-image results are not
    stored, so no paired test is possible)."""
    return 4 * 100 / images


def distinct_features(acc: pd.DataFrame) -> pd.DataFrame:
    """``acc`` without the (exit, point) rows that repeat the point before them: a pool right
    after a ReLU, or a dropout, whose loss equals the previous point's at every bit width (one
    quantization event, not several)."""
    if acc.empty or "type" not in acc:
        return acc
    wide = acc.pivot_table(index=["exit", "point"], columns="bits", values="loss_points")
    kind = acc.drop_duplicates(["exit", "point"]).set_index(["exit", "point"]).type
    drop = set()
    for e, w in wide.groupby(level="exit"):
        keys = list(w.index)
        for prev, key in zip(keys, keys[1:]):
            after = _REPEATS.get(kind[key], ())
            if after != () and (after is None or kind[prev] in after) \
                    and ((w.loc[key] - w.loc[prev]).abs() <= _EPS).all():
                drop.add(key)
    keep = [(e, p) not in drop for e, p in zip(acc.exit, acc.point)]
    return acc[keep]


def loss_by_type(acc: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy loss (points) by the type of the layer the feature comes from × bits."""
    table = acc.pivot_table(index="type", columns="bits", values="loss_points", aggfunc="mean")
    table.columns = [f"{c} bits" for c in table.columns]
    return table


def coding_by_bits(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per (method, bits): payload / entropy, mean over the coded features and size-weighted
    (Σ payload / Σ entropy), and whether both are within ``CODING_GOAL``."""
    cols = ["method", "bits", "payload / entropy (mean)", "Σ payload / Σ entropy",
            "within goal"]
    if sizes.empty:
        return pd.DataFrame(columns=cols)
    ent = sizes.entropy_bits.where(sizes.entropy_bits > 0)
    t = sizes.assign(ratio=sizes.payload_bits / ent)
    g = t.groupby(["method", "bits"])
    out = pd.DataFrame({cols[2]: g.ratio.mean(),
                        cols[3]: g.payload_bits.sum() / g.entropy_bits.sum()}).reset_index()
    out[cols[4]] = (out[cols[2]] <= 1 + CODING_GOAL + _EPS) & (out[cols[3]] <= 1 + CODING_GOAL + _EPS)
    return out[cols]


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
    """Per distinct feature (exit, point; ``distinct_features``), paired over the bit widths: the
    largest rise of the loss from fewer to more bits (any pair), the fall from the lowest to the
    highest bit width, and whether each is beyond the detection threshold."""
    floor = noise_floor(images)
    if acc.empty:
        return pd.DataFrame(columns=["exit", "point", "largest rise", "rise between", "fall",
                                     "rises beyond threshold", "falls beyond threshold"])
    acc = distinct_features(acc)
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
                     "rises beyond threshold": rise > floor + _EPS,
                     "falls beyond threshold": fall > floor + _EPS})
    return pd.DataFrame(rows)


def type_contrast(acc: pd.DataFrame, images: int) -> pd.DataFrame:
    """Per bit width: mean loss over the distinct conv/FC features against the distinct ReLU/pool
    features (``distinct_features``, pooled over every exit), their difference and whether it is
    beyond the detection threshold."""
    floor = noise_floor(images)
    rows = []
    for c, t in distinct_features(acc).groupby("bits"):
        big, small = t[t.type.isin(CONV_FC)], t[t.type.isin(RELU_POOL)]
        diff = big.loss_points.mean() - small.loss_points.mean()
        rows.append({"bits": int(c),
                     "conv/FC points": len(big), "conv/FC mean": big.loss_points.mean(),
                     "ReLU/pool points": len(small), "ReLU/pool mean": small.loss_points.mean(),
                     "difference": diff, "beyond threshold": bool(diff > floor + _EPS),
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


def _threshold_text(floor: float, images: int) -> str:
    return f"{THRESHOLD} {floor:.2f} points (4 of {images} images; {NOT_A_TEST})"


def _repeats_text(acc: pd.DataFrame) -> str:
    n_all = len(acc.drop_duplicates(["exit", "point"]))
    n = len(distinct_features(acc).drop_duplicates(["exit", "point"]))
    return (f"{n} distinct features of {n_all} points (a pool after a ReLU or a dropout with the "
            "previous point's loss at every bit width is the same event, counted once)")


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
            f"{int(con['ReLU/pool points'].iloc[0])} ReLU/pool features; {_repeats_text(acc)}; "
            f"{_threshold_text(floor, images)}; {fc_text}; largest loss anywhere "
            f"{worst.loss_points:.2f} points ({int(worst.bits)} bits, exit {int(worst.exit)}, "
            f"point {int(worst.point)}) against the paper's \"serious accuracy drop\"")
    held = con[con["beyond threshold"]].bits.tolist()
    if len(held) == len(con):
        verdict = report.REPRODUCED
    elif held:
        others = con[~con["beyond threshold"]].bits.tolist()
        verdict = (f"direction only, at {_bits_list(held)} bits (at {_bits_list(others)} bits the "
                   f"types differ by no more than the {THRESHOLD}; largest loss "
                   f"{worst.loss_points:.2f} points)")
    else:
        verdict = (f"{report.DIVERGES} (conv/FC and ReLU/pool differ by no more than the "
                   f"{THRESHOLD}, {floor:.2f} points, at any bit width)")
    return report.claim(what, "yes", ours, verdict)


def _bits_row(acc, images, floor, what) -> dict:
    trend = bits_trend(acc, images)
    bits = sorted(int(b) for b in acc.bits.unique())
    n = len(trend)
    falls = int(trend["falls beyond threshold"].sum())
    rises = trend[trend["rises beyond threshold"]]
    # raw (no threshold) count per exit and consecutive pair: the loss at more bits above fewer
    wide = distinct_features(acc).pivot_table(index=["exit", "point"], columns="bits",
                                              values="loss_points")
    raw = []
    for e, w in wide.groupby(level="exit"):
        for a, b in zip(bits, bits[1:]):
            k = int((w[b] > w[a] + _EPS).sum())
            if k:
                raw.append(f"exit {e}: {b}-bit loss above {a}-bit at {k} of {len(w)} features")
    rise_text = ("; ".join(f"exit {r.exit} point {r.point} {r['rise between']} bits "
                           f"{r['largest rise']:+.2f}" for _, r in rises.iterrows())
                 if len(rises) else "none")
    ours = (f"paired per distinct feature, {_repeats_text(acc)}: the loss falls by more than the "
            f"{THRESHOLD} ({floor:.2f} points = 4 of {images} images; not a significance test) "
            f"from {bits[0]} to {bits[-1]} bits at {falls} of "
            f"{n}; it rises from fewer to more bits by more than the threshold at {len(rises)} "
            f"({rise_text}); by any amount: " + ("; ".join(raw) if raw else "nowhere"))
    if len(rises) == 0 and falls > 0:
        verdict = report.REPRODUCED
    else:
        why = []
        if len(rises):
            per_exit = rises.groupby("exit").size()
            totals = trend.groupby("exit").size()
            counts = ", ".join(f"{k} of {totals[e]} distinct features of exit {e}"
                               for e, k in per_exit.items())
            why.append(f"the loss rises from fewer to more bits by more than the {THRESHOLD} at "
                       f"{counts}")
        if falls == 0:
            why.append(f"at no feature does the loss fall by more than the {THRESHOLD} from "
                       f"{bits[0]} to {bits[-1]} bits")
        verdict = f"{report.DIVERGES} ({'; '.join(why)})"
    return report.claim(what, "yes", ours, verdict)


def _coder_verdict(by: pd.DataFrame, method: str, name: str) -> str:
    t = by[by.method == method]
    ok = t[t["within goal"]].bits.tolist()
    if not len(t):
        return f"{name} not measured"
    if len(ok) == len(t):
        return f"{name} met at every bit width"
    return (f"{name} met at {_bits_list(ok)} bits only" if ok
            else f"{name} met at no bit width")


def _coding_row(sizes: pd.DataFrame) -> dict:
    goal = 100 * CODING_GOAL
    what = (f"coded payload within {goal:g} % of the empirical entropy (project goal; judged per "
            "bit width on the mean over features and the size-weighted sum)")
    if sizes.empty:
        return report.infeasible(what, "—", "no feature was coded")
    by = coding_by_bits(sizes)
    msg = message_overhead(sizes)
    h = msg[msg.method == "huffman"]

    def per_bits(method):
        return ", ".join(f"{int(r.bits)} bits {r['payload / entropy (mean)']:.3f} / "
                         f"{r['Σ payload / Σ entropy']:.3f}" for _, r in by[by.method == method].iterrows())

    worst = msg.set_index(["method", "bits"])["payload / entropy (max)"]
    whole = ", ".join(f"{int(r.bits)} bits {r['message / entropy (mean)']:.2f} (max "
                      f"{r['message / entropy (max)']:.2f})" for _, r in h.iterrows())
    ours = (f"payload / entropy, mean over features / size-weighted Σ: Huffman {per_bits('huffman')}"
            f"; ANS {per_bits('ans')}; worst single feature: Huffman "
            f"{worst.get('huffman', pd.Series(dtype=float)).max():.3f}, ANS "
            f"{worst.get('ans', pd.Series(dtype=float)).max():.3f}; whole Huffman message (header "
            f"+ symbol table + payload) / entropy, mean over the points: {whole}")
    payload = (_coder_verdict(by, "huffman", "Huffman (the paper's coder)") + "; "
               + _coder_verdict(by, "ans", "ANS"))
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


def paper_bits_text(ours) -> str:
    """SAC-d's c (called 'quantization bits') beside ours, and its §III-A compression bound."""
    fig6c = max(r["bits"] for r in papers.SACD_FIG6C if r["bits"] is not None)
    need = papers.SACD_MIN_COMPRESSION
    return (f"SAC-d's c, called 'quantization bits': {{{_bits_list(papers.SACD_QUANT_BITS_EQ6)}}} "
            f"(eq. 6), {{{_bits_list(papers.SACD_QUANT_BITS_SETUP)}}} (§IV-A1); Fig. 6(c)'s text "
            f"selects up to {fig6c} bits | ours (profile): {{{_bits_list(ours)}}} bits = 2^c "
            f"levels\nSAC-d §III-A: quantization + Huffman 'can compress data to 1/{need:g} or "
            f"less', i.e. ≥ {need:g}× below fp32 (the bit width is not stated)")


def findings(sizes: pd.DataFrame, acc: pd.DataFrame, images: int, check: pd.DataFrame,
             bits: list[int]) -> list[str]:
    """Notebook 05's closing lines on sizes, accuracy and coding, every number computed from
    the tables (the energy line is the notebook's)."""
    need = papers.SACD_MIN_COMPRESSION
    floor = noise_floor(images)
    con, trend = type_contrast(acc, images), bits_trend(acc, images)
    held = con[con["beyond threshold"]].bits.tolist()
    by = coding_by_bits(sizes)
    h = message_overhead(sizes).query("method == 'huffman'")
    n_all = len(acc.drop_duplicates(["exit", "point"]))

    def coder(method, name):
        t = by[by.method == method]
        return (f"{name} " + ", ".join(
            f"{r['payload / entropy (mean)']:.3f} / {r['Σ payload / Σ entropy']:.3f} "
            f"({int(r.bits)} bits)" for _, r in t.iterrows())
            + " — within the goal at " + (f"{_bits_list(ok.bits)} bits" if len(ok := t[t["within goal"]])
                                           else "no bit width"))

    return [
        "Main-branch features, quantized + Huffman, against fp32: " + "; ".join(
            f"{int(r['bits'])} bits: {int(r[f'points ≥ {need:g}×'])} of {int(r['points'])} points "
            f"≥ {need:g}× (median {r['median ×']:.1f}×)"
            for r in compression_by_bits(sizes).to_dict("records")) + ".",
        f"The largest accuracy loss from quantization is {acc.loss_points.max():.2f} points; the "
        f"{THRESHOLD} is {floor:.2f} points (4 of {images} class-stratified images) — a threshold, "
        "not a significance test: a paired per-image (McNemar) test needs per-image predictions, "
        f"which are not stored. Over {len(trend)} distinct features of {n_all} points (a pool "
        "after a ReLU, or a dropout, with the previous point's loss is counted once), conv/FC "
        f"outputs lose more than ReLU/pool outputs beyond the threshold at "
        f"{_bits_list(held) + ' bits only' if held else 'no bit width'} ("
        + ", ".join(f"{r.bits} bits {r.difference:+.2f}" for r in con.itertuples()) + " points).",
        f"Paired per distinct feature, the loss falls by more than the threshold from "
        f"{min(bits)} to {max(bits)} bits at {int(trend['falls beyond threshold'].sum())} of "
        f"{len(trend)} features and rises from fewer to more bits by more than the threshold at "
        f"{int(trend['rises beyond threshold'].sum())}.",
        f"Payload / entropy against the {100 * CODING_GOAL:g} % goal, mean over features / "
        f"size-weighted: {coder('huffman', 'Huffman')}; {coder('ans', 'ANS')}. Whole Huffman "
        "messages (header + symbol table + payload) are on average "
        + ", ".join(f"{r['message / entropy (mean)']:.2f}× ({int(r['bits'])} bits)"
                    for r in h.to_dict("records"))
        + f" the entropy, at worst {h['message / entropy (max)'].max():.2f}×.",
        "The subset's unquantized exit accuracies ("
        + " / ".join(f"{a:.2f}" for a in check["subset (%)"]) + " %) match notebook 03's "
        f"whole-split ones within two standard errors for "
        f"{int(check['within sampling error'].sum())} of {len(check)} exits.",
    ]
