"""SAC-d Fig. 6c beside ours, and why our optimum differs (split from ``sacd_report``).

``fig6c`` compares, per bandwidth range the paper describes (``papers.SACD_FIG6C``), SAC-d's and
the oracle's (exit, bits, partition) with the paper's; ``upload_context`` and
``reward_context`` compute why even the oracle differs; ``extrapolation`` states which sweep
points lie outside the training traces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import agents, papers, report, rl
from .coinference import RAW_IMAGE_BYTES
from .sacd_report import (
    _last_points, NOT_COMPARABLE, NOT_FEASIBLE, bits_label, sweep)


def _in_range(bandwidth_MBps: pd.Series, i: int, segments) -> pd.Series:
    lo, hi = segments[i]["bw_MBps"]
    top = bandwidth_MBps <= hi if i == len(segments) - 1 else bandwidth_MBps < hi
    return (bandwidth_MBps >= lo) & top


def _choice(steps: pd.DataFrame, last: dict[int, int]) -> dict | None:
    """Modal exit and its share, modal bits of quantized uploads, partition points and trend."""
    if steps.empty:
        return None
    exit_ = int(steps.exit.mode().iloc[0])
    same = steps[steps.exit == exit_]
    quantized = steps[(steps.point > 0) & (steps.point < steps.exit.map(last))]
    median = same.groupby("bandwidth").point.median()
    return {"exit": exit_, "exit_share": float((steps.exit == exit_).mean()),
            "bits": int(quantized.bits.mode().iloc[0]) if len(quantized) else None,
            "local": float((same.point == last.get(exit_, -1)).mean()),
            "first": int(median.iloc[0]), "last": int(median.iloc[-1]),
            "moves": median.nunique() > 1, "n_points": last.get(exit_)}


def _describe(c: dict | None) -> str:
    if c is None:
        return "—"
    where = (f"point {c['first']} → {c['last']}" if c["moves"] else f"point {c['first']}") + \
        f" of {c['n_points']}" + (f" (all on the device at {c['local']:.0%} of steps)"
                                  if 0 < c["local"] < 1 else "")
    bits = f"{c['bits']} bits" if c["bits"] is not None else "no quantized upload"
    return f"exit {c['exit']} ({c['exit_share']:.0%} of steps), {bits}, {where}"


def _differences(segment: dict, c: dict, bits_set: tuple[int, ...]) -> list[str]:
    """What differs from the paper's stated (exit, bits, partition) in one bandwidth range; bits
    outside ``bits_set`` are not compared (the range is then not comparable)."""
    out = [] if c["exit"] == segment["exit"] else [f"exit {c['exit']}, not {segment['exit']}"]
    if segment["bits"] in bits_set and c["bits"] != segment["bits"]:
        got = f"{c['bits']} bits" if c["bits"] is not None else "no quantized upload"
        out.append(f"{got}, not {segment['bits']}")
    partition = segment["partition"] or ""
    if partition.startswith("entire DNN") and not c["local"] > 0.5:  # at most of the steps
        out.append("not all on the device")
    if partition.startswith("moves forward") and not c["last"] < c["first"]:
        out.append("the point does not move forward")
    return out


def sensitivity(sw: pd.DataFrame, segments=papers.SACD_FIG6C) -> dict:
    """Does SAC-d's choice follow the bandwidth? Per seed (of one bit set's sweep), its modal
    (exit, point, uploaded bits) in each of the paper's ranges after the first; a seed whose
    modal action is the same in all of them ignores the bandwidth there. The policy counts as
    insensitive to bandwidth when more than half of the seeds do."""
    sac = sw[sw.agent == "sac-d"].assign(c=lambda d: d.c_uploaded.fillna(-1))
    upper = range(1, len(segments))
    constant = 0
    for _, g in sac.groupby("policy"):
        modes = {tuple(g[_in_range(g.bandwidth_MBps, i, segments)][["exit", "point", "c"]]
                       .value_counts().index[0]) for i in upper
                 if _in_range(g.bandwidth_MBps, i, segments).any()}
        constant += len(modes) == 1
    seeds = sac.policy.nunique()
    return {"seeds": seeds, "constant": constant, "insensitive": 0 < seeds < 2 * constant,
            "ranges": len(upper),
            "from_MBps": segments[1]["bw_MBps"][0] if len(segments) > 1 else 0.0}


def _sensitivity_text(s: dict) -> str:
    return (f"policy insensitive to bandwidth: {s['constant']} of {s['seeds']} seeds keep one "
            f"(exit, point, bits) in all {s['ranges']} ranges from {s['from_MBps']:g} MB/s")


def fig6c(runs: dict[str, dict], segments=papers.SACD_FIG6C) -> pd.DataFrame:
    """Per bandwidth range of Fig. 6c and bit set: the paper's (exit, bits, partition), SAC-d's
    choices (all seeds) and the oracle's, with a verdict for SAC-d and the oracle's differences.

    A range whose paper bit width is outside the bit set is "not comparable" (its other
    differences are listed); where SAC-d's policy ignores the bandwidth (``sensitivity``) no
    range after the first counts as reproduced."""
    sw, rows = sweep(runs), []
    sens = {label: sensitivity(sw[sw.bits_set == label], segments) for label in runs}
    for i, seg in enumerate(segments):
        lo, hi = seg["bw_MBps"]
        part = sw[_in_range(sw.bandwidth_MBps, i, segments)]
        for label, res in runs.items():
            mine, bits = part[part.bits_set == label], tuple(res.get("bits", []))
            last = _last_points(res.get("actions", []))
            sac, orc = (_choice(mine[mine.agent == a], last) for a in ("sac-d", "oracle"))
            outside = seg["bits"] is not None and seg["bits"] not in bits

            def apart(diff: str) -> str:
                return (f"{NOT_COMPARABLE} (the paper's {seg['bits']} bits are not in c ∈ "
                        f"{bits_label(bits)}" + (f"; otherwise: {diff})" if diff else ")"))
            if orc is None:
                verdict = "not tested: no sweep point in this range"
            elif not (mine[mine.agent == "oracle"].reward > 0).any():
                verdict = f"{report.NOTHING_FEASIBLE} ({NOT_FEASIBLE})"
            elif sac is None:
                verdict = "not tested: SAC-d not trained on this set"
            else:
                diff = _differences(seg, sac, bits)
                if i > 0 and sens[label]["insensitive"]:
                    diff.append(_sensitivity_text(sens[label]))
                verdict = (apart("; ".join(diff)) if outside else
                           f"{report.DIVERGES} ({'; '.join(diff)})" if diff else report.REPRODUCED)
            odiff = "; ".join(_differences(seg, orc, bits)) if orc else ""
            ovs = "—" if orc is None else apart(odiff) if outside else odiff or "same"
            rows.append({"bandwidth (MB/s)": f"{lo:g}–{hi:g}", "bits set": label,
                         "paper": (f"exit {seg['exit']}, {seg['bits'] or '—'} bits, "
                                   f"{seg['partition'] or '—'}"),
                         "SAC-d (all seeds)": _describe(sac), "oracle": _describe(orc),
                         "oracle vs paper": ovs, "verdict (SAC-d)": verdict})
    return pd.DataFrame(rows)


def paper_fig6c_steps(segments=papers.SACD_FIG6C) -> pd.DataFrame:
    """The paper's stated exit and bits as step lines (bits NaN where the text states none)."""
    return pd.DataFrame([{"bandwidth_MBps": b, "exit": s["exit"],
                          "bits": np.nan if s["bits"] is None else s["bits"]}
                         for s in segments for b in s["bw_MBps"]])


