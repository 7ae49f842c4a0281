"""Edgent's choices executed for real over the edge runtime, beside what the models predict.

For each orientation and bandwidth, Alg. 1's choice (on-device inference where nothing meets
the requirement) runs through ``system.split.SplitRuntime``: the device slice here on the
``raspberry-pi-4`` platform, the edge slice in a server process, the link shaped by traffic
control or by the client's token bucket (each row names which). Three predictions stand beside
the measurement:

- *regression*: Alg. 1's A_{i,p} from notebook 04's per-layer regressions (Edgent's model);
- *averaged layers*: the same formula with the averaged per-layer measurements;
- *calibrated*: the platforms' measured compute of each slice and the runtime's measured
  per-request overhead, from a separate calibration pass (other images, an unshaped link),
  plus the link's time for the bytes: what Edgent's model leaves out, measured and added back.
  Under ``tc`` shaping the link's time is (bytes − the burst an idle tbf passes at once) /
  bandwidth per direction (``shaping.burst_bytes``), bytes / bandwidth otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import data, platforms
from .partition import PartitionSearch
from .system.link import Link, wifi

CALIBRATION_LINK = Link("calibration (1 GB/s)", 1e9)


def _choices(searches: dict[str, PartitionSearch], bandwidths_mb, requirement_ms: float):
    """(orientation, MB/s, decision, feasible) of every measured setting."""
    for o, s in searches.items():
        for mb in bandwidths_mb:
            d = s.decide(wifi(mb).bandwidth, requirement_ms)
            yield o, mb, d or s.device_only(wifi(mb).bandwidth), d is not None


def link_time_ms(link: Link, sent: int, received: int, shaping_mode: str) -> float:
    """The link's share of one request: each direction's bytes at the link's bandwidth, less the
    tbf burst that an idle link passes at once when traffic control shapes it."""
    free = 0
    if shaping_mode == "tc":
        from .system import shaping
        bps = 8 * link.bandwidth / shaping.goodput_factor()
        free = shaping.burst_bytes(bps) * shaping.goodput_factor()
    return 1e3 * sum(max(0.0, n - free) for n in (sent, received) if n) / link.bandwidth


def calibrate(model, runtime, choices, images: data.Split, device: platforms.Platform) -> dict:
    """Median device and edge compute per (orientation, exit, point), and the runtime's median
    per-request overhead (round trip − edge compute), on an unshaped link."""
    runtime.set_link(CALIBRATION_LINK)
    out, overheads = {}, []
    for o, _, d, _ in choices:
        if (o, d.exit, d.point) in out:
            continue
        runs = [runtime.run(model, images.images[i:i + 1], d.exit, d.point, o, device)
                for i in [0] + list(range(len(images)))][1:]  # the first is a warm-up
        out[(o, d.exit, d.point)] = {k: float(np.median([r[k] for r in runs]))
                                     for k in ("device_ms", "edge_ms")}
        overheads += [r["round_trip_ms"] - r["edge_ms"] for r in runs if r["sent_bytes"]]
    out["overhead_ms"] = float(np.median(overheads)) if overheads else 0.0
    return out


def measured_runs(model, runtime, searches: dict[str, PartitionSearch],
                  measured: dict[str, PartitionSearch], test: data.Split, requirement_ms: float,
                  bandwidths_mb, requests: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Run Alg. 1's choices over the runtime; one row per (orientation, bandwidth), and the
    calibration. The test images are a class-stratified draw of ``requests`` (the calibration
    another draw); one warm-up request per setting is discarded; times are medians over the
    requests (the mean and standard deviation of the end-to-end time are kept beside)."""
    pi = platforms.get("raspberry-pi-4")
    images = data.stratified(test, requests, seed)
    choices = list(_choices(searches, bandwidths_mb, requirement_ms))
    cal = calibrate(model, runtime, choices, data.stratified(test, requests, seed + 1), pi)
    rows = []
    for o, mb, d, feasible in choices:
        link = wifi(mb)
        runtime.set_link(link)
        runs = [runtime.run(model, images.images[i:i + 1], d.exit, d.point, o, pi)
                for i in [0] + list(range(len(images)))][1:]
        s = searches[o]
        ex = s.exits[d.exit - 1]
        on_edge = slice(0, d.point) if o == "edge-first" else slice(d.point, None)
        on_device = slice(d.point, None) if o == "edge-first" else slice(0, d.point)
        sent, received = runs[0]["sent_bytes"], runs[0]["received_bytes"]
        link_ms = 1e3 * (sent + received) / link.bandwidth
        c = cal[(o, d.exit, d.point)]
        measured_ms = [r["measured_ms"] for r in runs]
        rows.append({
            "orientation": o, "bandwidth_MBps": mb, "shaping": runs[0]["shaping"],
            "feasible": feasible, "exit": d.exit, "point": d.point,
            "predicted_ms (regression)": d.latency_ms,
            "predicted_ms (averaged layers)":
                measured[o].latencies(link.bandwidth)[d.exit - 1][d.point],
            "predicted_ms (calibrated)": c["device_ms"] + c["edge_ms"] + (
                cal["overhead_ms"] + link_time_ms(link, sent, received, runs[0]["shaping"])
                if sent else 0.0),
            "measured_ms": np.median(measured_ms), "measured_mean_ms": np.mean(measured_ms),
            "measured_std_ms": np.std(measured_ms),
            "device_ms": np.median([r["device_ms"] for r in runs]),
            "edge_ms": np.median([r["edge_ms"] for r in runs]),
            "predicted_device_ms": ex.device_ms[on_device].sum(),
            "predicted_edge_ms": ex.edge_ms[on_edge].sum(),
            "bytes_sent": sent, "bytes_received": received, "link_ms": link_ms,
            "requests": len(runs),
            "correct": np.mean([r["prediction"] == int(y) for r, y in zip(runs, images.labels)])})
    real = pd.DataFrame(rows)
    for name in ("regression", "averaged layers", "calibrated"):
        real[f"error ({name}) %"] = (100 * (real[f"predicted_ms ({name})"] - real.measured_ms)
                                     / real.measured_ms)
    real["unmodelled_ms"] = real.measured_ms - real.device_ms - real.edge_ms - real.link_ms
    return real, cal
