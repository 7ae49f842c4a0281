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
import os
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
    accuracy: dict  # name (or "two-level") -> accuracy on the whole test split
    images: torch.Tensor  # the measured inputs (uint8)
    labels: torch.Tensor
    superclass: np.ndarray  # each measured input's true superclass
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
    tl = two_level.TwoLevel(smap, first, seconds)
    accuracy["two-level"] = two_level.replay(tl.outputs(cifar10.test), cifar10.test.labels,
                                             th)["accuracy"]
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
                 sup, cluster_of, shares)


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
    random placement with as many copies (every encoder once at least), or every encoder
    everywhere."""
    S, k = setup.profile.system, len(setup.members)
    if how == "alg1":
        return policies.model_load(setup.shares, [S.encoders_per_server + 0.5] * S.clusters, 1.0)
    if how == "alg1, memory for one more":
        return policies.model_load(setup.shares, [S.encoders_per_server + 1.5] * S.clusters, 1.0)
    if how == "everywhere":
        return policies.Placement({c: list(range(k)) for c in range(S.clusters)})
    if how == "random":  # as many copies as Alg. 1 loads, each encoder at least once
        copies = sum(len(v) for v in placement(setup, "alg1").servers.values())
        rng = np.random.default_rng(seed)
        while True:
            servers = {c: [] for c in range(S.clusters)}
            for n in rng.permutation(np.arange(copies) % k):
                room = [c for c in servers if len(servers[c]) < S.encoders_per_server
                        and n not in servers[c]]
                if room:
                    servers[int(rng.choice(room))].append(int(n))
            if sum(map(len, servers.values())) == copies:
                return policies.Placement({c: sorted(v) for c, v in servers.items()})
    raise ValueError(f"placement must be alg1, 'alg1, memory for one more', random or "
                     f"everywhere, got {how!r}")


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


def cluster_devices(setup: Setup, n_devices: int, per_device: int,
                    shares: np.ndarray | None = None, seed: int = 0) -> list[dict]:
    """``n_devices`` devices, device d in cluster d mod C, each sending ``per_device`` inputs of
    its own cluster: the measured inputs assigned to it, in turn (``shares=None``), or inputs
    drawn so that their superclasses follow ``shares[c]`` (C × K, e.g. for more clusters)."""
    clusters = len(shares) if shares is not None else setup.profile.system.clusters
    rng = np.random.default_rng(seed)
    devices = []
    for d in range(n_devices):
        c = d % clusters
        mine = np.flatnonzero(setup.cluster_of == c) if shares is None else []
        if len(mine):
            inputs = [int(mine[(d // clusters + j) % len(mine)]) for j in range(per_device)]
        else:  # drawn by the cluster's shares (also for a cluster no measured input fell in)
            w = (setup.shares if shares is None else shares)[c][setup.superclass]
            inputs = rng.choice(len(w), per_device, p=w / w.sum()).tolist()
        devices.append({"local": c, "inputs": inputs})
    return devices


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
            "forwarded queries (count)": int(sum(sum(s != o["router"] for s in o["servers"])
                                         for o in outcomes))}


def models_pretty(name: str) -> str:
    return models.PRETTY.get(name, name)


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
            row = summary(out, setup.labels, **{"link Mbit/s": bw, "system": kind})
            want = (expected(setup, off, "first-stop") if kind == "two-level"
                    else off["partitioned"][kind].tolist())
            row["same answer as offline %"] = 100 * np.mean([o["label"] == want[o["index"]]
                                                             for o in out])
            row["median ms"] = np.median([o["total_ms"] for o in out])
            row["beyond device ms"] = np.median([o["total_ms"] - o["head_ms"] - o["tail_ms"]
                                                for o in out])
            row["head ms"] = np.median([o["head_ms"] for o in out])
            row["tail ms"] = np.median([o["tail_ms"] for o in out])
            row["server ms"] = np.median([sum(o["compute_ms"]) for o in out])
            rows.append(row)
    return pd.DataFrame(rows), raw


def ablations(setup: Setup, dep, place, off: dict, raw: dict, th_recall, tc: bool):
    """On replayed devices (the compute times ``raw`` measured): the FM upload overlapped with
    the first level or not at the two fastest links; recall under both stop rules."""
    from .system import two_level_run

    S, bw = setup.profile.system, setup.profile.system.bandwidths_mbit[-1]
    replay = two_level_run.save_replay(setup.folder / "replay.npz", off["fm"], off["probs"],
                                       raw[(bw, "two-level")])
    settings = [(b, f"overlap {on}", setup.th, {"overlap": on == "on"})
                for b in (S.bandwidths_mbit[-2:] if tc else [bw]) for on in ("on", "off")]
    settings += [(bw, f"recall, {rule} rule", th_recall, {"rule": rule}) for rule in recall.RULES]
    rows = []
    for b, name, th, kw in settings:
        if tc:
            dep.set_bandwidth(b * 1e6)
        dep.place(place, setup.members, th)
        out = dep.run(job(setup, "two-level", single_devices(setup), sequential=True,
                          mode="replayed", inputs=replay, **kw))
        rows.append(summary(out, setup.labels, **{"link Mbit/s": b, "setting": name}) | {
            "queries per input": np.mean([len(o["queried"]) for o in out]),
            "beyond device ms": np.median([o["total_ms"] - o["head_ms"] - o["tail_ms"]
                                           for o in out])})
    dep.place(place, setup.members, setup.th)
    return pd.DataFrame(rows)


def real_runs(setup: Setup, place, off: dict, th_recall, tc: bool) -> tuple:
    """Everything measured on the deployment of two-thread servers: single inference at every
    link, then the ablations. (single-inference table, outcomes by (link, system), ablations)."""
    from .system import deployment

    S, bw = setup.profile.system, setup.profile.system.bandwidths_mbit[-1]
    names = [f"c{c}" for c in range(S.clusters)]
    with deployment.Deployment(setup.config, names, bw * 1e6 if tc else None) as dep:
        dep.place(place, setup.members, setup.th)
        single, raw = measure_single(setup, dep, S.bandwidths_mbit if tc else [bw], off)
        return single, raw, ablations(setup, dep, place, off, raw, th_recall, tc)


def core_config(setup: Setup):
    """The deployment with single-threaded servers (platform ``edge-core``) for validation."""
    raw = json.loads(setup.config.read_text())
    for server in raw["servers"].values():
        server["platform"] = "edge-core"
    return config.write(setup.folder / "deploy_core.json", raw["servers"], raw["models"])


def validate(setup: Setup, off, outcomes, bandwidth_mbit, place, tc: bool,
             rounds: int = 2) -> tuple:
    """Real vs simulated at each load of ``devices`` (each device in its own cluster, sending
    that cluster's inputs), on single-threaded servers sharing this machine's cores. The
    devices replay the compute times the computed single-inference run ``outcomes`` measured;
    the simulator is calibrated on separate real runs of every input, one at a time, and
    predicts every load; ``rounds`` times in turn, pooled. Also returned: the CPU the
    processes used per request beyond the models' compute in the calibration runs
    (``Deployment.cpu_s``)."""
    from .system import deployment, two_level_run

    S = setup.profile.system
    bps = bandwidth_mbit * 1e6 if tc else None
    path = two_level_run.save_replay(setup.folder / "replay.npz", off["fm"], off["probs"],
                                     outcomes)
    work = workload(setup, off, outcomes, fm_message_bytes(setup))
    runs = {}
    names = [f"c{c}" for c in range(S.clusters)]
    first, cpu = [], {"servers": 0.0, "devices": 0.0}
    with deployment.Deployment(core_config(setup), names, bps) as dep:
        dep.place(place, setup.members, setup.th)
        for _ in range(rounds):  # calibration and loads in turn: drift hits both alike
            first += dep.run(job(setup, "two-level", single_devices(setup), sequential=True,
                                 mode="replayed", inputs=path))
            cpu = {k: cpu[k] + v for k, v in dep.cpu_s.items()}
            for d in S.devices:
                devices = cluster_devices(setup, d, S.per_device)
                real = dep.run(job(setup, "two-level", devices, mode="replayed", inputs=path))
                runs.setdefault(d, (devices, []))[1].extend(real)
    cal = sim.calibrate(first, work, bps, seed=setup.profile.seed)
    compute_ms = sum(sum(o["compute_ms"]) for o in first)
    cpu_ms = (1e3 * (cpu["servers"] + cpu["devices"]) - compute_ms) / len(first)
    cores = len(os.sched_getaffinity(0))
    rows = []
    for d, (devices, real) in runs.items():
        model = sim.System(S.clusters, place, setup.members, setup.th, bps, cores=cores)
        simulated = [r.total_ms for r in model.run(work, cal, devices)]
        r = np.array([o["total_ms"] for o in real])
        rows.append({"devices": d, "requests": len(r), "real mean ms": r.mean(),
                     "sim mean ms": np.mean(simulated), "real p95 ms": np.quantile(r, 0.95),
                     "sim p95 ms": np.quantile(simulated, 0.95)})
    df = pd.DataFrame(rows)
    df["mean error %"] = 100 * (df["sim mean ms"] / df["real mean ms"] - 1)
    df["p95 error %"] = 100 * (df["sim p95 ms"] / df["real p95 ms"] - 1)
    df["within 10 % / 15 %"] = (df["mean error %"].abs() <= 10) & (df["p95 error %"].abs() <= 15)
    return df, cal, cores, cpu_ms


def fig4_table(single: pd.DataFrame, full: pd.DataFrame, bw: float) -> pd.DataFrame:
    """Fig. 4's bars: single inference (measured, at link ``bw``) and saturated servers
    (simulated, servers only), per system."""
    one = single[single["link Mbit/s"] == bw].assign(setting="single inference (measured)")
    sat = full[full.link == "no link limit"].assign(
        setting="saturated servers (simulated, servers only)")
    out = pd.concat([one[["system", "setting", "mean ms"]].rename(columns={"mean ms": "ms"}),
                     sat[["system", "setting", "time per input ms"]].rename(
                         columns={"time per input ms": "ms"})])
    out["label"] = [s if s == "two-level" else f"partitioned {models_pretty(s)}"
                    for s in out["system"]]
    return out
