"""Notebook 08: the two-level edge system against DNN partitioning, measured and simulated.

``prepare`` gathers what notebooks 00–02 trained (from the cache, or trains it): the first
level and second-level encoders for notebook 02's K and thresholds, and the partitioned
baselines' backbones; writes their weights and a deployment config (one edge server per
cluster); draws the measured inputs class-stratified and, per cluster, the input distribution
(``shares``) Alg. 1 is told. ``measure`` runs devices for real; ``workload`` turns a computed
run into the simulator's replayable workload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import cache, data, models, recall, train
from . import superclasses as sc
from . import two_level
from .system import config, policies, sim
from .system import two_level_system as tls


@dataclass
class Setup:
    profile: object
    folder: object  # where weights, configs and replays go
    members: list[list[int]]
    th: recall.Thresholds
    first: torch.nn.Module
    seconds: list
    baselines: dict  # name -> trained StagedNet
    accuracy: dict  # name -> test accuracy of the backbone (whole test set)
    images: torch.Tensor  # the measured inputs (uint8)
    labels: torch.Tensor
    cluster_of: np.ndarray  # each measured input's cluster
    shares: np.ndarray  # clusters × K: what Alg. 1 is told
    config: object = None
    net: dict | None = None


def thresholds(profile, learned, backbone_rec) -> tuple[int, recall.Thresholds]:
    """Notebook 02's K and thresholds (its cache); an error naming the notebook if missing."""
    for k in profile.two_level.k_sweep:
        folder = cache.entry("thresholds", {"two_level": learned["maps"][k].produced_by,
                                            "backbone": backbone_rec["config"], "k": k})
        if (folder / "thresholds.json").exists():
            d = cache.read_json(folder / "thresholds.json")
            return d.pop("k"), recall.Thresholds(**d)
    raise FileNotFoundError("no thresholds chosen by notebook 02 for this profile in the "
                            "cache: run notebooks/02_two_level.ipynb first")


def shares_per_cluster(k: int, clusters: int, seed: int) -> np.ndarray:
    """Each cluster's input distribution over the K superclasses, drawn at random (the paper:
    'produced at random, but we presume we are familiar with the distribution')."""
    return np.random.default_rng(seed).dirichlet(np.full(k, 0.5), size=clusters)


def prepare(P, progress: bool = False) -> Setup:
    T, S = P.two_level, P.system
    cifar10 = data.load("cifar10", P.train_per_class, P.test_per_class, P.seed)
    backbone, backbone_rec = train.train_backbone(P, T.backbone, cifar10, progress)
    teacher, teacher_rec = train.train_backbone(P, T.teacher, cifar10, progress)
    learned = sc.learn_maps(P, cifar10, progress)
    k, th = thresholds(P, learned, backbone_rec)
    smap = learned["maps"][k]
    first, first_rec = two_level.first_level(backbone, backbone_rec, cifar10, smap,
                                             T.first_level, P.seed, progress)
    seconds, _ = two_level.second_levels(first, first_rec, teacher, teacher_rec, cifar10, smap,
                                         T.second_level, T.temperature, T.alpha, P.seed,
                                         progress)
    baselines, accuracy = {}, {}
    for name in S.partitioned:
        net, rec = train.train_backbone(P, name, cifar10, progress)
        baselines[name], accuracy[name] = net.eval().float(), rec["metrics"]["test_acc"]
    idx = data.stratified_indices(cifar10.test.labels, S.requests, P.seed)
    members = [smap.members(s) for s in range(k)]
    shares = shares_per_cluster(k, S.clusters, P.seed)
    sup = smap.to_superclass(cifar10.test.labels[idx]).numpy()
    rng = np.random.default_rng(P.seed + 1)  # an input of superclass s lands in cluster c ∝ D^c_s
    cluster_of = np.array([rng.choice(S.clusters, p=shares[:, s] / shares[:, s].sum())
                           for s in sup])
    folder = cache.entry("edge_system", {"first": first_rec["key"], "k": k,
                                         "baselines": list(S.partitioned), "seed": P.seed})
    return Setup(P, folder, members, th, first.eval().float(), [s.eval().float() for s in seconds],
                 baselines, accuracy, cifar10.test.images[idx], cifar10.test.labels[idx],
                 cluster_of, shares)


