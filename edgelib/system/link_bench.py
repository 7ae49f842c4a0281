"""Achieved vs configured bandwidth of both kinds of shaping, at 0.1, 1, 10 and 100 Mbit/s.

- ``tc``: a ``shaping.ShapedHost`` with its tbf rates set so that TCP payload moves at the
  configured bandwidth; measured with a plain TCP transfer each way (``measure_bandwidth``) and
  with the runtime (an echo model in the namespace: request and reply bytes over the round trip);
- ``token-bucket``: a plain TCP transfer on loopback paced chunk by chunk by
  ``link.TokenBucket``, and the runtime's client charging the same echo round trip.

Each transfer carries about two seconds of traffic each way (at least 100 kB), so the tbf burst
and the per-request overhead are small beside it. Payload bytes count, not headers.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import client, config, processes, shaping
from .link import Link, TokenBucket

MBITS = (0.1, 1.0, 10.0, 100.0)


def _echo_round_trip(address: str, link: Link, mode: str, nbytes: int) -> float:
    """Achieved payload bytes/s of one echo round trip (request + reply bytes / total time)."""
    x = np.zeros((1, nbytes // 4), np.float32)
    with client.Client(address, link, mode) as c:
        c.infer("echo", x[:, :256], timeout_s=60)  # warm-up
        r = c.infer("echo", x, timeout_s=120)
    return (r.sent_bytes + r.received_bytes) / (r.total_ms / 1e3)


def _token_bucket_tcp(link: Link, nbytes: int, chunk: int = 16 * 1024) -> float:
    """Achieved payload bytes/s of ``nbytes`` sent over loopback TCP, paced by a token bucket
    (from the first byte sent to the receiver's one-byte acknowledgement)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def sink():
        conn, _ = listener.accept()
        with conn:
            left = nbytes
            while left > 0:
                left -= len(conn.recv(min(left, 1 << 20)))
            conn.sendall(b"k")
    thread = threading.Thread(target=sink, daemon=True)
    thread.start()
    bucket = TokenBucket(link.bandwidth, 4 * chunk)  # room for a late wake-up to be made up
    bucket.tokens = 0.0  # start empty: n / bandwidth
    data = bytes(chunk)
    with socket.create_connection(listener.getsockname(), timeout=60) as s:
        start = time.perf_counter()
        for at in range(0, nbytes, chunk):
            n = min(chunk, nbytes - at)
            bucket.consume(n)
            s.sendall(data[:n])
        s.recv(1)
        elapsed = time.perf_counter() - start
    thread.join(10)
    listener.close()
    return nbytes / elapsed


def _config(d: str, host: str) -> Path:
    return config.write(Path(d) / "links.json", {"s": {"host": host, "load": ["echo"],
                                                       "max_message_bytes": 64 * 2 ** 20}},
                        {"echo": {"kind": "echo", "shape": [-1]}})


def _record(rows: list[dict], shaping_: str, path: str, mbit: float, achieved: float) -> None:
    """One measured row (achieved in bytes/s), printed as it comes."""
    rows.append({"shaping": shaping_, "path": path, "configured_Mbit/s": mbit,
                 "achieved_Mbit/s": 8 * achieved / 1e6})
    print(rows[-1], flush=True)


def _transfer_bytes(link: Link) -> int:
    return max(100_000, int(2 * link.bandwidth))  # two seconds of traffic, at least 100 kB


def run(mbits=MBITS) -> list[dict]:
    rows = []
    ok, why = shaping.available()
    with tempfile.TemporaryDirectory() as d:
        with processes.ServerProcess(_config(d, "127.0.0.1"), "s") as server:
            for mb in mbits:
                link = Link(f"{mb:g} Mbit/s", mb * 1e6 / 8)
                n = _transfer_bytes(link)
                _record(rows, "token-bucket", "TCP transfer", mb, _token_bucket_tcp(link, n))
                _record(rows, "token-bucket", "runtime echo round trip", mb,
                        _echo_round_trip(server.address, link, "token-bucket", n))
        if not ok:
            rows.append({"shaping": "tc", "skipped": why})
            print(rows[-1], flush=True)
            return rows
        with shaping.ShapedHost("linkbench", 1e9, 1e9) as host, processes.ServerProcess(
                _config(d, host.address), "s", prefix=host.command([])) as server:
            for mb in mbits:
                link = Link(f"{mb:g} Mbit/s", mb * 1e6 / 8)
                bps = mb * 1e6 / shaping.goodput_factor(host.mtu)
                host.set_rates(bps, bps)
                n = _transfer_bytes(link)
                for direction in ("up", "down"):
                    _record(rows, "tc", f"TCP transfer, {direction}", mb,
                            shaping.measure_bandwidth(host, n, direction))
                _record(rows, "tc", "runtime echo round trip", mb,
                        _echo_round_trip(server.address, link, "tc", n))
    for r in rows:
        if "achieved_Mbit/s" in r:
            r["achieved / configured"] = r["achieved_Mbit/s"] / r["configured_Mbit/s"]
    return rows
