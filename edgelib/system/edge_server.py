"""The edge-server process: runs a slice of the branchy AlexNet's layers for the device.

    python -m edgelib.system.edge_server --weights W.pt --width 64 [--port 0] [--platform edge-server]

Binds a ZeroMQ REP socket on 127.0.0.1 (a random free port by default), prints ``READY <port>``
and serves requests until it gets ``{"op": "stop"}``. A request ``{"op": "run", "exit": e,
"start": a, "stop": b}`` with a tensor (uint8 raw images when a = 0) returns layers [a, b) of exit
e applied to it, with the edge compute time; its reply is shaped by the link the request names
(``reply_bandwidth`` bytes/s, ``reply_latency_s``). Weights load with ``weights_only=True``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import zmq

from .. import data, platforms
from ..models.branchy_alexnet import BranchyAlexNet
from . import protocol
from .link import Link


def compute(model: BranchyAlexNet, x: torch.Tensor, exit: int, start: int, stop: int | None,
            platform: platforms.Platform) -> tuple[torch.Tensor, float]:
    """Layers [start, stop) on ``platform``: its threads, its slowdown applied as a wait."""
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
    if platform.slowdown > 1:
        time.sleep((platform.slowdown - 1) * elapsed)
    return y, elapsed * platform.slowdown


def serve(model: BranchyAlexNet, socket, platform: platforms.Platform) -> None:
    while True:
        try:
            header, tensor = protocol.unpack(socket.recv_multipart())
        except ValueError as err:
            protocol.send(socket, protocol.pack({"op": "error", "error": str(err)}, None), None)
            continue
        op = header.get("op")
        if op == "stop":
            protocol.send(socket, protocol.pack({"op": "bye"}, None), None)
            return
        if op == "ping":
            protocol.send(socket, protocol.pack({"op": "pong"}, None), None)
            continue
        try:
            if op != "run" or tensor is None:
                raise ValueError(f"expected op 'run' with a tensor, got {op!r}")
            y, seconds = compute(model, tensor, int(header["exit"]), int(header["start"]),
                                 header.get("stop"), platform)
            link = (Link("reply", header["reply_bandwidth"], header.get("reply_latency_s", 0.0))
                    if header.get("reply_bandwidth") else None)
            protocol.send(socket, protocol.pack({"op": "result", "compute_s": seconds}, y), link)
        except (ValueError, KeyError, RuntimeError) as err:
            protocol.send(socket, protocol.pack({"op": "error", "error": str(err)}, None), None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edgelib.system.edge_server")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--num-classes", type=int, default=10)
    ap.add_argument("--port", type=int, default=0, help="0 = a random free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--platform", default="edge-server", choices=platforms.NAMES)
    args = ap.parse_args(argv)
    model = BranchyAlexNet(args.num_classes, args.width)
    model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
    model.eval()
    socket = zmq.Context.instance().socket(zmq.REP)
    address = f"tcp://{args.host}"
    if args.port == 0:
        port = socket.bind_to_random_port(address)
    else:
        socket.bind(f"{address}:{args.port}")
        port = args.port
    print(f"READY {port}", flush=True)
    serve(model, socket, platforms.get(args.platform))
    socket.close(linger=0)
    sys.exit(0)


if __name__ == "__main__":
    main()