def deploy(setup: Setup) -> object:
    """Weights and the deployment config (cluster c = server ``c{c}``, every encoder and every
    baseline's tail in each repository; the tails loaded, the encoders as Alg. 1 says)."""
    P, f = setup.profile, setup.folder
    f.mkdir(parents=True, exist_ok=True)
    width = P.backbones[P.two_level.backbone].width
    paths = []
    for s, enc in enumerate(setup.seconds):
        paths.append(f / f"second{s}.pt")
        torch.save(enc.state_dict(), paths[-1])
    torch.save(setup.first.state_dict(), f / "first.pt")
    fm_shape = tuple(setup.first.head_until(torch.zeros(1, 3, 32, 32)).shape[1:])
    entries = tls.encoder_models(paths, P.two_level.backbone, 10,
                                 [len(m) for m in setup.members], width, fm_shape)
    for name, net in setup.baselines.items():
        torch.save(net.state_dict(), f / f"{name}.pt")
        shape = tuple(net.head_until(torch.zeros(1, 3, 32, 32)).shape[1:])
        entries.update(tls.tail_model(f / f"{name}.pt", name, 10, P.backbones[name].width,
                                      shape, name=f"{tls.TAIL}-{name}"))
    tails = [f"{tls.TAIL}-{n}" for n in setup.baselines]
    servers = {f"c{c}": {"load": tails} for c in range(P.system.clusters)}
    setup.config = config.write(f / "deploy.json", servers, entries)
    setup.net = {"backbone": P.two_level.backbone, "num_classes": 10, "width": width,
                 "outputs": len(setup.members), "weights": str(f / "first.pt")}
    return setup.config


def placement(setup: Setup, how: str = "alg1", seed: int = 0) -> policies.Placement:
    """Alg. 1 on the clusters' shares (memory for ``encoders_per_server`` encoders each), a
    random placement of the same size, or every encoder everywhere."""
    S, k = setup.profile.system, len(setup.members)
    if how == "alg1":
        return policies.model_load(setup.shares, [S.encoders_per_server + 0.5] * S.clusters, 1.0)
    if how == "everywhere":
        return policies.Placement({c: list(range(k)) for c in range(S.clusters)})
    if how == "random":
        rng = np.random.default_rng(seed)
        while True:
            servers = {c: sorted(rng.choice(k, min(k, S.encoders_per_server), replace=False)
                                 .tolist()) for c in range(S.clusters)}
            if set().union(*servers.values()) == set(range(k)):
                return policies.Placement(servers)
    raise ValueError(f"placement must be alg1, random or everywhere, got {how!r}")


def job(setup: Setup, kind: str, devices: list[dict], **kw) -> dict:
    """A devices' job: two-level (``kind="two-level"``) or a partitioned baseline's name."""
    f = setup.folder
    np.savez(f / "images.npz", images=setup.images.numpy())
    if kind == "two-level":
        net, model = setup.net, None
    else:
        net = {"backbone": kind, "num_classes": 10, "width": setup.profile.backbones[kind].width,
               "outputs": 10, "weights": str(f / f"{kind}.pt")}
        model = f"{tls.TAIL}-{kind}"
    return {"kind": "two-level" if kind == "two-level" else "partitioned", "tail": model,
            "mode": "computed", "net": net, "platform": "raspberry-pi-4",
            "inputs": str(f / "images.npz"), "devices": devices, **kw}


def single_devices(setup: Setup) -> list[dict]:
    """One device per cluster, each with its cluster's inputs (run one input at a time)."""
    return [{"local": c, "inputs": np.flatnonzero(setup.cluster_of == c).tolist()}
            for c in range(setup.profile.system.clusters)]


