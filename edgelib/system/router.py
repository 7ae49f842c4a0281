"""Alg. 2 of the two-level paper on the edge server: built-in models every server answers.

The device uploads FM to its cluster's server while its first level still runs, then sends the
superclass probabilities C^L (Alg. 2 lines 2–3); the server runs the rest of Alg. 2:

- ``fm-upload`` — input ``FM`` (FP32 [1, …]) under the request ``id``; kept until the matching
  C^L arrives (at most ``MAX_KEPT`` features, oldest dropped first).
- ``two-level-first-stop`` / ``two-level-paper`` — input ``CL`` (FP32 [1, K]) with the same
  ``id`` (or ``FM`` sent along, then no upload is needed). Which encoders to query, wave by
  wave: ``recall.waves`` with the recall stop rule the model name gives; each encoder runs here
  when this server holds it, otherwise on the holder with the shortest estimated wait
  (``policies.server_for``; the waits are asked of the holders only when there is a choice),
  falling over to the next holder when one fails; the answer is ``recall.choose``. Outputs:
  ``LABEL``, ``CONFIDENCE``, ``SUPERCLASS`` (INT64/FP32/INT64 [1]) and, per query in order,
  ``QUERIED`` (superclass), ``SERVERS`` (cluster that answered), ``COMPUTE_MS`` (its compute
  time), plus ``FAILOVERS`` [1]. UNAVAILABLE when no holder of any queried encoder answered.
- ``two-level-setup`` — input ``SETUP`` (BYTES [1], JSON): this server's ``cluster``, every
  cluster's ``addresses``, the placement as ``holders`` {encoder: [clusters]}, the superclass
  ``members`` and the ``thresholds`` (``recall.Thresholds`` fields). ``two_level_system``
  sends it after placing the encoders with RepositoryModelLoad (Alg. 1).

Every field is checked; a bad request gets INVALID_ARGUMENT and the server goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb

from .. import recall
from . import oip, policies

FM_UPLOAD, SETUP = "fm-upload", "two-level-setup"
ROUTES = {"two-level-first-stop": "first-stop", "two-level-paper": "paper"}
MODELS = (FM_UPLOAD, SETUP, *ROUTES)
MAX_KEPT = 256  # uploaded features waiting for their C^L
MAX_WAIT_S = 30.0  # how long C^L waits for its FM without a deadline of its own


def encoder_name(superclass: int) -> str:
    return f"second-level-{superclass}"


@dataclass(frozen=True)
class Setup:
    cluster: int
    addresses: dict[int, str]
    placement: policies.Placement
    members: list[list[int]]
    thresholds: recall.Thresholds


def parse_setup(raw: str) -> Setup:
    """The ``two-level-setup`` JSON, every field checked (``oip.BadRequest`` otherwise)."""
    def ints(v, what):
        if not isinstance(v, list) or not v or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 10_000 for i in v):
            raise oip.BadRequest(f"{what} must be a non-empty list of integers in 0…9999")
        return v
    try:
        d = json.loads(raw)
        if not isinstance(d, dict) or set(d) != {"cluster", "addresses", "holders", "members",
                                                 "thresholds"}:
            raise oip.BadRequest("setup needs exactly cluster, addresses, holders, members, "
                                 "thresholds")
        addresses = {int(c): a for c, a in d["addresses"].items()}
        if not all(isinstance(a, str) and 0 < len(a) <= 256 for a in addresses.values()):
            raise oip.BadRequest("addresses must map clusters to 'host:port' strings")
        cluster = ints([d["cluster"]], "cluster")[0]
        members = [ints(m, "each superclass's members") for m in d["members"]]
        holders = {int(n): ints(h, f"holders of encoder {n}") for n, h in d["holders"].items()}
        th = recall.Thresholds(**d["thresholds"])
    except oip.BadRequest:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        raise oip.BadRequest(f"bad two-level setup: {str(err)[:200]}") from None
    if cluster not in addresses or any(c not in addresses for h in holders.values() for c in h):
        raise oip.BadRequest("every cluster named must have an address")
    if set(holders) != set(range(len(members))):
        raise oip.BadRequest(f"holders must name every encoder 0…{len(members) - 1}")
    servers = {c: sorted(n for n, h in holders.items() if c in h) for c in addresses}
    return Setup(cluster, addresses, policies.Placement(servers), members, th)


def _tensor(request, name: str, datatype: str, rank: int) -> np.ndarray:
    for t, raw in zip(request.inputs, request.raw_input_contents):
        if t.name == name:
            if t.datatype != datatype or len(t.shape) != rank:
                raise oip.BadRequest(f"{name} must be {datatype} of rank {rank}")
            x = oip.from_bytes(raw, t.datatype, t.shape)
            if x.dtype.kind == "f" and not np.isfinite(x).all():
                raise oip.BadRequest(f"{name} holds NaN or infinite values")
            return x
    raise oip.BadRequest(f"missing input {name}")


class Router:
    def __init__(self, server):
        self.server = server  # edgelib.system.server.Server: its queues and compute
        self.setup: Setup | None = None
        self.kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self.arrived: dict[str, asyncio.Event] = {}
        self.clients: dict[int, object] = {}

    async def handle(self, request, params: dict, context):
        names = [t.name for t in request.inputs]
        if len(names) != len(request.raw_input_contents) or len(set(names)) != len(names):
            raise oip.BadRequest("one raw_input_contents per input, names unique")
        if request.model_name == SETUP:
            return await self._setup(request)
        if not request.id:
            raise oip.BadRequest(f"{request.model_name} needs a request id")
        if request.model_name == FM_UPLOAD:
            return self._keep(request)
        if self.setup is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "no two-level setup yet")
        left = [t for t in (context.time_remaining(), params.get("timeout", 0) / 1e6) if t]
        deadline = time.monotonic() + min(left + [MAX_WAIT_S])
        return await self._route(request, context, deadline)

    async def _setup(self, request):
        if names_of(request) != ["SETUP"] or request.inputs[0].datatype != "BYTES" or list(
                request.inputs[0].shape) != [1]:
            raise oip.BadRequest("two-level-setup takes one BYTES input SETUP of shape [1]")
        setup = parse_setup(oip.decode_strings(request.raw_input_contents[0], 1)[0])
        old, self.clients = self.clients, {}
        await asyncio.gather(*(c.close() for c in old.values()), return_exceptions=True)
        self.setup = setup
        return _response(request, {"CLUSTER": np.array([setup.cluster], np.int64)})

    def _keep(self, request):
        if names_of(request) != ["FM"]:
            raise oip.BadRequest("fm-upload takes one input FM")
        fm = _tensor(request, "FM", "FP32", len(request.inputs[0].shape))
        if fm.ndim < 2 or fm.shape[0] != 1:
            raise oip.BadRequest("FM must have a batch of 1")
        self.kept[request.id] = fm
        while len(self.kept) > MAX_KEPT:
            dropped, _ = self.kept.popitem(last=False)
            self.arrived.pop(dropped, None)
        self.arrived.setdefault(request.id, asyncio.Event()).set()
        return _response(request, {"KEPT": np.array([fm.nbytes], np.int64)})

    async def _fm(self, request, context, deadline: float) -> np.ndarray:
        if "FM" in names_of(request):
            return _tensor(request, "FM", "FP32", len(request.inputs[names_of(request).index(
                "FM")].shape))
        event = self.arrived.setdefault(request.id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self.arrived.pop(request.id, None)
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                f"no FM uploaded under id {request.id[:40]!r}")
        self.arrived.pop(request.id, None)
        return self.kept.pop(request.id)

    async def _route(self, request, context, deadline: float):
        setup = self.setup
        if not set(names_of(request)) <= {"CL", "FM"}:
            raise oip.BadRequest("two-level takes CL (and optionally FM)")
        cl = _tensor(request, "CL", "FP32", 2)
        if cl.shape != (1, len(setup.members)):
            raise oip.BadRequest(f"CL must have shape [1, {len(setup.members)}]")
        fm = await self._fm(request, context, deadline)
        for q in self.server.queues.values():
            if q.model.name.startswith("second-level-") and not q.model.input.matches(fm.shape):
                raise oip.BadRequest(f"FM of shape {list(fm.shape)} does not fit the encoders "
                                     f"({list(q.model.input.shape)})")
        rule, th = ROUTES[request.model_name], setup.thresholds
        probs = cl[0].tolist()
        _, confident = recall.plan(probs, th)
        results, servers, compute, failovers = [], [], [], 0
        for wave in recall.waves(probs, th, rule):
            answers = await asyncio.gather(*(self._query(s, fm, deadline) for s in wave))
            for s, (cluster, p, ms, failed) in zip(wave, answers):
                failovers += failed
                if cluster is not None:
                    results.append((s, setup.members[s][int(p.argmax())], float(p.max())))
                    servers.append(cluster)
                    compute.append(ms)
            if th.t_h is not None and any(r[2] >= th.t_h for r in results):
                break
        if not results:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "no holder of the queried "
                                "second-level encoders answered")
        d = recall.choose(results, th, confident, rule)
        used = len(d.queried)
        return _response(request, {
            "LABEL": np.array([d.label], np.int64), "CONFIDENCE": np.array([d.confidence],
                                                                           np.float32),
            "SUPERCLASS": np.array([d.superclass], np.int64),
            "QUERIED": np.array(d.queried, np.int64),
            "SERVERS": np.array(servers[:used], np.int64),
            "COMPUTE_MS": np.array(compute[:used], np.float32),
            "FAILOVERS": np.array([failovers], np.int64)})

    async def _query(self, superclass: int, fm: np.ndarray, deadline: float):
        """(cluster that answered, its probabilities, compute ms, failed attempts); cluster
        None when every holder failed."""
        setup, name = self.setup, encoder_name(superclass)
        holders = setup.placement.holders(superclass)
        waits = {h: 0.0 for h in holders}
        if setup.cluster not in holders and len(holders) > 1:
            asked = await asyncio.gather(*(self._client(h).waiting_ms([name]) for h in holders),
                                         return_exceptions=True)
            waits = {h: w[name] if isinstance(w, dict) else float("inf")
                     for h, w in zip(holders, asked)}
        first = policies.server_for(superclass, setup.cluster, setup.placement, waits)
        order = [first] + sorted((h for h in holders if h != first), key=lambda h: waits[h])
        for failed, cluster in enumerate(order):
            try:
                if cluster == setup.cluster and name in self.server.queues:
                    y, info = await self.server.compute(self.server.queues[name], fm, deadline)
                    return cluster, y[0], info["compute_ms"], failed
                reply = await self._client(cluster).infer(
                    name, fm, timeout_s=max(1e-3, deadline - time.monotonic()))
                return cluster, reply.output[0], reply.compute_ms, failed
            except Exception:  # a dead or refusing holder: the next one
                continue
        return None, None, 0.0, len(order)

    def _client(self, cluster: int):
        from .client import AsyncClient

        if cluster not in self.clients:
            self.clients[cluster] = AsyncClient(self.setup.addresses[cluster])
        return self.clients[cluster]


def names_of(request) -> list[str]:
    return [t.name for t in request.inputs]


def _response(request, outputs: dict[str, np.ndarray]):
    response = pb.ModelInferResponse(model_name=request.model_name, id=request.id,
                                     model_version="1")
    for name, y in outputs.items():
        response.outputs.add(name=name, datatype=oip.datatype_of(y), shape=y.shape)
        response.raw_output_contents.append(oip.to_bytes(y))
    return response
