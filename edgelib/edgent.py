"""Notebook 06's experiment: Edgent's Alg. 1 checked, swept, run over real sockets, judged.

Every function takes the searches (``partition.PartitionSearch``, one per orientation) and
returns a table; ``claims`` turns the tables into the paper-vs-here rows. Nothing here assumes
that any (exit, point) meets the latency requirement: where nothing does, the tables say so
(NaN exit) and the claims say "nothing feasible" instead of failing.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from . import data, partition, platforms, report
from .partition import PartitionSearch

BASELINES = ("device only", "edge only", "Neurosurgeon")


def agreement(searches: dict[str, PartitionSearch], bandwidths, requirements) -> tuple[int, int]:
    """(cases where Alg. 1 equals brute force, cases) over a grid, both orientations."""
    agree = total = 0
    for o, s in searches.items():
        for b in bandwidths:
            for t in requirements:
                got, want = s.decide(b, t), partition.brute_force(s.exits, b, t, o)
                total += 1
                agree += (got is None and want is None) or (
                    got is not None and want is not None and got.exit == want.exit
                    and abs(got.latency_ms - want.latency_ms) < 1e-9)
    return agree, total


def decision_ms(search: PartitionSearch, bandwidths, requirements) -> float:
    """Mean wall-clock time of one ``decide`` over the grid (a benchmark, milliseconds)."""
    start = time.perf_counter()
    for b in bandwidths:
        for t in requirements:
            search.decide(b, t)
    return (time.perf_counter() - start) / (len(bandwidths) * len(requirements)) * 1e3


def _row(d: partition.Decision | None) -> dict:
    """Exit, point, latency and accuracy of a decision; NaN where nothing was feasible."""
    if d is None:
        return {"exit": np.nan, "point": np.nan, "latency_ms": np.nan, "accuracy": np.nan}
    return {"exit": d.exit, "point": d.point, "latency_ms": d.latency_ms, "accuracy": d.accuracy}


def selection_vs_bandwidth(searches: dict[str, PartitionSearch], bandwidths,
                           requirement_ms: float) -> pd.DataFrame:
    """Alg. 1's choice and the three baselines' latencies at each bandwidth (bytes/s)."""
    rows = []
    for o, s in searches.items():
        for b in bandwidths:
            base = {"device only": s.device_only(b), "edge only": s.edge_only(b),
                    "Neurosurgeon": s.neurosurgeon(b)}
            rows.append({"orientation": o, "bandwidth_MBps": b / 1e6,
                         **_row(s.decide(b, requirement_ms)),
                         **{f"{k} ms": v.latency_ms for k, v in base.items()}})
    return pd.DataFrame(rows)


def selection_vs_requirement(searches: dict[str, PartitionSearch], requirements,
                             bandwidth: float) -> pd.DataFrame:
    """Alg. 1's choice at each latency requirement (ms); exit 0 where no exit meets it."""
    rows = []
    for o, s in searches.items():
        for t in requirements:
            row = _row(s.decide(bandwidth, t))
            row["exit"] = 0 if np.isnan(row["exit"]) else row["exit"]
            rows.append({"orientation": o, "requirement_ms": t, **row})
    out = pd.DataFrame(rows)
    out["accuracy"] *= 100
    return out


