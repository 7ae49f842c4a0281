"""The two-level architecture over the edge runtime (issue 12), and its partitioned baseline.

Deployment: every second-level encoder is a hosted model (``encoder_models``) on every server's
repository; Alg. 1 (``policies.model_load``) decides which are loaded where and
``apply_placement`` loads them (RepositoryModelLoad) and tells each server's router the
placement (``router``: Alg. 2 runs on the local cluster's server, as in the paper).

A two-level ``Device`` (Alg. 2 lines 1–3): runs the first level up to the cut (FM), starts
uploading FM to its cluster's server, finishes the first level (C^L) while FM travels
(``overlap``; the paper's contribution 2), then sends C^L; the server routes, recalls and
answers. When its server does not answer, the device asks another cluster's server (FM sent
along); when none does, it answers from its first level (the superclass only) and says so.

A ``PartitionedDevice`` (the paper's baseline, §4.2.2): runs its backbone up to the cut (ResNets
after conv3_x), asks every server its estimated waiting time and sends the feature to the
shortest (``policies.shortest_wait``), which runs the rest.

Compute on a device is either ``computed`` (the real first level, under the device platform's
time dilation) or ``replayed`` (a sleep of a computed run's measured time with its FM, so that
many devices fit on one machine without taking the servers' cores).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import tritonclient.grpc.aio as tc_aio
from tritonclient.utils import InferenceServerException

from .. import data, platforms
from . import client, oip, policies, router
from .router import encoder_name

TAIL = "partition-tail"


def encoder_models(weights: list[str], backbone: str, num_classes: int, classes: list[int],
                   width: int | None = None, fm_shape: tuple[int, ...] = ()) -> dict:
    """Config entries (``hosted`` kind ``module``) of every second-level encoder."""
    return {encoder_name(s): {
        "kind": "module", "factory": "edgelib.two_level:serving_encoder",
        "kwargs": {"backbone": backbone, "num_classes": num_classes, "classes": n,
                   "weights": str(w), "width": width},
        "input": {"datatype": "FP32", "shape": [-1, *fm_shape]},
        "output": {"datatype": "FP32", "shape": [-1, n]}}
        for s, (w, n) in enumerate(zip(weights, classes))}


def tail_model(weights: str, backbone: str, num_classes: int, width: int | None,
               fm_shape: tuple[int, ...], name: str = TAIL) -> dict:
    """Config entry of the partitioned baseline's server half (the stages after the cut)."""
    return {name: {"kind": "module", "factory": "edgelib.system.two_level_system:partition_tail",
                   "kwargs": {"backbone": backbone, "num_classes": num_classes,
                              "weights": str(weights), "width": width},
                   "input": {"datatype": "FP32", "shape": [-1, *fm_shape]},
                   "output": {"datatype": "FP32", "shape": [-1, num_classes]}}}


class _Tail(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, fm):
        return self.net.tail_from(fm).float().softmax(1)


def partition_tail(backbone: str, num_classes: int, weights: str, width: int | None = None):
    from .. import models

    net = models.build(backbone, num_classes, width)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return _Tail(net).eval()


def setup_message(placement: policies.Placement, addresses: dict[int, str], cluster: int,
                  members: list[list[int]], th) -> str:
    holders = {n: placement.holders(n) for n in range(len(members))}
    return json.dumps({"cluster": cluster, "addresses": addresses, "holders": holders,
                       "members": members, "thresholds": asdict(th)})


def apply_placement(placement: policies.Placement, clients: dict[int, client.Client],
                    members: list[list[int]] | None = None, th=None) -> None:
    """Load each cluster's encoders on its server (RepositoryModelLoad), unload the others, and
    (with ``members`` and ``th``) give every server's router the placement."""
    for cluster, c in clients.items():
        wanted = {encoder_name(n) for n in placement.servers.get(cluster, [])}
        for m in c.triton.get_model_repository_index().models:
            if m.name.startswith("second-level-"):
                if m.name in wanted and m.state != "READY":
                    c.triton.load_model(m.name)
                elif m.name not in wanted and m.state == "READY":
                    c.triton.unload_model(m.name)
    if members is None:
        return
    addresses = {cl: c.address for cl, c in clients.items()}
    for cluster, c in clients.items():
        msg = setup_message(placement, addresses, cluster, members, th)
        inp = client.tc_grpc.InferInput("SETUP", [1], "BYTES")
        inp.set_data_from_numpy(np.array([msg.encode()], dtype=np.object_))
        c.triton.infer(router.SETUP, [inp])


@dataclass
class Outcome:
    """One input's trip, as the device saw it (times in ms from the device's start)."""
    device: int
    index: int  # which input
    label: int  # -1 when answered from the first level alone
    answered_by: str  # "edge" or "first-level"
    superclass: int
    started_ms: float
    total_ms: float
    head_ms: float  # device compute up to the cut (platform time)
    tail_ms: float  # the rest of the first level (two-level) / 0 (partitioned)
    queried: list = field(default_factory=list)
    servers: list = field(default_factory=list)
    compute_ms: list = field(default_factory=list)
    failovers: int = 0
    router: int = -1  # whose server answered (two-level: the router; partitioned: the tail)


def _fp32(name: str, x: np.ndarray):
    inp = tc_aio.InferInput(name, list(x.shape), "FP32")
    inp.set_data_from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return inp


class _Compute:
    """The device's first level: computed (dilated to the platform) or replayed."""

    def __init__(self, net, platform: platforms.Platform | None):
        self.net, self.platform = net, platform

    def head(self, image: torch.Tensor) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        with torch.no_grad():
            fm = self.net.head_until(data.normalize(image))
        return fm, self.platform.dilate(time.perf_counter() - start) * 1e3

    def tail(self, fm) -> tuple[list[float], float]:
        start = time.perf_counter()
        with torch.no_grad():
            p = self.net.tail_from(fm).float().softmax(1)[0].tolist()
        return p, self.platform.dilate(time.perf_counter() - start) * 1e3


