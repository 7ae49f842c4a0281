"""Run the two-level system's devices (or the partitioned baseline's) for real, every request
accounted for: the runner of ``deployment.Deployment``, whose servers and shaped link they use.

    with Deployment(config_path, ["c0", "c1", "c2"], bandwidth_bps=100e6) as system:
        system.place(placement, members, thresholds)   # Alg. 1's placement + the routers
        outcomes = system.run(job)                      # the devices, one process

A job (JSON) names the devices, their clusters and inputs (``run_devices``).

    python -m edgelib.system.two_level_run JOB.json OUT.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .. import models, platforms
from . import client
from .two_level_system import Device, PartitionedDevice, _Compute


def _net(spec: dict):
    net = models.build(spec["backbone"], spec["num_classes"], spec.get("width"))
    if spec["outputs"] != spec["num_classes"]:
        head = net.stages["head"]
        head.fc = torch.nn.Linear(head.fc.in_features, spec["outputs"])
    net.load_state_dict(torch.load(spec["weights"], map_location="cpu", weights_only=True))
    return net.eval()


async def _devices(job: dict) -> tuple[list[dict], float]:
    inputs = np.load(job["inputs"])
    replayed = job["mode"] == "replayed"
    compute = None
    if not replayed:
        torch.set_num_threads(1)
        compute = _Compute(_net(job["net"]), platforms.get(job.get("platform", "raspberry-pi-4")))
    link = client.Link("device link", **job["link"]) if job.get("link") else None
    kind = PartitionedDevice if job["kind"] == "partitioned" else Device
    addresses = {int(c): a for c, a in job["addresses"].items()}
    devices = [kind(n, d["local"], addresses, job.get("rule", "first-stop"),
                    job.get("overlap", True), compute, link, job.get("shaping", "none"),
                    job.get("timeout_s", 30.0)) for n, d in enumerate(job["devices"])]
    for d in devices:
        d.tail = job.get("tail") or getattr(d, "tail", None)
    if compute is not None:  # warm up: torch's first call is slow and would count as compute
        with torch.no_grad():
            compute.net(torch.zeros(1, 3, 32, 32))
    for d in devices:  # every device's channels open before the clock starts (a dead
        await asyncio.gather(*(c.is_server_live() for c in d.servers.values()),  # server too)
                             return_exceptions=True)
    t0 = time.perf_counter()

    async def loop(device, indices):
        done = []
        for i in indices:
            if replayed:
                replay = {"fm": inputs["fm"][i:i + 1], "probs": inputs["probs"][i].tolist(),
                          "head_ms": float(inputs["head_ms"][i]),
                          "tail_ms": float(inputs["tail_ms"][i])}
                done.append(await device.infer(i, replay=replay, t0=t0))
            else:
                image = torch.from_numpy(inputs["images"][i:i + 1])
                done.append(await device.infer(i, image=image, t0=t0))
        return done

    cpu0 = time.process_time()
    try:
        pairs = list(zip(devices, job["devices"]))
        if job.get("sequential"):  # one input in flight at a time: single inference
            per_device = [await loop(dev, d["inputs"]) for dev, d in pairs]
        else:
            per_device = await asyncio.gather(*(loop(dev, d["inputs"]) for dev, d in pairs))
    finally:
        await asyncio.gather(*(d.close() for d in devices))
    return [asdict(o) for outs in per_device for o in outs], time.process_time() - cpu0


def run_devices(job: dict) -> tuple[list[dict], float]:
    """Every device of ``job`` in this process (closed loop: each sends its next input when the
    last is answered, or one input at a time with ``sequential``); (one record per input, the
    CPU seconds this process used while they ran)."""
    return asyncio.run(_devices(job))


def save_replay(path, fm: np.ndarray, probs: np.ndarray, outcomes: list[dict]) -> str:
    """The inputs of a replayed job: every input's FM and C^L, and the device compute times a
    computed run measured for it (inputs it did not run get the median)."""
    head, tail = np.full(len(fm), np.nan), np.full(len(fm), np.nan)
    for o in outcomes:
        head[o["index"]], tail[o["index"]] = o["head_ms"], o["tail_ms"]
    head[np.isnan(head)], tail[np.isnan(tail)] = np.nanmedian(head), np.nanmedian(tail)
    np.savez(path, fm=fm.astype(np.float32), probs=probs.astype(np.float32), head_ms=head,
             tail_ms=tail)
    return str(path)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        sys.exit("usage: python -m edgelib.system.two_level_run JOB.json OUT.json")
    job = json.loads(Path(args[0]).read_text())
    outcomes, cpu_s = run_devices(job)
    Path(args[1]).write_text(json.dumps({"outcomes": outcomes, "devices_cpu_s": cpu_s}))


if __name__ == "__main__":
    main()
