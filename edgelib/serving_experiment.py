"""Notebook 09's experiment: the MobileNet family measured, its ladder deployed on one edge
server of the runtime, and the adaptive paper's load ramp and open-loop traffic run for real.

``prepare`` trains (or loads) the family, measures every variant (``serving_variants``), keeps
the Pareto ladder and writes a deployment with three servers of the same models: ``adaptive``
(the latency-bounded dispatcher, bound T), ``adaptive-margin`` (bound margin × T) and ``fixed``
(each request on the model it names). ``run``
starts one of them behind the shaped cell link and runs a job of ``serving_run``;
``timeline`` and ``summary`` reduce its records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import cache, data, profiles, serving, serving_variants as sv
from .system import config, shaping

SERVER_OF = {"server": "adaptive", "both": "adaptive", "both-margin": "adaptive-margin",
             "client": "fixed", "most-accurate": "fixed", "cheapest": "fixed"}


@dataclass
class Setup:
    profile: profiles.Profile
    dataset: data.Cifar
    family: dict
    table: pd.DataFrame  # every variant: accuracy, cost
    ladder: pd.DataFrame  # the dispatcher's order (Pareto front), most accurate first
    config: Path
    inputs: Path
    shaping: str  # "tc" or "none" (loopback: traffic control not permitted here)


def prepare(profile: profiles.Profile | str, progress: bool = True) -> Setup:
    profile = profiles.get(profile)
    k = profile.serving
    dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class,
                        profile.seed)
    family = sv.train_family(profile, dataset, progress)
    table = sv.measure(profile, dataset, family)
    ladder = sv.ladder(table)
    serving.Ladder(tuple(ladder.variant), tuple(ladder.accuracy))  # checks the order
    key = {"stage": "serving-deploy", **sv.family_config(profile, dataset, k.widths[0]),
           "widths": list(k.widths), "ladder": list(ladder.variant)}
    folder = cache.entry("serving-deploy", key)
    entries = sv.export(profile, dataset, family, list(ladder.variant), folder)
    names = list(ladder.variant)
    servers = {"adaptive": {"platform": "edge-core", "load": names,
                            "dispatch": {"ladder": names, "bound_ms": k.bound_ms}},
               "adaptive-margin": {"platform": "edge-core", "load": names, "dispatch": {
                   "ladder": names, "bound_ms": k.margin * k.bound_ms}},
               "fixed": {"platform": "edge-core", "load": names}}
    path = config.write(folder / "deploy.json", servers, entries)
    test = data.stratified(dataset.test, k.accuracy_images or 2000, profile.seed)
    inputs = folder / "inputs.npz"
    np.savez(inputs, images=test.images.numpy(), labels=test.labels.numpy())
    ok, _ = shaping.available()
    return Setup(profile, dataset, family, table, ladder, path, inputs, "tc" if ok else "none")


def job(setup: Setup, policy: str, open_loop: bool | dict = False, **changes) -> dict:
    """A ``serving_run`` job of the profile's knobs (``changes`` override them); ``open_loop``
    True for the profile's flash crowd, or the arrivals as a dict."""
    k = setup.profile.serving
    j = {"policy": policy, "inputs": str(setup.inputs), "ladder": list(setup.ladder.variant),
         "resolutions": sorted(k.resolutions, reverse=True), "bound_ms": k.bound_ms,
         "server_bound_ms": k.margin * k.bound_ms if policy == "both-margin" else k.bound_ms,
         "controller": {"upper_ms": k.upper_ms, "lower_ms": k.lower_ms,
                        "hold_off": k.hold_off},
         "clients": k.clients, "add_every_s": k.add_every_s, "hold_s": k.hold_s,
         "timeout_s": k.timeout_s, "seed": setup.profile.seed}
    if isinstance(open_loop, dict):  # arrivals of one's own
        j["open_loop"] = open_loop
    elif open_loop:
        j["open_loop"] = {"rate_per_s": k.open_rate_per_s, "horizon_s": k.open_horizon_s,
                          "burst": k.open_burst, "burst_from_s": k.open_burst_s[0],
                          "burst_to_s": k.open_burst_s[1]}
    return {**j, **changes}