class Device:
    """A two-level device of cluster ``local``; ``addresses`` of every cluster's server."""

    ids = itertools.count()

    def __init__(self, number: int, local: int, addresses: dict[int, str], rule: str = "first-stop",
                 overlap: bool = True, compute: _Compute | None = None,
                 link: client.Link | None = None, shaping: str = "none", timeout_s: float = 30.0):
        if rule not in router.ROUTES.values():
            raise ValueError(f"rule must be one of {list(router.ROUTES.values())}, got {rule!r}")
        self.number, self.local, self.rule, self.overlap = number, local, rule, overlap
        self.compute, self.timeout_s = compute, timeout_s
        self.charges = client.Charges(link, shaping)
        self.order = [local] + [c for c in sorted(addresses) if c != local]
        self.servers = {c: tc_aio.InferenceServerClient(a) for c, a in addresses.items()}

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.servers.values()))

    async def infer(self, index: int, image=None, replay: dict | None = None,
                    t0: float = 0.0) -> Outcome:
        """One input: ``image`` (computed) or ``replay`` = {fm, probs, head_ms, tail_ms}."""
        started = time.perf_counter()
        key = f"{self.number}-{next(self.ids)}-{uuid.uuid4().hex[:8]}"
        fm, fm_np, head_ms = await self._head(image, replay)
        upload = asyncio.ensure_future(self._send(self.local, router.FM_UPLOAD, {"FM": fm_np},
                                                  key)) if self.overlap else None
        if replay is None:
            probs, tail_ms = await asyncio.to_thread(self.compute.tail, fm)
        else:
            probs, tail_ms = replay["probs"], replay["tail_ms"]
            await asyncio.sleep(tail_ms / 1e3)
        cl = np.array([probs], np.float32)
        out = Outcome(self.number, index, -1, "first-level", int(np.argmax(probs)),
                      1e3 * (started - t0), 0.0, head_ms, tail_ms)
        model = f"two-level-{self.rule}"
        for attempt, cluster in enumerate(self.order):
            tensors = {"CL": cl}
            if attempt > 0 or not self.overlap:
                tensors["FM"] = fm_np  # another server has no upload of ours
            try:
                result = await self._send(cluster, model, tensors, key)
            except InferenceServerException:
                out.failovers += 1
                continue
            get = result.as_numpy
            out.label, out.answered_by = int(get("LABEL")[0]), "edge"
            out.superclass, out.router = int(get("SUPERCLASS")[0]), cluster
            out.queried, out.servers = get("QUERIED").tolist(), get("SERVERS").tolist()
            out.compute_ms = get("COMPUTE_MS").tolist()
            out.failovers += int(get("FAILOVERS")[0])
            break
        if upload is not None:
            await asyncio.gather(upload, return_exceptions=True)
        out.total_ms = 1e3 * (time.perf_counter() - started)
        return out

    async def _head(self, image, replay: dict | None):
        """The stages up to the cut: computed on the device platform, or replayed (a sleep of
        the measured time); (FM, FM as float32 numpy, head ms)."""
        if replay is None:
            fm, head_ms = await asyncio.to_thread(self.compute.head, image)
        else:
            fm, head_ms = replay["fm"], replay["head_ms"]
            await asyncio.sleep(head_ms / 1e3)
        return fm, np.asarray(fm, dtype=np.float32), head_ms

    async def _send(self, cluster: int, model: str, tensors: dict[str, np.ndarray], key: str):
        await asyncio.sleep(self.charges.seconds(client._message_bytes(model, tensors)))
        inputs = [_fp32(name, x) for name, x in tensors.items()]
        result = await self.servers[cluster].infer(model, inputs, request_id=key,
                                                   client_timeout=self.timeout_s)
        await asyncio.sleep(self.charges.seconds(result.get_response().ByteSize()))
        return result


class PartitionedDevice(Device):
    """The baseline: backbone up to the cut here, the rest on the shortest-wait server."""

    tail = TAIL  # the hosted model of the stages after the cut

    async def infer(self, index: int, image=None, replay: dict | None = None,
                    t0: float = 0.0) -> Outcome:
        started = time.perf_counter()
        _, fm_np, head_ms = await self._head(image, replay)
        out = Outcome(self.number, index, -1, "first-level", -1, 1e3 * (started - t0), 0.0,
                      head_ms, 0.0)
        waits = await client.fan_out([self._wait(c) for c in self.order])
        waits = {c: w if isinstance(w, float) else float("inf") for c, w in zip(self.order, waits)}
        first = policies.shortest_wait(waits, self.order)
        for cluster in [first] + sorted((c for c in self.order if c != first),
                                        key=lambda c: waits[c]):
            try:
                result = await self._send(cluster, self.tail, {"INPUT": fm_np}, "")
            except InferenceServerException:
                out.failovers += 1
                continue
            p = result.as_numpy(result.get_response().outputs[0].name)[0]
            out.label, out.answered_by, out.router = int(p.argmax()), "edge", cluster
            out.servers = [cluster]
            out.compute_ms = [result.get_response().parameters["compute_ms"].double_param]
            break
        out.total_ms = 1e3 * (time.perf_counter() - started)
        return out

    async def _wait(self, cluster: int) -> float:
        inp = tc_aio.InferInput("MODEL", [1], "BYTES")
        inp.set_data_from_numpy(np.array([self.tail.encode()], dtype=np.object_))
        r = await self.servers[cluster].infer(oip.WAITING_TIME_MODEL, [inp], client_timeout=2.0)
        return float(r.as_numpy("WAIT_MS")[0])