def measured_runs(model, edge, searches: dict[str, PartitionSearch],
                  measured: dict[str, PartitionSearch], test: data.Split, requirement_ms: float,
                  bandwidths_mb, requests: int, seed: int) -> pd.DataFrame:
    """Run Alg. 1's choice (device only where nothing is feasible) over real sockets.

    ``edge`` is a running ``system.device.EdgeProcess``; the device side runs here on the
    ``raspberry-pi-4`` platform. The test images are a class-stratified draw of ``requests``.
    One warm-up request per setting is discarded.
    """
    from .system import device as edge_device
    from .system.link import wifi

    pi = platforms.get("raspberry-pi-4")
    images = data.stratified(test, requests, seed)
    rows = []
    for o, s in searches.items():
        for mb in bandwidths_mb:
            link = wifi(mb)
            d = s.decide(link.bandwidth, requirement_ms)
            feasible = d is not None
            d = d or s.device_only(link.bandwidth)

            def run(i: int) -> dict:
                return edge_device.run_split(model, edge, images.images[i:i + 1], d.exit,
                                             d.point, o, link, pi)

            run(0)  # warm-up
            runs = [run(i) for i in range(len(images))]
            ex = s.exits[d.exit - 1]
            on_edge = slice(0, d.point) if o == "edge-first" else slice(d.point, None)
            on_device = slice(d.point, None) if o == "edge-first" else slice(0, d.point)
            measured_ms = [r["measured_ms"] for r in runs]
            rows.append({
                "orientation": o, "bandwidth_MBps": mb, "feasible": feasible, "exit": d.exit,
                "point": d.point, "predicted_ms (regression)": d.latency_ms,
                "predicted_ms (averaged layers)":
                    measured[o].latencies(link.bandwidth)[d.exit - 1][d.point],
                "measured_ms": np.mean(measured_ms), "measured_std_ms": np.std(measured_ms),
                "device_ms": np.mean([r["device_ms"] for r in runs]),
                "edge_ms": np.mean([r["edge_ms"] for r in runs]),
                "predicted_device_ms": ex.device_ms[on_device].sum(),
                "predicted_edge_ms": ex.edge_ms[on_edge].sum(),
                "bytes_sent": runs[0]["sent_bytes"], "bytes_received": runs[0]["received_bytes"],
                "requests": len(runs),
                "correct": np.mean([r["prediction"] == int(y)
                                    for r, y in zip(runs, images.labels)])})
    real = pd.DataFrame(rows)
    for name in ("regression", "averaged"):
        col = f"predicted_ms ({'regression' if name == 'regression' else 'averaged layers'})"
        real[f"error ({name}) %"] = 100 * (real[col] - real.measured_ms) / real.measured_ms
    real["link_ms"] = 1e3 * (real.bytes_sent + real.bytes_received) / (real.bandwidth_MBps * 1e6)
    real["unmodelled_ms"] = real.measured_ms - real.device_ms - real.edge_ms - real.link_ms
    return real


def claims(sel: pd.DataFrame, real: pd.DataFrame, agree: int, total: int,
           per_decision_ms: float, requirement_ms: float) -> list[dict]:
    """Paper-vs-here rows of notebook 06; claims about selections need a feasible one."""
    rows = [
        report.claim("Alg. 1 returns the exact optimum", "—",
                     f"{agree}/{total} cases equal brute force",
                     report.REPRODUCED if agree == total else report.DIVERGES),
        report.claim("decision time fit for per-request use (issue goal ≤ 1 ms)", "—",
                     f"{per_decision_ms * 1e3:.0f} µs",
                     "met" if per_decision_ms <= 1 else "not met"),
    ]
    what = "more bandwidth → more work moves to the edge, later (more accurate) exits"
    ef = sel[sel.orientation == "edge-first"].dropna(subset=["exit"])
    if ef.empty:
        rows.append(report.infeasible(
            what, "yes", f"no exit meets {requirement_ms:g} ms at any bandwidth swept"))
        rows.append(report.infeasible("co-inference beats device only", "yes",
                                      f"no exit meets {requirement_ms:g} ms"))
    else:
        low, high = ef.iloc[0], ef.iloc[-1]
        moves = ef.point.nunique() > 1
        rows.append(report.claim(
            what, "yes",
            f"at {low.bandwidth_MBps:.2f} MB/s exit {int(low.exit)} point {int(low.point)}; "
            f"at {high.bandwidth_MBps:.0f} MB/s exit {int(high.exit)} point {int(high.point)}",
            report.REPRODUCED if (high.exit >= low.exit and moves) else report.DIVERGES))
        gain = (ef["device only ms"] / ef.latency_ms).max()
        rows.append(report.claim("co-inference beats device only", "yes",
                                 f"up to {gain:.1f}× lower predicted latency",
                                 report.REPRODUCED if gain > 1.05 else report.DIVERGES))
    what = "regression predictions track real runs"
    if real.empty:
        rows.append(report.infeasible(what, "accurate", "no run was measured"))
    else:
        err = real["error (regression) %"].abs().mean()
        err_avg = real["error (averaged) %"].abs().mean()
        rows.append(report.claim(
            what, "accurate", f"mean |error| {err:.0f} % (regression), {err_avg:.0f} % "
                              f"(averaged layers) over {len(real)} measured settings",
            report.REPRODUCED if err <= 25 else f"{report.DIVERGES} (mean |error| {err:.0f} %)"))
    return rows