def run(setup: Setup, the_job: dict) -> pd.DataFrame:
    """The job on a fresh server (``adaptive`` or ``fixed`` as its policy needs) behind the
    cell link; one row per request, labelled with the policy, shaping and mode."""
    from .system.deployment import Deployment

    name = SERVER_OF[the_job["policy"]]
    with Deployment(setup.config, [name], link_bps(setup), runner="edgelib.serving_run") as dep:
        rows = dep.run(the_job, timeout_s=600.0)
        cpu_s = dict(dep.cpu_s)
    df = pd.DataFrame(rows)
    df.attrs["cpu_s"] = cpu_s  # CPU seconds of the server and the clients' process
    df["policy"], df["shaping"], df["mode"] = the_job["policy"], setup.shaping, "measured"
    df["load"] = "open loop" if the_job.get("open_loop") else "ramp"
    return df


def clients_at(df: pd.DataFrame, the_job: dict) -> pd.Series:
    """Closed-loop clients active when each request was sent (the ramp's load)."""
    return np.minimum(the_job["clients"], 1 + (df.sent_s // the_job["add_every_s"])).astype(int)


def timeline(df: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """Per time bin (by when requests were sent): mean accuracy, mean and p99 latency,
    requests answered per second, mean resolution and the share of each variant."""
    df = df.assign(bin=(df.sent_s // bin_s) * bin_s)
    g = df.groupby("bin")
    out = pd.DataFrame({
        "accuracy": g.correct.mean(), "mean_ms": g.latency_ms.mean(),
        "p99_ms": g.latency_ms.quantile(0.99), "per_s": g.size() / bin_s,
        "resolution": g.resolution.mean(),
        "failed": g.status.agg(lambda s: (s != "OK").mean())})
    return out.reset_index()


def summary(frames: list[pd.DataFrame], bound_ms: float, slo_ms: float) -> pd.DataFrame:
    """One row per run: requests, accuracy (%, failures count as wrong), mean / p99 latency of
    the answered requests, the share over the SLO end to end (failures count as over), the
    share whose time in the server (queue + compute) exceeded T, failures (%)."""
    rows = []
    for df in frames:
        ok = df[df.status == "OK"]
        server_ms = (ok.queue_ms + ok.compute_ms if {"queue_ms", "compute_ms"} <= set(ok)
                     else pd.Series(np.nan, index=ok.index))  # simulated: not recorded
        rows.append({"policy": df.policy.iloc[0], "requests": len(df),
                     "accuracy %": 100 * df.correct.mean(), "mean ms": ok.latency_ms.mean(),
                     "p99 ms": ok.latency_ms.quantile(0.99),
                     f"% over SLO ({slo_ms:g} ms)": 100 * ((df.status != "OK")
                                                        | (df.latency_ms > slo_ms)).mean(),
                     "% over T in server": (100 * (server_ms > bound_ms).mean()
                                            if server_ms.notna().any() else float("nan")),
                     "% failed": 100 * (df.status != "OK").mean(), "mode": df["mode"].iloc[0]})
    return pd.DataFrame(rows)


def request_bytes(setup: Setup) -> dict[int, int]:
    """Bytes of one request message at every resolution (what the cell link carries)."""
    from .system import client

    return {r: client._message_bytes(setup.ladder.variant.iloc[0],
                                     np.zeros((1, 3, r, r), np.uint8))
            for r in setup.profile.serving.resolutions}


def link_bps(setup: Setup) -> float | None:
    """The cell link's rate when it is shaped, else None (loopback)."""
    return setup.profile.serving.bandwidth_mbit * 1e6 if setup.shaping == "tc" else None


def describe(setup: Setup) -> str:
    """Where the numbers come from and the knobs of the runs, for a notebook to print."""
    k = setup.profile.serving
    link = (f"tc (tbf) at {k.bandwidth_mbit:g} Mbit/s" if setup.shaping == "tc"
            else "loopback, unshaped (tc not permitted here)")
    return (f"variants served on platform edge-core (1 thread), batch 1; cell link: {link}\n"
            f"T = {k.bound_ms:g} ms (policy both-margin: {k.margin:g} T); clients: resolutions "
            f"{sorted(k.resolutions, reverse=True)}, TC_upper = {k.upper_ms:g} ms, TC_lower = "
            f"{k.lower_ms:g} ms, hold-off {k.hold_off} answers\n"
            f"ramp: +1 client every {k.add_every_s:g} s to {k.clients}, held {k.hold_s:g} s; "
            f"open loop: {k.open_rate_per_s:g} requests/s, ×{k.open_burst:g} in "
            f"[{k.open_burst_s[0]:g}, {k.open_burst_s[1]:g}) s of {k.open_horizon_s:g} s; every "
            f"request's deadline {k.timeout_s:g} s")
