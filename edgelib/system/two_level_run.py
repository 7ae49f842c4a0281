"""Run the two-level system (or the partitioned baseline) for real: edge servers as processes,
devices in a process of their own behind a shaped link, every request accounted for.

    with Deployment(config_path, ["c0", "c1", "c2"], bandwidth_bps=100e6) as system:
        system.place(placement, members, thresholds)   # Alg. 1's placement + the routers
        outcomes = system.run(job)                      # the devices, one process

Shaping (``shaping.ShapedHost``, tc/tbf, root): the devices' process lives in a network
namespace whose one veth pair is the shaped link between the devices and the edge, both
directions at ``bandwidth_bps``; the servers listen on the root side of it and reach each
other over the host (an unshaped backhaul). Without shaping (``bandwidth_bps=None``) everything
is loopback. A job (JSON) names the devices, their clusters and inputs (``run_devices``).

    python -m edgelib.system.two_level_run JOB.json OUT.json
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .. import models, platforms
from . import client, config, processes, shaping
from .two_level_system import Device, PartitionedDevice, _Compute, apply_placement


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


class Deployment:
    """Edge servers ``names`` of ``config_path`` (cluster c = ``names[c]``), optionally behind
    one shaped link; a context manager that stops every process and namespace it made."""

    def __init__(self, config_path, names: list[str], bandwidth_bps: float | None = None):
        self.config_path, self.names, self.bandwidth_bps = Path(config_path), names, bandwidth_bps
        self.host, self.servers, self.addresses = None, [], {}
        self.cpu_s = {"servers": 0.0, "devices": 0.0}  # CPU time of the last run

    def __enter__(self) -> "Deployment":
        try:
            path = self.config_path
            if self.bandwidth_bps is not None:
                self.host = shaping.ShapedHost(f"dev{id(self) % 100000}", self.bandwidth_bps,
                                               self.bandwidth_bps)
                raw = json.loads(path.read_text())
                for s in raw["servers"].values():
                    s["host"] = self.host.peer_address  # reachable from the devices' namespace
                path = config.write(path.with_suffix(".shaped.json"), raw["servers"], raw["models"])
            for name in self.names:
                self.servers.append(processes.ServerProcess(path, name).start())
            self.addresses = {c: s.address for c, s in enumerate(self.servers)}
        except BaseException:
            self.__exit__()
            raise
        return self

    def set_bandwidth(self, bps: float) -> None:
        self.host.set_rates(bps, bps)
        self.bandwidth_bps = bps

    def place(self, placement, members=None, th=None) -> None:
        clients = {c: client.Client(a) for c, a in self.addresses.items()}
        try:
            apply_placement(placement, clients, members, th)
        finally:
            for c in clients.values():
                c.close()

    def run(self, job: dict, timeout_s: float = 600.0) -> list[dict]:
        """The job's devices in their own process (inside the shaped namespace, if any); one
        record per input. ``cpu_s``: the CPU time the servers and the devices used meanwhile."""
        job = {**job, "addresses": self.addresses}
        with tempfile.TemporaryDirectory() as d:
            jp, out = Path(d) / "job.json", Path(d) / "out.json"
            jp.write_text(json.dumps(job))
            argv = [sys.executable, "-m", "edgelib.system.two_level_run", str(jp), str(out)]
            if self.host is not None:
                argv = self.host.command(argv)
            before = self._servers_cpu_s()
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
            if done.returncode != 0:
                raise RuntimeError(f"the devices' process failed: {done.stderr[-2000:]}")
            result = json.loads(out.read_text())
            self.cpu_s = {"servers": self._servers_cpu_s() - before,
                          "devices": result["devices_cpu_s"]}
            return result["outcomes"]

    def _servers_cpu_s(self) -> float:
        return sum(s.cpu_s() for s in self.servers if s.alive())

    def kill(self, cluster: int) -> None:
        self.servers[cluster].kill()

    def __exit__(self, *exc) -> None:
        for s in self.servers:
            s.stop()
        if self.host is not None:
            self.host.close()


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        sys.exit("usage: python -m edgelib.system.two_level_run JOB.json OUT.json")
    job = json.loads(Path(args[0]).read_text())
    outcomes, cpu_s = run_devices(job)
    Path(args[1]).write_text(json.dumps({"outcomes": outcomes, "devices_cpu_s": cpu_s}))


if __name__ == "__main__":
    main()