def offline(setup: Setup) -> dict:
    """The same computation in one process (fp32): FM, C^L and every encoder's answer."""
    with torch.no_grad():
        fm = setup.first.head_until(data.normalize(setup.images))
        probs = setup.first.tail_from(fm).float().softmax(1)
        outs = [s(fm).float().softmax(1) for s in setup.seconds]
        parts = {n: net(data.normalize(setup.images)).argmax(1).numpy()
                 for n, net in setup.baselines.items()}
    labels = np.array([[setup.members[s][int(i)] for i in o.argmax(1)]
                       for s, o in enumerate(outs)])
    return {"fm": fm.numpy(), "probs": probs.numpy(), "labels": labels,
            "confidence": np.array([o.max(1).values.numpy() for o in outs]),
            "partitioned": parts}


def expected(setup: Setup, off: dict, rule: str, th: recall.Thresholds | None = None) -> list:
    """Alg. 2's offline answer per input (``recall.decide`` / the paper's rule)."""
    th = th or setup.th
    answers = []
    for i, p in enumerate(off["probs"].tolist()):
        results = [(s, int(off["labels"][s, i]), float(off["confidence"][s, i]))
                   for s in range(len(setup.members))]
        _, confident = recall.plan(p, th)
        waves = recall.waves(p, th, rule)
        flat = [results[s] for w in waves for s in w]
        answers.append(recall.choose(flat, th, confident, rule).label)
    return answers


def workload(setup: Setup, off: dict, outcomes: list[dict], fm_bytes: int) -> sim.Workload:
    head = pd.DataFrame(outcomes).groupby("index")[["head_ms", "tail_ms"]].median()
    n = len(off["probs"])
    h = head.reindex(range(n)).fillna(head.median())
    return sim.Workload(off["probs"], off["labels"], off["confidence"], h["head_ms"].to_numpy(),
                        h["tail_ms"].to_numpy(), fm_bytes)


def summary(outcomes: list[dict], labels: torch.Tensor, **tags) -> dict:
    """Mean / p95 time per input and accuracy of one run; every request accounted for."""
    df = pd.DataFrame(outcomes)
    correct = (df["label"].to_numpy() == labels.numpy()[df["index"].to_numpy()])
    return {**tags, "requests": len(df), "mean ms": df["total_ms"].mean(),
            "p95 ms": df["total_ms"].quantile(0.95), "accuracy %": 100 * correct.mean(),
            "answered by the edge": int((df["answered_by"] == "edge").sum()),
            "forwarded queries": int(sum(sum(s != o["router"] for s in o["servers"])
                                         for o in outcomes))}


def models_pretty(name: str) -> str:
    return models.PRETTY.get(name, name)


def save_json(path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, default=float))


def fm_message_bytes(setup: Setup, net=None) -> int:
    """One FM upload's message (raw tensor plus the request's own fields)."""
    from .system.client import _message_bytes

    net = net or setup.first
    fm = net.head_until(torch.zeros(1, 3, 32, 32)).detach().numpy()
    return _message_bytes("fm-upload", {"FM": fm})


def measure_single(setup: Setup, dep, bandwidths_mbit, off: dict, rounds: int = 2) -> tuple:
    """Single inference, for real: one input in flight at a time, each by a device of its
    cluster; two-level and every partitioned baseline at every bandwidth, ``rounds`` times
    in alternating order, pooled. (rows, outcomes)."""
    rows, raw = [], {}
    kinds = ["two-level", *setup.baselines]
    for bw in bandwidths_mbit:
        if dep.host is not None:
            dep.set_bandwidth(bw * 1e6)
        for r in range(rounds):  # alternate the order: drift of the machine hits all alike
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                out = dep.run(job(setup, kind, single_devices(setup), sequential=True))
                raw.setdefault((bw, kind), []).extend(out)
        for kind in kinds:
            out = raw[(bw, kind)]
            row = summary(out, setup.labels, bandwidth=bw, system=kind)
            want = (expected(setup, off, "first-stop") if kind == "two-level"
                    else off["partitioned"][kind].tolist())
            row["same answer as offline %"] = 100 * np.mean([o["label"] == want[o["index"]]
                                                             for o in out])
            row["median ms"] = np.median([o["total_ms"] for o in out])
            row["edge ms"] = np.median([o["total_ms"] - o["head_ms"] - o["tail_ms"]
                                        for o in out])
            row["head ms"] = np.median([o["head_ms"] for o in out])
            row["tail ms"] = np.median([o["tail_ms"] for o in out])
            row["server ms"] = np.median([sum(o["compute_ms"]) for o in out])
            rows.append(row)
    return pd.DataFrame(rows), raw


