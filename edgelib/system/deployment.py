"""Edge servers as processes and the devices' process behind one shaped link (``Deployment``).

    with Deployment(config_path, ["c0", "c1", "c2"], bandwidth_bps=100e6) as system:
        outcomes = system.run(job)        # the devices, one process, behind the link

Shaping (``shaping.ShapedHost``, tc/tbf, root): the devices' process lives in a network
namespace whose one veth pair is the shaped link between the devices and the edge, both
directions at ``bandwidth_bps``; the servers listen on the root side of it and reach each
other over the host (an unshaped backhaul). Without shaping (``bandwidth_bps=None``) everything
is loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from . import client, config, processes, shaping
from .two_level_system import apply_placement


class Deployment:
    """Edge servers ``names`` of ``config_path`` (cluster c = ``names[c]``), optionally behind
    one shaped link; a context manager that stops every process and namespace it made.
    ``run(job)`` runs ``python -m <runner> JOB OUT`` behind the link: a module whose ``main``
    writes {"outcomes": [...], "devices_cpu_s": ...} (the two-level system's devices by
    default; the adaptive paper's clients in ``serving_run``)."""

    def __init__(self, config_path, names: list[str], bandwidth_bps: float | None = None,
                 runner: str = "edgelib.system.two_level_run"):
        self.config_path, self.names, self.bandwidth_bps = Path(config_path), names, bandwidth_bps
        self.runner = runner
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
            argv = [sys.executable, "-m", self.runner, str(jp), str(out)]
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
