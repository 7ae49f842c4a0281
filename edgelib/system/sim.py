"""A discrete-event model of the two-level system and its partitioned baseline (SimPy).

The same policies as the real system, called, not copied: Alg. 2's waves and answer
(``recall.waves`` / ``recall.choose``), its choice of server (``policies.server_for``), the
baseline's shortest-wait offloading (``policies.shortest_wait``); placements come from Alg. 1
(``policies.model_load``). What the real system measures is drawn from its measured samples:

- a server is one executor serving its models in arrival order (as ``queues.Executor``);
  ``cores`` puts every server on one machine of that many cores (the real deployment here:
  single-threaded servers on two cores): a computation takes a core; a query's service
  time is a draw from the measured compute times of its model kind, plus
  ``rpc_ms`` per request (gRPC, the router) and ``forward_ms`` per forwarded query;
- the estimated wait a router or device asks for is what the runtime answers: queued requests ×
  mean service time + what remains of the running one;
- links: ``topology="shared"`` is one link between every device and the edge, one queue per
  direction (the real deployment here: one shaped veth pair); ``"per-server"`` gives every
  server its own access link (the paper: 100M/S each); messages cross a link one at a time at
  ``bandwidth_bps``; servers reach each other over an unshaped backhaul;
- a device's first level (head, then tail) takes its input's measured (or replayed) times; FM
  goes up while the tail runs (``overlap``), C^L after it.

Inputs are indices into ``Workload``: the first level's probabilities, each encoder's answer and
confidence, and the device compute times, per input — the same arrays the real devices replay.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import simpy

from .. import recall
from . import policies


@dataclass
class Workload:
    probs: np.ndarray  # N×K first-level probabilities
    labels: np.ndarray  # K×N each encoder's class
    confidence: np.ndarray  # K×N each encoder's confidence
    head_ms: np.ndarray  # N device compute up to the cut
    tail_ms: np.ndarray  # N the rest of the first level (two-level)
    fm_bytes: int  # one FM upload (the message)
    small_bytes: int = 200  # C^L, answers, waiting-time questions


@dataclass
class Calibration:
    """What the simulator draws from: measured service times and fixed overheads."""
    service_ms: dict[str, np.ndarray]  # model kind ("encoder", "tail") -> measured samples
    rpc_ms: float = 0.5  # per device request, beyond compute and transfer
    forward_ms: float = 0.5  # per forwarded query (server to server)
    seed: int = 0


@dataclass
class Result:
    device: int
    index: int
    started_ms: float
    total_ms: float
    label: int
    queried: tuple = ()
    servers: tuple = ()


class _Server:
    def __init__(self, env, cal: Calibration, rng, cpu=None):
        self.env, self.cal, self.rng, self.cpu = env, cal, rng, cpu
        self.executor = simpy.Resource(env, capacity=1)
        self.busy_until = 0.0
        self.means = {k: float(np.mean(v)) for k, v in cal.service_ms.items()}

    def wait_ms(self, kind: str) -> float:
        queued = len(self.executor.queue)
        remaining = max(0.0, self.busy_until - self.env.now)
        return queued * self.means[kind] + remaining

    def serve(self, kind: str):
        service = float(self.rng.choice(self.cal.service_ms[kind]))
        with self.executor.request() as turn:
            yield turn
            if self.cpu is None:
                self.busy_until = self.env.now + service
                yield self.env.timeout(service)
            else:  # servers sharing one machine: each computation takes one of its cores
                with self.cpu.request() as core:
                    yield core
                    self.busy_until = self.env.now + service
                    yield self.env.timeout(service)
        return service


class _Link:
    def __init__(self, env, bps: float | None):
        self.env, self.bps = env, bps
        self.up, self.down = simpy.Resource(env, 1), simpy.Resource(env, 1)

    def send(self, nbytes: int, direction: str):
        if self.bps is None:
            return
        with getattr(self, direction).request() as turn:
            yield turn
            yield self.env.timeout(8e3 * nbytes / self.bps)


@dataclass
class System:
    """The simulated deployment: clusters (one server each), placement, thresholds, link."""
    clusters: int
    placement: policies.Placement
    members: list[list[int]]
    th: recall.Thresholds
    bandwidth_bps: float | None
    topology: str = "shared"
    rule: str = "first-stop"
    overlap: bool = True
    cores: int = 0  # >0: every server computes on one shared machine of this many cores
    results: list = field(default_factory=list)

    def _setup(self, cal: Calibration):
        env = simpy.Environment()
        rng = np.random.default_rng(cal.seed)
        cpu = simpy.Resource(env, capacity=self.cores) if self.cores > 0 else None
        servers = [_Server(env, cal, rng, cpu) for _ in range(self.clusters)]
        n_links = 1 if self.topology == "shared" else self.clusters
        links = [_Link(env, self.bandwidth_bps) for _ in range(n_links)]
        return env, servers, (lambda c: links[0 if self.topology == "shared" else c])

    def run(self, work: Workload, cal: Calibration, devices: list[dict],
            architecture: str = "two-level", arrivals_per_s: float | None = None,
            horizon_ms: float | None = None) -> list[Result]:
        """``devices``: [{"local": cluster, "inputs": [indices]}]. Closed loop (each device
        sends its next input when the last is answered), or open loop: Poisson arrivals at
        ``arrivals_per_s`` per device until ``horizon_ms``, cycling through its inputs."""
        if arrivals_per_s is not None and not (horizon_ms and horizon_ms > 0):
            raise ValueError("open-loop traffic needs a positive horizon_ms")
        if self.topology not in ("shared", "per-server"):
            raise ValueError(f"topology must be 'shared' or 'per-server', got {self.topology!r}")
        if architecture not in ("two-level", "partitioned"):
            raise ValueError(f"architecture must be two-level or partitioned, got {architecture!r}")
        env, servers, link = self._setup(cal)
        out: list[Result] = []
        step = self._two_level if architecture == "two-level" else self._partitioned
        arrivals = np.random.default_rng(cal.seed + 1)

        def one(n, d, i):
            start = env.now
            r = yield env.process(step(env, servers, link, work, cal, d["local"], i))
            out.append(Result(n, i, start, env.now - start, *r))

        def closed(n, d):
            for i in d["inputs"]:
                yield env.process(one(n, d, i))

        def opened(n, d):
            for i in itertools.cycle(d["inputs"]):
                gap = 1e3 * arrivals.exponential(1 / arrivals_per_s)
                if env.now + gap > horizon_ms:
                    return
                yield env.timeout(gap)
                env.process(one(n, d, i))

        for n, d in enumerate(devices):
            env.process((closed if arrivals_per_s is None else opened)(n, d))
        env.run()
        return out

    def _two_level(self, env, servers, link, work, cal, local, i):
        fm_at = env.event()

        def upload():
            yield env.process(link(local).send(work.fm_bytes, "up"))
            fm_at.succeed()

        yield env.timeout(work.head_ms[i])
        if self.overlap:
            env.process(upload())
        yield env.timeout(work.tail_ms[i])
        if not self.overlap:
            env.process(upload())
        yield env.process(link(local).send(work.small_bytes, "up"))
        yield fm_at
        yield env.timeout(cal.rpc_ms)
        probs = work.probs[i].tolist()
        _, confident = recall.plan(probs, self.th)
        results, used = [], []
        for wave in recall.waves(probs, self.th, self.rule):
            picks = [policies.server_for(s, local, self.placement, {
                h: servers[h].wait_ms("encoder") for h in self.placement.holders(s)})
                for s in wave]
            calls = [env.process(self._query(env, servers[c], cal, c != local)) for c in picks]
            yield env.all_of(calls)
            for s, c in zip(wave, picks):
                results.append((s, int(work.labels[s, i]), float(work.confidence[s, i])))
                used.append(c)
            if self.th.t_h is not None and any(r[2] >= self.th.t_h for r in results):
                break
        d = recall.choose(results, self.th, confident, self.rule)
        yield env.process(link(local).send(work.small_bytes, "down"))
        return d.label, d.queried, tuple(used[:len(d.queried)])

    @staticmethod
    def _query(env, server, cal, forwarded: bool):
        if forwarded:
            yield env.timeout(cal.forward_ms)
        yield env.process(server.serve("encoder"))

    def _partitioned(self, env, servers, link, work, cal, local, i):
        yield env.timeout(work.head_ms[i])
        order = [local] + [c for c in range(self.clusters) if c != local]
        waits = {c: servers[c].wait_ms("tail") for c in order}
        target = policies.shortest_wait(waits, order)
        yield env.process(link(target).send(work.fm_bytes, "up"))
        yield env.timeout(cal.rpc_ms)  # the waiting-time questions and the request
        yield env.process(servers[target].serve("tail"))
        yield env.process(link(target).send(work.small_bytes, "down"))
        return -1, (), (target,)



def calibrate(outcomes: list[dict], work: Workload, bandwidth_bps: float | None,
              kind: str = "encoder", seed: int = 0) -> Calibration:
    """Service-time samples and overheads from a real run's outcomes (one device at a time):
    ``rpc_ms`` is the median of what the parts do not explain (total − device compute −
    server compute − transfers not hidden by the tail) over inputs answered by one local
    query; ``forward_ms`` the extra median of forwarded ones. The overheads are delays: the
    CPU they use runs on several threads beside the critical path (``Deployment.cpu_s``
    measures it), and counting it as serial work overpredicts loaded runs."""
    def xfer(n):
        return 0.0 if bandwidth_bps is None else 8e3 * n / bandwidth_bps

    edge = [o for o in outcomes if o["answered_by"] == "edge"]
    if not edge:
        raise ValueError("no outcome answered by the edge to calibrate from")
    service = np.array([ms for o in edge for ms in o["compute_ms"]])
    local, forwarded = [], []
    for o in edge:
        hidden = o["tail_ms"] if kind == "encoder" else 0.0
        rest = (o["total_ms"] - o["head_ms"] - o["tail_ms"] - sum(o["compute_ms"])
                - max(0.0, xfer(work.fm_bytes) - hidden) - 2 * xfer(work.small_bytes))
        (local if o["servers"] == [o["router"]] else forwarded).append(rest)
    rpc = float(np.median(local or forwarded))
    fwd = float(np.median(forwarded)) - rpc if forwarded and local else rpc
    return Calibration({kind: service}, rpc_ms=max(0.0, rpc), forward_ms=max(0.0, fwd),
                       seed=seed)