def upload_context(instance) -> str:
    """Why "exit 1, 16 bits, the point moving forward" cannot be optimal here: the upload at
    p = 0 (the raw image) against the widest quantized feature at every point of every exit."""
    c = max(instance.bits)
    j, parts = instance.bits.index(c), []
    for e, up in enumerate(instance.upload_bytes):
        n = len(instance.device_ms[e])
        feats = up[1:n, j]
        small = np.nonzero(feats < RAW_IMAGE_BYTES)[0]
        until = int(small[0]) if len(small) else n - 1  # points 1…until are ≥ the raw image
        if until == 0:
            parts.append(f"exit {e + 1}: smaller from point 1")
            continue
        parts.append(f"exit {e + 1}: points 1–{until} ≥ {feats[:until].min():,.0f} B"
                     + (f", smaller only from point {until + 1} of {n}" if len(small) else ""))
    lo, hi = papers.SACD_IMAGE_SIZE_MB
    return (f"At p = 0 the device uploads the raw CIFAR image, {RAW_IMAGE_BYTES:,} B "
            f"(coinference.RAW_IMAGE_BYTES); every {c}-bit feature is larger until the last "
            f"layers of its exit — {'; '.join(parts)} (Huffman-coded, notebook 05). Running "
            "layers on the device to upload more bytes never pays, so a partition point that "
            f"'moves forward' with {c}-bit uploads cannot be optimal on 32×32 images. SAC-d "
            f"assumes images of {lo:g}–{hi:g} MB (§I), {lo * 1e6 / RAW_IMAGE_BYTES:,.0f}–"
            f"{hi * 1e6 / RAW_IMAGE_BYTES:,.0f}× ours, where a few device layers do shrink the "
            "upload.")


