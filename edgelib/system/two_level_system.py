"""The two-level architecture over the edge runtime (issue 12): second-level encoders hosted on
edge servers, placed by Alg. 1 with RepositoryModelLoad, queried by Alg. 2 from a device.

The device runs the first level (FM and the superclass probabilities C^L), then sends FM to the
servers Alg. 2 names, wave by wave (``recall.waves``; a wave's requests go out in parallel),
each encoder on the local cluster's server when it holds it, otherwise on the holder with the
shortest estimated wait (``policies.server_for``; the waits are asked of the holders, cheaply,
only when there is a choice). The answer is ``recall.choose`` of what came back — the same
functions notebook 02 replays offline, so the network cannot change a prediction.

Not yet here (issue 12, still open): FM uploaded while the first level still runs, faults and
failover, the partitioned baseline and the simulator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import torch

from .. import data, recall
from . import client, policies


def encoder_name(superclass: int) -> str:
    return f"second-level-{superclass}"


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


def apply_placement(placement: policies.Placement, clients: dict[int, client.Client]) -> None:
    """Load each cluster's encoders on its server (RepositoryModelLoad), unload the others."""
    for cluster, c in clients.items():
        wanted = {encoder_name(n) for n in placement.servers.get(cluster, [])}
        for m in c.triton.get_model_repository_index().models:
            if m.name.startswith("second-level-"):
                if m.name in wanted and m.state != "READY":
                    c.triton.load_model(m.name)
                elif m.name not in wanted and m.state == "READY":
                    c.triton.unload_model(m.name)


@dataclass
class Answer:
    decision: recall.Decision
    servers: tuple[int, ...]  # which cluster's server answered each query, in order
    waves: int


class Device:
    """One device of cluster ``local``: its first level and the servers' addresses."""

    def __init__(self, first, members: list[list[int]], th: recall.Thresholds,
                 placement: policies.Placement, addresses: dict[int, str], local: int,
                 rule: str = "first-stop", timeout_s: float = 30.0):
        self.first, self.members, self.th = first.eval(), members, th
        self.placement, self.addresses, self.local = placement, addresses, local
        self.rule, self.timeout_s = rule, timeout_s

    @torch.no_grad()
    def first_level(self, image: torch.Tensor) -> tuple[np.ndarray, list[float]]:
        fm = self.first.head_until(data.normalize(image))
        return fm.float().numpy(), self.first.tail_from(fm).float().softmax(1)[0].tolist()

    async def infer(self, image: torch.Tensor) -> Answer:
        fm, probs = self.first_level(image)
        _, confident = recall.plan(probs, self.th)
        clients = {c: client.AsyncClient(a) for c, a in self.addresses.items()}
        try:
            results, servers, waves = [], [], 0
            for wave in recall.waves(probs, self.th, self.rule):
                waves += 1
                targets = [(s, await self._server(s, clients)) for s in wave]
                replies = await client.fan_out([clients[c].infer(
                    encoder_name(s), fm, timeout_s=self.timeout_s) for s, c in targets])
                for (s, c), r in zip(targets, replies):
                    if isinstance(r, Exception):
                        raise r
                    p = r.output[0]
                    results.append((s, self.members[s][int(p.argmax())], float(p.max())))
                    servers.append(c)
                if self.th.t_h is not None and any(r[2] >= self.th.t_h for r in results):
                    break
        finally:
            await asyncio.gather(*(c.close() for c in clients.values()))
        return Answer(recall.choose(results, self.th, confident, self.rule), tuple(servers),
                      waves)

    async def _server(self, superclass: int, clients: dict) -> int:
        holders = self.placement.holders(superclass)
        waits = {h: 0.0 for h in holders}
        if self.local not in holders and len(holders) > 1:  # ask every holder its wait
            for h in holders:
                waits[h] = (await clients[h].waiting_ms([encoder_name(superclass)]))[
                    encoder_name(superclass)]
        return policies.server_for(superclass, self.local, self.placement, waits)
