"""Edgent's choices executed for real over the edge runtime, beside what the models predict.

For each orientation and bandwidth, Alg. 1's choice (on-device inference where nothing meets
the requirement) runs through ``system.split.SplitRuntime``: the device slice here on the
``raspberry-pi-4`` platform, the edge slice in a server process, the link shaped by traffic
control (``tc``) or by the client's token bucket (``token-bucket``); each row names which.
Three predictions stand beside the measurement:

- *regression*: Alg. 1's A_{i,p} from notebook 04's per-layer regressions (Edgent's model);
- *averaged layers*: the same formula with notebook 04's averaged per-layer measurements;
- *calibrated*: each setting's compute as timed by a block of calibration requests right
  before its measured block (another stratified draw of images, a 1 GB/s link — under tc a
  tbf at that rate), plus one per-request overhead per shaping (round trip − edge compute, the
  median over every networked calibration request) and the link's time for the bytes. Under
  ``token-bucket`` that time is bytes / bandwidth each way; under ``tc`` it is (bytes − the
  bucket an idle tbf passes at once) / bandwidth (``link_time_ms``): a message smaller than the
  bucket crosses almost unshaped. On-device rows compare the calibration block's compute with
  the measured block's time of the same slice (a repeat); the networked rows are the test.
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


def _medians(runs: list[dict], keys=("device_ms", "edge_ms")) -> dict:
    return {k: float(np.median([r[k] for r in runs])) for k in keys}


def measured_runs(model, runtime, searches: dict[str, PartitionSearch],
                  measured: dict[str, PartitionSearch], test: data.Split, requirement_ms: float,
                  bandwidths_mb, requests: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Run Alg. 1's choices over the runtime; one row per (orientation, bandwidth).

    Setting by setting, a calibration block right before the measured block: ``requests``
    calibration requests (another class-stratified draw of test images) on the 1 GB/s
    ``CALIBRATION_LINK``, then ``requests`` measured requests on the setting's link; the link
    changes twice per setting, never between requests of a block. The first request of each
    block is a warm-up and is discarded; times are medians over the block."""
    pi = platforms.get("raspberry-pi-4")
    images = data.stratified(test, requests, seed)
    cal_images = data.stratified(test, requests, seed + 1)
    choices = list(_choices(searches, bandwidths_mb, requirement_ms))
    runs, cals = {}, {}
    for i, (o, mb, d, _) in enumerate(choices):
        for out, link, draw in ((cals, CALIBRATION_LINK, cal_images), (runs, wifi(mb), images)):
            runtime.set_link(link)
            out[i] = [runtime.run(model, draw.images[k:k + 1], d.exit, d.point, o, pi)
                      for k in [0] + list(range(len(draw)))][1:]
    overhead_ms = float(np.median([r["round_trip_ms"] - r["edge_ms"] for c in cals.values()
                                   for r in c if r["sent_bytes"]] or [0.0]))
    rows = []
    for i, (o, mb, d, feasible) in enumerate(choices):
        link, r = wifi(mb), runs[i]
        s = searches[o]
        ex = s.exits[d.exit - 1]
        on_edge = slice(0, d.point) if o == "edge-first" else slice(d.point, None)
        on_device = slice(d.point, None) if o == "edge-first" else slice(0, d.point)
        sent, received = r[0]["sent_bytes"], r[0]["received_bytes"]
        charged_ms = link_time_ms(link, sent, received, r[0]["shaping"])
        c = _medians(cals[i])
        measured_ms = [x["measured_ms"] for x in r]
        rows.append({
            "orientation": o, "bandwidth_MBps": mb, "shaping": r[0]["shaping"],
            "feasible": feasible, "exit": d.exit, "point": d.point,
            "predicted_ms (regression)": d.latency_ms,
            "predicted_ms (averaged layers)":
                measured[o].latencies(link.bandwidth)[d.exit - 1][d.point],
            "predicted_ms (calibrated)": c["device_ms"] + c["edge_ms"] + (
                overhead_ms + charged_ms if sent else 0.0),
            "measured_ms": np.median(measured_ms),
            "measured_p25_ms": np.percentile(measured_ms, 25),
            "measured_p75_ms": np.percentile(measured_ms, 75),
            "measured_mean_ms": np.mean(measured_ms), "measured_std_ms": np.std(measured_ms),
            **_medians(r), "calibration device_ms": c["device_ms"],
            "calibration edge_ms": c["edge_ms"],
            "predicted_device_ms": ex.device_ms[on_device].sum(),
            "predicted_edge_ms": ex.edge_ms[on_edge].sum(),
            "bytes_sent": sent, "bytes_received": received,
            "link_ms": 1e3 * (sent + received) / link.bandwidth,  # Edgent's bytes / B
            "link_charged_ms": charged_ms,  # what the shaping makes it (see link_time_ms)
            "requests": len(r),
            "correct": np.mean([x["prediction"] == int(y) for x, y in zip(r, images.labels)])})
    real = pd.DataFrame(rows)
    for name in ("regression", "averaged layers", "calibrated"):
        real[f"error ({name}) %"] = (100 * (real[f"predicted_ms ({name})"] - real.measured_ms)
                                     / real.measured_ms)
    real["overhead_ms (calibration)"] = np.where(real.bytes_sent > 0, overhead_ms, np.nan)
    real["unmodelled_ms"] = (real.measured_ms - real.device_ms - real.edge_ms
                             - real.link_charged_ms)
    return real, {"overhead_ms": overhead_ms}


def measure(model, weights: str, width: int, modes: list[str], searches, measured, test,
            requirement_ms: float, bandwidths_mb, requests: int, seed: int) -> pd.DataFrame:
    """``measured_runs`` under each shaping mode (a fresh server per mode), one table."""
    from .system import split

    lengths = [len(model.branch(e)) for e in range(1, len(searches["edge-first"].exits) + 1)]
    tables = []
    for mode in modes:
        with split.SplitRuntime(weights, width, lengths, mode) as runtime:
            tables.append(measured_runs(model, runtime, searches, measured, test,
                                        requirement_ms, bandwidths_mb, requests, seed)[0])
    return pd.concat(tables, ignore_index=True)