def validate(setup: Setup, dep, off, outcomes, bandwidth_mbit, place) -> tuple:
    """Real (replayed devices) vs simulated at each load of ``devices``. The devices replay the
    compute times the computed single-inference run ``outcomes`` measured; the simulator is
    calibrated on the real run at the smallest load (in-sample there) and, like the real
    deployment, puts the three servers on one machine's cores (``shared_cpu``)."""
    from .system import two_level_run

    S = setup.profile.system
    bps = bandwidth_mbit * 1e6 if dep.host is not None else None
    path = two_level_run.save_replay(setup.folder / "replay.npz", off["fm"], off["probs"],
                                     outcomes)
    work = workload(setup, off, outcomes, fm_message_bytes(setup))
    n, runs = len(off["probs"]), {}
    for d in S.devices:
        devices = sim.devices_round_robin(d, list(range(n)), list(range(S.clusters)),
                                          S.per_device)
        devices = [{"local": int(setup.cluster_of[x["inputs"][0]]), "inputs": x["inputs"]}
                   for x in devices]
        runs[d] = devices, dep.run(job(setup, "two-level", devices, mode="replayed",
                                       inputs=path))
    cal = sim.calibrate(runs[S.devices[0]][1], work, bps, seed=setup.profile.seed)
    rows = []
    for d, (devices, real) in runs.items():
        model = sim.System(S.clusters, place, setup.members, setup.th, bps, shared_cpu=True)
        simulated = [r.total_ms for r in model.run(work, cal, devices)]
        r = np.array([o["total_ms"] for o in real])
        rows.append({"devices": d, "inputs": len(r), "real mean ms": r.mean(),
                     "sim mean ms": np.mean(simulated), "real p95 ms": np.quantile(r, 0.95),
                     "sim p95 ms": np.quantile(simulated, 0.95),
                     "sample": "calibration" if d == S.devices[0] else "held out"})
    df = pd.DataFrame(rows)
    df["mean error %"] = 100 * (df["sim mean ms"] / df["real mean ms"] - 1)
    df["p95 error %"] = 100 * (df["sim p95 ms"] / df["real p95 ms"] - 1)
    df["within 10 % / 15 %"] = (df["mean error %"].abs() <= 10) & (df["p95 error %"].abs() <= 15)
    return df, cal, work


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
    devices, simulated: mean time per input and throughput against offered load, both
    architectures. Offered load is a multiple of the servers' two-level capacity (servers /
    mean encoder service time / queries per input); every cluster's shares drawn at random,
    Alg. 1's placement; arrivals for ``scaling_horizon_s``, throughput = inputs answered
    within it / its length, time per input over every input (those still queued at the end
    included)."""
    S, k = setup.profile.system, len(setup.members)
    n_servers, n_dev = S.scaling_servers, S.scaling_devices
    shares = shares_per_cluster(k, n_servers, setup.profile.seed + 2)
    place = policies.model_load(shares, [S.encoders_per_server + 0.5] * n_servers, 1.0)
    queries = np.mean([len(w) for p in work.probs.tolist()
                       for w in [sum(recall.waves(p, setup.th), [])]])
    capacity = n_servers / (np.mean(cal.service_ms["encoder"]) / 1e3) / queries  # inputs/s
    rng = np.random.default_rng(setup.profile.seed)
    n = len(work.probs)
    devices = [{"local": d % n_servers, "inputs": rng.permutation(n).tolist()}
               for d in range(n_dev)]
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
                         "mean time per input ms": np.mean([r.total_ms for r in res]),
                         "p95 ms": np.quantile([r.total_ms for r in res], 0.95),
                         "throughput inputs/s": 1e3 * done / horizon})
    return pd.DataFrame(rows)


def placement_ablation(setup: Setup, work, cal, devices) -> pd.DataFrame:
    """Alg. 1 vs a random placement of the same size vs every encoder everywhere, at full
    load (simulated, servers only: no link limit): time per input, latency, forwarding."""
    rows = []
    for how in ("alg1", "random", "everywhere"):
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
