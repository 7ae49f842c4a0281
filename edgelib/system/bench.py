"""The runtime's benchmark: ratios and percentiles measured in one run, printed with the CPU.

    python -m edgelib.system bench [--requests 2000] [--out F.json]

1. Per-request overhead: p50 round trip of ModelInfer on the ``echo`` model (no compute) minus
   that of a bare gRPC unary echo of the same bytes (another process, grpc.aio, identity
   serialisers), both from the same synchronous gRPC stub; then the same ModelInfer through
   tritonclient, and a small real model's own compute time beside it.
2. Load: throughput and p50 / p99 latency of the small model at 1, 2, 4, 8, 16 concurrent
   clients (asyncio, tritonclient.aio; each client keeps one request in flight; a fixed number
   of requests per level).
3. Links: achieved vs configured bandwidth at 0.1, 1, 10, 100 Mbit/s for the token bucket and,
   where permitted, traffic control (``shaping``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
import torch
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as rpc

from .. import train
from . import client, config, oip, processes

ECHO_METHOD = "/bench.Echo/Echo"
SMALL = {"kind": "linear", "features": 3 * 32 * 32, "outputs": 10}


async def _echo_server() -> None:
    """A bare gRPC unary echo on 127.0.0.1 (prints READY like the runtime's server)."""
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_identity)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"READY 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


async def _identity(raw: bytes, context) -> bytes:
    return raw


def _percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean())}


def _timed(fn, n: int) -> list[float]:
    for _ in range(min(50, n)):  # warm-up
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(1e3 * (time.perf_counter() - t))
    return out


def overhead(address: str, echo_address: str, requests: int) -> dict:
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    request = pb.ModelInferRequest(model_name="echo", raw_input_contents=[oip.to_bytes(x)])
    request.inputs.add(name="INPUT", datatype="FP32", shape=x.shape)
    raw = request.SerializeToString()
    stub = rpc.GRPCInferenceServiceStub(grpc.insecure_channel(address))
    bare = grpc.insecure_channel(echo_address).unary_unary(
        ECHO_METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    rows = {"bare gRPC echo (same bytes)": _timed(lambda: bare(raw, timeout=10), requests),
            "ModelInfer, echo model, gRPC stub": _timed(
                lambda: stub.ModelInfer(request, timeout=10), requests)}
    with client.Client(address) as c:
        rows["ModelInfer, echo model, tritonclient"] = _timed(
            lambda: c.infer("echo", x), requests)
        image = np.zeros((1, 3 * 32 * 32), np.float32)
        compute = []
        rows["ModelInfer, small model, tritonclient"] = _timed(
            lambda: compute.append(c.infer("small", image).compute_ms), requests)
    out = {k: _percentiles(v) for k, v in rows.items()}
    out["overhead_p50_ms (stub, vs bare echo)"] = (
        out["ModelInfer, echo model, gRPC stub"]["p50_ms"]
        - out["bare gRPC echo (same bytes)"]["p50_ms"])
    out["overhead_p50_ms (tritonclient, vs bare echo)"] = (
        out["ModelInfer, echo model, tritonclient"]["p50_ms"]
        - out["bare gRPC echo (same bytes)"]["p50_ms"])
    out["small model compute_ms (median)"] = float(np.median(compute[50:]))
    return out


async def _load_level(address: str, clients: int, requests: int) -> dict:
    image = np.zeros((1, 3 * 32 * 32), np.float32)
    latencies: list[float] = []
    per_client = max(1, requests // clients)

    async def one(c):
        for _ in range(per_client):
            t = time.perf_counter()
            await c.infer("small", image, timeout_s=30)
            latencies.append(1e3 * (time.perf_counter() - t))

    conns = [client.AsyncClient(address) for _ in range(clients)]
    try:
        await asyncio.gather(*(c.infer("small", image) for c in conns))  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(one(c) for c in conns))
        wall = time.perf_counter() - start
    finally:
        for c in conns:
            await c.close()
    return {"clients": clients, "requests": len(latencies),
            "throughput_per_s": len(latencies) / wall, **_percentiles(latencies)}


def table(path: Path) -> str:
    """A saved run as Markdown: overhead, load, links (``--table``)."""
    import pandas as pd

    from ..report import to_markdown

    run = json.loads(Path(path).read_text())
    o = run["overhead"]
    rows = [{"request": k, "p50 ms": v["p50_ms"], "p99 ms": v["p99_ms"]}
            for k, v in o.items() if isinstance(v, dict)]
    lines = [f"{run['cpu']}, {run['threads']} threads, {run['started']}", "",
             to_markdown(pd.DataFrame(rows), ".3g"), "",
             *(f"- {k}: {v:.3f}" for k, v in o.items() if not isinstance(v, dict)), "",
             to_markdown(pd.DataFrame(run["load"])[["clients", "throughput_per_s", "p50_ms",
                                                    "p99_ms"]], ".4g")]
    if run.get("links"):
        links = pd.DataFrame([r for r in run["links"] if "achieved_Mbit/s" in r])
        lines += ["", to_markdown(links.pivot_table(index=["shaping", "path"],
                                                    columns="configured_Mbit/s",
                                                    values="achieved / configured").reset_index(),
                                  ".3f")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edgelib.system bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--load-requests", type=int, default=800, help="per concurrency level")
    ap.add_argument("--no-links", action="store_true", help="skip the bandwidth part")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--table", type=Path, help="print a saved run as Markdown and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.table))
        return
    header = {"cpu": train.cpu_model(), "threads": torch.get_num_threads(),
              "started": time.strftime("%Y-%m-%d %H:%M")}
    print(" | ".join(f"{k}: {v}" for k, v in header.items()), flush=True)
    with tempfile.TemporaryDirectory() as d:
        path = config.write(Path(d) / "bench.json", {"s": {"load": ["echo", "small"]}},
                            {"echo": {"kind": "echo", "features": 16}, "small": SMALL})
        echo = processes.ServerProcess(path, "s")
        echo.command = [sys.executable, "-m", "edgelib.system.bench", "--echo-server"]
        with processes.ServerProcess(path, "s") as server, echo:
            result = {**header, "overhead": overhead(server.address, echo.address,
                                                     args.requests)}
            for k, v in result["overhead"].items():
                print(f"{k:<48} {v if isinstance(v, float) else json.dumps(v)}", flush=True)
            result["load"] = [asyncio.run(_load_level(server.address, n, args.load_requests))
                              for n in (1, 2, 4, 8, 16)]
            for row in result["load"]:
                print(json.dumps(row), flush=True)
    if not args.no_links:
        from . import link_bench
        result["links"] = link_bench.run()
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    if sys.argv[1:] == ["--echo-server"]:
        asyncio.run(_echo_server())
    else:
        main()
