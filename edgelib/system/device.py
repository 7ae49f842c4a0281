"""The device side: run its slice on the device platform, ship tensors over the shaped link.

``EdgeProcess`` starts ``edge_server`` as a real separate process and talks to it over ZeroMQ on
127.0.0.1; ``run_split`` executes one partitioned inference and times it end to end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import torch
import zmq

from .. import platforms
from ..models.branchy_alexnet import BranchyAlexNet
from . import protocol
from .edge_server import compute
from .link import Link


class EdgeProcess:
    """``with EdgeProcess(weights, width) as edge: edge.request(header, tensor, link)``."""

    def __init__(self, weights: Path, width: int, num_classes: int = 10,
                 platform: str = "edge-server", timeout_s: float = 60.0):
        self.command = [sys.executable, "-m", "edgelib.system.edge_server", "--weights",
                        str(weights), "--width", str(width), "--num-classes", str(num_classes),
                        "--platform", platform]
        self.timeout_ms = int(timeout_s * 1e3)

    def __enter__(self) -> "EdgeProcess":
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY"):
            self.process.kill()
            raise RuntimeError(f"edge server did not start (said {line!r})")
        self.socket = zmq.Context.instance().socket(zmq.REQ)
        self.socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(f"tcp://127.0.0.1:{line.split()[1]}")
        return self

    def request(self, header: dict, tensor: torch.Tensor | None, link: Link | None
                ) -> tuple[dict, torch.Tensor | None]:
        protocol.send(self.socket, protocol.pack(header, tensor), link)
        reply, out = protocol.unpack(self.socket.recv_multipart())
        if reply.get("op") == "error":
            raise RuntimeError(f"edge server: {reply['error']}")
        return reply, out

    def __exit__(self, *exc) -> None:
        try:
            self.request({"op": "stop"}, None, None)
        except (zmq.ZMQError, RuntimeError):
            pass
        self.socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_split(model: BranchyAlexNet, edge: EdgeProcess, image: torch.Tensor, exit: int,
              point: int, orientation: str, link: Link,
              device: platforms.Platform) -> dict:
    """One inference of a raw uint8 image split at ``point``; times in ms, measured."""
    n = len(model.branch(exit))
    if not 0 <= point <= n:
        raise ValueError(f"partition point {point} outside 0…{n} for exit {exit}")
    reply_link = {"reply_bandwidth": link.bandwidth, "reply_latency_s": link.latency_s}
    device_s = edge_s = 0.0
    sent = received = 0
    start = time.perf_counter()
    if orientation == "edge-first":
        x = image
        if point > 0:  # upload the image, the edge runs [0, p), the feature comes back
            sent += sum(map(len, protocol.pack({}, image)))
            reply, x = edge.request({"op": "run", "exit": exit, "start": 0, "stop": point,
                                     **reply_link}, image, link)
            edge_s, received = reply["compute_s"], sum(map(len, protocol.pack({}, x)))
        out, device_s = compute(model, x, exit, point, None, device)
    elif orientation == "device-first":
        out, device_s = compute(model, image, exit, 0, point, device)
        if point < n:  # upload the feature (the image when p = 0), the edge finishes
            x = image if point == 0 else out
            sent += sum(map(len, protocol.pack({}, x)))
            reply, out = edge.request({"op": "run", "exit": exit, "start": point, "stop": None,
                                       **reply_link}, x, link)
            edge_s, received = reply["compute_s"], sum(map(len, protocol.pack({}, out)))
    else:
        raise ValueError(f"unknown orientation {orientation!r}")
    total = time.perf_counter() - start
    return {"exit": exit, "point": point, "orientation": orientation, "link": link.name,
            "measured_ms": 1e3 * total, "device_ms": 1e3 * device_s, "edge_ms": 1e3 * edge_s,
            "sent_bytes": sent, "received_bytes": received, "prediction": int(out.argmax(1)[0])}
