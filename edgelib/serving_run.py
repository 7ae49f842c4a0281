"""The adaptive paper's experiments for real: one edge server (a process of the runtime) and
its clients in a process of their own behind the shaped cell link (``system.deployment``).

Three kinds of load, each a JSON job run by ``python -m edgelib.serving_run JOB OUT``:

- **ramp** (§4, Fig. 3): closed-loop clients — each sends its next image when the last is
  answered — added one every ``add_every_s`` until ``clients``, then held for ``hold_s``;
- **open loop**: requests arrive as a Poisson process of rate ``rate_per_s``, ``burst`` times
  faster during the flash crowd [``burst_from_s``, ``burst_to_s``); each arrival is one of
  ``clients`` clients' (round robin), so that each client's controller sees its own answers;
- **sweep**: one client, one request at a time, ``sweep`` requests for every model of the
  ladder at every resolution (on the server without dispatcher): the simulator's calibration.

A policy names who adapts: ``server`` (the dispatcher; clients at R_1), ``client`` (the
clients' controllers; every request on the most accurate model), ``both``, ``both-margin``
(both, the dispatcher's bound a margin below T), ``most-accurate`` and ``cheapest`` (fixed). One record per request: when it was sent and answered, latency,
resolution, which variant served it, whether it was right, and its status.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import serving
from .models import mobilenet as mb
from .system import client

POLICIES = ("server", "client", "both", "both-margin", "most-accurate", "cheapest")
DISPATCHED = ("server", "both", "both-margin")  # the server's dispatcher chooses the model
CONTROLLED = ("client", "both", "both-margin")  # the clients control their resolution


def _images(job: dict) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """The job's images at every resolution of the controllers, and their labels."""
    data = np.load(job["inputs"])
    images = torch.from_numpy(data["images"])
    return ({r: mb.resize(images, r).numpy() for r in job["resolutions"]}, data["labels"])


class _Client:
    def __init__(self, n: int, job: dict, address: str, images: dict, labels: np.ndarray):
        self.n, self.job, self.images, self.labels = n, job, images, labels
        self.conn = client.AsyncClient(address)
        adaptive = job["policy"] in CONTROLLED
        c = job["controller"]
        self.controller = serving.ResolutionController(
            job["resolutions"], c["upper_ms"], c["lower_ms"], c["hold_off"],
            bound_ms=job["bound_ms"], require_above_bound=c.get("require_above_bound", True)
        ) if adaptive else None
        self.model = job["ladder"][-1] if job["policy"] == "cheapest" else job["ladder"][0]
        self.sent = 0

    async def request(self, t0: float, model: str | None = None,
                      resolution: int | None = None) -> dict:
        r = resolution or (self.controller.resolution if self.controller
                           else self.job["resolutions"][0])
        i = (self.n * 7919 + self.sent) % len(self.labels)  # each client its own stream
        self.sent += 1
        x = self.images[r][i:i + 1]
        sent = time.perf_counter()
        record = {"client": self.n, "sent_s": sent - t0, "resolution": r, "index": int(i)}
        try:
            reply = await self.conn.infer(model or self.model, x,
                                          timeout_s=self.job["timeout_s"])
            latency = 1e3 * (time.perf_counter() - sent)
            record.update(status="OK", latency_ms=latency, served_by=reply.served_by,
                          compute_ms=reply.compute_ms, queue_ms=reply.queue_ms,
                          correct=bool(reply.output.argmax() == self.labels[i]))
        except Exception as err:  # every failure is a record with its status, never lost
            latency = 1e3 * (time.perf_counter() - sent)
            record.update(status=client.status_of(err), latency_ms=latency, served_by="",
                          compute_ms=float("nan"), queue_ms=float("nan"), correct=False)
        record["done_s"] = time.perf_counter() - t0
        if self.controller is not None:
            self.controller.observe(latency, r)
        return record


async def _ramp(job: dict, clients: list[_Client], t0: float) -> list[dict]:
    end = job["add_every_s"] * (len(clients) - 1) + job["hold_s"]

    async def loop(c: _Client) -> list[dict]:
        await asyncio.sleep(max(0.0, c.n * job["add_every_s"] - (time.perf_counter() - t0)))
        out = []
        while time.perf_counter() - t0 < end:
            out.append(await c.request(t0))
        return out

    return [r for rs in await asyncio.gather(*(loop(c) for c in clients)) for r in rs]


def arrivals(rate_per_s: float, horizon_s: float, burst: float, burst_from_s: float,
             burst_to_s: float, seed: int) -> np.ndarray:
    """Poisson arrival times (s) with a flash crowd: rate × ``burst`` inside the window."""
    if not (rate_per_s > 0 and horizon_s > 0 and burst >= 1):
        raise ValueError("need rate_per_s > 0, horizon_s > 0 and burst >= 1")
    rng, t, times = np.random.default_rng(seed), 0.0, []
    while True:
        rate = rate_per_s * (burst if burst_from_s <= t < burst_to_s else 1.0)
        t += rng.exponential(1.0 / rate)
        if t >= horizon_s:
            return np.array(times)
        times.append(t)


async def _sweep(job: dict, clients: list[_Client], t0: float) -> list[dict]:
    """One client, one request at a time: every ladder model at every resolution, ``sweep``
    requests each (the simulator's calibration)."""
    return [await clients[0].request(t0, m, r) for m in job["ladder"]
            for r in job["resolutions"] for _ in range(job["sweep"])]


async def _open_loop(job: dict, clients: list[_Client], t0: float) -> list[dict]:
    o = job["open_loop"]
    times = arrivals(o["rate_per_s"], o["horizon_s"], o["burst"], o["burst_from_s"],
                     o["burst_to_s"], job.get("seed", 0))
    tasks = []
    for k, at in enumerate(times):
        await asyncio.sleep(max(0.0, at - (time.perf_counter() - t0)))
        tasks.append(asyncio.create_task(clients[k % len(clients)].request(t0)))
    return list(await asyncio.gather(*tasks))


async def _run(job: dict) -> tuple[list[dict], float]:
    if job["policy"] not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {job['policy']!r}")
    images, labels = _images(job)
    address = job["addresses"]["0"] if "0" in job["addresses"] else job["addresses"][0]
    clients = [_Client(n, job, address, images, labels) for n in range(job["clients"])]
    for c in clients:  # channels open and one real request answered before the clock starts
        await c.conn.triton.is_server_live()
        await c.conn.infer(c.model, images[job["resolutions"][0]][:1],
                           timeout_s=job["timeout_s"])
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        run = (_sweep if job.get("sweep") else _open_loop if job.get("open_loop") else _ramp)
        records = await run(job, clients, t0)
    finally:
        await asyncio.gather(*(c.conn.close() for c in clients))
    return records, time.process_time() - cpu0


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        sys.exit("usage: python -m edgelib.serving_run JOB.json OUT.json")
    job = json.loads(Path(args[0]).read_text())
    records, cpu_s = asyncio.run(_run(job))
    Path(args[1]).write_text(json.dumps({"outcomes": records, "devices_cpu_s": cpu_s}))


if __name__ == "__main__":
    main()
