"""Partitioned inference of the branchy AlexNet over the runtime (Edgent, SAC-d).

The edge server hosts slices of the network as named models (``slice_name(exit, start, stop)``,
loaded on demand with RepositoryModelLoad); the device runs its own slice here, on its platform,
and exchanges the image or the feature with the server through a ``client.Client`` over a
link. ``SplitRuntime`` starts the server process — inside a ``shaping.ShapedHost`` when the link
is shaped by traffic control, plain on 127.0.0.1 otherwise — and runs one split per call.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .. import data, platforms
from ..models.branchy_alexnet import BranchyAlexNet
from . import client, config, processes
from .link import Link


def slice_name(exit: int, start: int, stop: int) -> str:
    return f"branchy-e{exit}-{start}-{stop}"


def slice_models(weights: str, width: int, num_classes: int,
                 branch_lengths: list[int]) -> dict[str, dict]:
    """Config entries of every slice a split can ask the edge for: [p, n) and [0, p)."""
    out = {}
    for exit, n in enumerate(branch_lengths, 1):
        for start, stop in {(p, n) for p in range(n)} | {(0, p) for p in range(1, n + 1)}:
            out[slice_name(exit, start, stop)] = {
                "kind": "branchy_slice", "weights": weights, "width": width,
                "num_classes": num_classes, "exit": exit, "start": start, "stop": stop}
    return out


def compute(model: BranchyAlexNet, x: torch.Tensor, exit: int, start: int, stop: int | None,
            platform: platforms.Platform) -> tuple[torch.Tensor, float]:
    """Layers [start, stop) here on ``platform``: its threads, its slowdown applied as a wait."""
    old = torch.get_num_threads()
    torch.set_num_threads(platform.threads)
    try:
        began = time.perf_counter()
        with torch.no_grad():
            if x.dtype == torch.uint8:
                x = data.normalize(x)
            y = model.run(x, exit, start, stop)
        elapsed = time.perf_counter() - began
    finally:
        torch.set_num_threads(old)
    return y, platform.dilate(elapsed)


class SplitRuntime:
    """``with SplitRuntime(weights, width, lengths, shaping) as rt: rt.run(...)``.

    ``shaping`` is "tc" (the server in its own network namespace, tbf at the link's bandwidth
    each way; needs root) or "token-bucket" (loopback, the client charges the bytes)."""

    def __init__(self, weights: str | Path, width: int, branch_lengths: list[int],
                 shaping: str = "token-bucket", num_classes: int = 10,
                 platform: str = "edge-server"):
        if shaping not in ("tc", "token-bucket"):
            raise ValueError(f"shaping must be 'tc' or 'token-bucket', got {shaping!r}")
        self.shaping, self.platform = shaping, platform
        self.models = slice_models(str(Path(weights).resolve()), width, num_classes,
                                   branch_lengths)
        self.loaded: set[str] = set()
        self.host = None
        self.link: Link | None = None

    def __enter__(self) -> "SplitRuntime":
        self.dir = tempfile.TemporaryDirectory(prefix="edgelib-split-")
        server = {"platform": self.platform}
        prefix = None
        if self.shaping == "tc":
            from . import shaping
            self.host = shaping.ShapedHost("split", up_bps=1e9, down_bps=1e9).__enter__()
            server["host"], prefix = self.host.address, self.host.command([])
        path = config.write(Path(self.dir.name) / "split.json", {"edge": server}, self.models)
        try:
            self.server = processes.ServerProcess(path, "edge", prefix=prefix).start()
        except Exception:
            self._close_host()
            raise
        return self

    def set_link(self, link: Link) -> None:
        """Shape the following requests to ``link``."""
        if self.host is not None and link != self.link:  # tbf counts frames: payload at B
            from .shaping import goodput_factor
            bps = 8 * link.bandwidth / goodput_factor(self.host.mtu)
            self.host.set_rates(bps, bps)
        self.link = link
        if getattr(self, "client", None) is None:  # one channel for every link
            self.client = client.Client(self.server.address, link, self.shaping)
        self.client.charges = client.Charges(link, self.shaping)

    def _edge(self, exit: int, start: int, stop: int, x: torch.Tensor) -> client.Reply:
        name = slice_name(exit, start, stop)
        if name not in self.loaded:
            self.client.triton.load_model(name)
            self.loaded.add(name)
        return self.client.infer(name, x.numpy(), timeout_s=60.0)

    def run(self, model: BranchyAlexNet, image: torch.Tensor, exit: int, point: int,
            orientation: str, device: platforms.Platform) -> dict:
        """One inference of a raw uint8 image split at ``point``; times in ms, measured."""
        if self.link is None:
            raise RuntimeError("call set_link(link) before run")
        n = len(model.branch(exit))
        if not 0 <= point <= n:
            raise ValueError(f"partition point {point} outside 0…{n} for exit {exit}")
        device_s, reply = 0.0, None
        start = time.perf_counter()
        if orientation == "edge-first":
            x = image
            if point > 0:  # upload the image, the edge runs [0, p), the feature comes back
                reply = self._edge(exit, 0, point, image)
                x = torch.from_numpy(reply.output)
            out = x
            if point < n:  # at p = N the edge ran the whole branch
                out, device_s = compute(model, x, exit, point, None, device)
        elif orientation == "device-first":
            out = image
            if point > 0:  # at p = 0 the device only uploads the image
                out, device_s = compute(model, image, exit, 0, point, device)
            if point < n:  # upload the feature (the image when p = 0), the edge finishes
                reply = self._edge(exit, point, n, image if point == 0 else out)
                out = torch.from_numpy(reply.output)
        else:
            raise ValueError(f"unknown orientation {orientation!r}")
        total = time.perf_counter() - start
        return {"exit": exit, "point": point, "orientation": orientation,
                "link": self.link.name, "shaping": self.shaping, "measured_ms": 1e3 * total,
                "device_ms": 1e3 * device_s, "edge_ms": reply.compute_ms if reply else 0.0,
                "round_trip_ms": reply.total_ms if reply else 0.0,
                "sent_bytes": reply.sent_bytes if reply else 0,
                "received_bytes": reply.received_bytes if reply else 0,
                "prediction": int(np.asarray(out).argmax(1)[0])}

    def _close_host(self) -> None:
        if self.host is not None:
            self.host.close()
            self.host = None

    def __exit__(self, *exc) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
        self.server.stop()
        self._close_host()
        self.dir.cleanup()
