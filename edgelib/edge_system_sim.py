"""Notebook 08's simulated parts: the simulator's workloads from measured runs, the fully
loaded servers (Table 4's counterpart), the placement ablation and the 30-server sweep — every
one calling ``edgelib.system.sim`` with the same policies the real system uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import recall
from .edge_system import (Setup, cluster_devices, fm_message_bytes, models_pretty, placement,
                          shares_per_cluster)
from .system import policies, sim


def partitioned_workload(setup, outcomes, name) -> sim.Workload:
    """The simulator's view of a partitioned baseline, from its computed run."""
    n = len(setup.labels)
    df = pd.DataFrame(outcomes).groupby("index")["head_ms"].median().reindex(range(n))
    k = len(setup.members)
    work = sim.Workload(np.full((n, k), 1.0 / k), np.zeros((k, n), int), np.zeros((k, n)),
                        df.fillna(df.median()).to_numpy(), np.zeros(n),
                        fm_message_bytes(setup, setup.baselines[name]))
    return work


def full_load(setup: Setup, place, work, cal, raw: dict, devices, bw: float, tc: bool):
    """Time per input with the three servers saturated (simulated, independent servers), with
    each server's 100 Mbit/s access link and with no link limit (servers only)."""
    S, rows = setup.profile.system, []
    for link, bps in ((f"{bw:g} Mbit/s per server", bw * 1e6), ("no link limit", None)):
        rows.append({"system": "two-level", "link": link, **time_per_input(sim.System(
            S.clusters, place, setup.members, setup.th, bps, "per-server"), work, cal, devices,
            "two-level")})
        for name in setup.baselines:
            out = raw[(bw, name)]
            w = partitioned_workload(setup, out, name)
            c = sim.calibrate(out, w, bw * 1e6 if tc else None, kind="tail")
            rows.append({"system": name, "link": link, **time_per_input(sim.System(
                S.clusters, place, setup.members, setup.th, bps, "per-server"), w, c, devices,
                "partitioned")})
    return pd.DataFrame(rows)


def time_per_input(model: sim.System, work, cal, devices, architecture) -> dict:
    """Full load (closed loop): the servers' time per input (makespan / inputs) and latency."""
    res = model.run(work, cal, devices, architecture)
    end = max(r.started_ms + r.total_ms for r in res)
    return {"time per input ms": end / len(res), "mean latency ms":
            float(np.mean([r.total_ms for r in res])), "inputs": len(res)}


def scaling(setup: Setup, work, cal, baseline: tuple, bandwidth_mbit: float) -> pd.DataFrame:
    """Open-loop Poisson traffic on ``scaling_servers`` clusters and ``scaling_devices``
    devices, simulated: mean latency and throughput against offered load, both
    architectures. Offered load is a multiple of the servers' two-level capacity (servers /
    mean encoder service time / queries per input); every cluster's shares drawn at random,
    its devices' inputs following them, Alg. 1's placement; arrivals for
    ``scaling_horizon_s``; throughput = inputs answered within it / its length; latency over
    every input (those still queued at the end included)."""
    S, k = setup.profile.system, len(setup.members)
    n_servers, n_dev = S.scaling_servers, S.scaling_devices
    shares = shares_per_cluster(k, n_servers, setup.profile.seed + 2)
    place = policies.model_load(shares, [S.encoders_per_server + 0.5] * n_servers, 1.0)
    queries = np.mean([len(w) for p in work.probs.tolist()
                       for w in [sum(recall.waves(p, setup.th), [])]])
    capacity = n_servers / (np.mean(cal.service_ms["encoder"]) / 1e3) / queries  # inputs/s
    devices = cluster_devices(setup, n_dev, 20, shares, setup.profile.seed)
    horizon = S.scaling_horizon_s * 1e3
    everywhere = policies.Placement({c: list(range(k)) for c in range(n_servers)})
    series = (("two-level, Alg. 1", "two-level", place, work, cal),
              ("two-level, every encoder everywhere", "two-level", everywhere, work, cal),
              (f"partitioned {models_pretty(baseline[0])}", "partitioned", place, *baseline[1:]))
    rows = []
    for load in S.scaling_loads:
        per_device = load * capacity / n_dev
        for label, arch, where, w, c in series:
            model = sim.System(n_servers, where, setup.members, setup.th, bandwidth_mbit * 1e6,
                               "per-server")
            res = model.run(w, c, devices, arch, arrivals_per_s=per_device,
                            horizon_ms=horizon)
            done = sum(r.started_ms + r.total_ms <= horizon for r in res)
            rows.append({"architecture": label, "servers used": n_servers if
                         arch == "partitioned" else sum(bool(v) for v in where.servers.values()),
                         "offered load × capacity": load, "offered inputs/s": load * capacity,
                         "mean latency ms": np.mean([r.total_ms for r in res]),
                         "p95 ms": np.quantile([r.total_ms for r in res], 0.95),
                         "throughput inputs/s": 1e3 * done / horizon})
    return pd.DataFrame(rows)


def placement_ablation(setup: Setup, work, cal, devices) -> pd.DataFrame:
    """Alg. 1 vs a random placement of the same size vs every encoder everywhere, at full
    load (simulated, servers only: no link limit): time per input, latency, forwarding."""
    rows = []
    for how in ("alg1", "alg1, memory for one more", "random", "everywhere"):
        place = placement(setup, how, setup.profile.seed)
        model = sim.System(setup.profile.system.clusters, place, setup.members, setup.th,
                           None, "per-server")
        res = model.run(work, cal, devices)
        local = {(d, i): dev["local"] for d, dev in enumerate(devices) for i in dev["inputs"]}
        fwd = np.mean([sum(s != local[(r.device, r.index)] for s in r.servers) for r in res])
        end = max(r.started_ms + r.total_ms for r in res)
        rows.append({"placement": how, "encoders per server": str(place.servers),
                     "time per input ms": end / len(res),
                     "mean latency ms": np.mean([r.total_ms for r in res]),
                     "forwarded queries per input": fwd})
    return pd.DataFrame(rows)