def reward_context(instance, params: rl.RewardParams, n_images: int,
                   segments=papers.SACD_FIG6C, first: int = 2) -> str:
    """From the paper's range ``first`` (7 MB/s) up: the reward's latency weight b = 1 − a at
    each range edge, and how far the oracle's choices there differ in accuracy from the same
    exit unquantized, against the sampling noise of one accuracy on ``n_images`` images."""
    edges = sorted({x for s in segments[first:] for x in s["bw_MBps"]})
    b = ", ".join(f"{params.weights(x * rl.MB)[1]:.2f} at {x:g}" for x in edges)
    oracle = rl.Oracle(instance, params)
    rows = []
    for bw in rl.sweep_trace():
        if bw >= edges[0] * rl.MB:
            e, p, c = instance.actions[oracle.act(bw)]
            rows.append((instance.evaluate(e, p, c, bw)[2], instance.exit_accuracy[e - 1]))
    acc = 100 * np.array(rows)
    gap = np.abs(acc[:, 0] - acc[:, 1]).max()
    p = acc[:, 1].mean() / 100
    se = 100 * np.sqrt(p * (1 - p) / n_images)

    def span(x):
        return f"{x.min():.2f} %" if x.min() == x.max() else f"{x.min():.2f}–{x.max():.2f} %"
    return (f"From {edges[0]:g} MB/s the reward's latency weight b = 1 − a is {b} MB/s, so the "
            f"oracle ranks actions almost by measured accuracy alone. With c ∈ "
            f"{bits_label(instance.bits)} its choices there score {span(acc[:, 0])} against "
            f"{span(acc[:, 1])} for the same exit unquantized: at most {gap:.2f} points, "
            f"{gap / 100 * n_images:.0f} of {n_images:,} test images, while one such accuracy's "
            f"standard error is ≈ {se:.2f} points — the choice among them rests on sampling "
            "noise.")


def extrapolation(runs: dict[str, dict], train_traces: np.ndarray) -> str:
    """Sweep points below the lowest training bandwidth, and the agent runs that upload at 0."""
    floor = float(np.min(train_traces)) / rl.MB
    sw = sweep(runs)
    bw = np.sort(sw.bandwidth_MBps.unique())
    below = bw[bw < floor]
    zero = sw[(sw.bandwidth_MBps == 0) & sw.agent.isin(agents.AGENTS)]
    up = zero.groupby("curve").latency_ms.agg(lambda x: int(np.isinf(x).sum()))
    total = zero.groupby("curve").size()
    each = "; ".join(f"{c} {up[c]} of {total[c]}" for c in total.index)
    return (f"The lowest bandwidth in the training traces is {floor:g} MB/s (random walks), so "
            f"the sweep's {len(below)} point(s) below it ({', '.join(f'{x:g}' for x in below)} "
            f"MB/s) are extrapolation. At 0 MB/s {int(up.sum())} of {int(total.sum())} agent runs "
            f"upload (an upload that never completes: infinite latency) — {each or 'none'}.")


# ------------------------------------------------------------------------- paper vs here
