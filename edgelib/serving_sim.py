"""The adaptive paper's system as a discrete-event model (SimPy), to go beyond one machine: up
to thousands of clients and several edge servers, each server with its own cell link.

The same decisions as the real system, called, not copied: the server's dispatcher
(``serving.dispatch`` on ``serving.estimated_ms``, moving averages by
``serving.moving_average``) and each client's ``serving.ResolutionController``. What the real
system measures is drawn from its measured samples (``Calibration``, from ``calibrate``):

- a server is one executor serving every queue in arrival order (as ``system.queues``); a
  request's service time is a draw from the measured compute times of its variant at its
  resolution; the dispatcher's estimate is the backlog (each queued request's model average +
  what remains of the running one) plus the chosen model's average;
- the server process's own per-request work (gRPC, parsing, dispatch: ``server_cpu_ms``, its
  measured CPU time per request beyond compute) shares one interpreter with the executor, so
  it holds the executor too (the real server's throughput bound: 1 / (compute + this));
- a request's image crosses the server's cell link (one at a time, at its bandwidth); every
  request also pays a draw of the runtime's measured per-request time beyond compute,
  queueing and transfer (``rpc_ms``, one-client samples), less the part already held on the
  executor;
- whether an answer is right is drawn from the variant's measured accuracy at that resolution;
- every request has the job's deadline: one still queued when it passes is dropped (as the
  runtime does), one answered later counts as failed (the client has given up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from . import serving
from .serving_run import CONTROLLED, DISPATCHED, arrivals


@dataclass
class Calibration:
    service_ms: dict  # (variant, resolution) -> measured compute times (ms)
    accuracy: dict  # (variant, resolution) -> share of right answers
    request_bytes: dict  # resolution -> bytes of one request message
    rpc_ms: np.ndarray  # samples: per request, beyond compute, queueing and transfer
    server_cpu_ms: float = 0.0  # the server process's CPU per request beyond compute
    alpha: float = 0.2  # the runtime's moving-average weight
    seed: int = 0


def calibrate(records: pd.DataFrame, table: pd.DataFrame, request_bytes: dict,
              bandwidth_bps: float | None, seed: int = 0) -> Calibration:
    """From one-client sweep records (every variant at every resolution, one request at a
    time; ``records.attrs["cpu_s"]``, the processes' CPU seconds meanwhile): service-time
    samples, per-request overhead samples (latency − compute − queue − transfer), the server
    process's CPU per request beyond compute, and accuracies from the variants' table at the
    resolution computed."""
    ok = records[records.status == "OK"]
    service = {(m, int(r)): g.compute_ms.to_numpy() for (m, r), g in
               ok.groupby(["served_by", "resolution"])}
    transfer = ok.resolution.map(lambda r: 8e3 * request_bytes[int(r)] / bandwidth_bps
                                 if bandwidth_bps else 0.0)
    rpc = (ok.latency_ms - ok.compute_ms - ok.queue_ms - transfer).clip(lower=0).to_numpy()
    cpu_s = records.attrs.get("cpu_s", {}).get("servers")
    server_cpu = max(0.0, 1e3 * cpu_s / len(ok) - ok.compute_ms.mean()) if cpu_s else 0.0
    acc = {}
    for (m, r) in service:
        row = table[table.variant == m].iloc[0]
        at = min(int(row.resolution), r)
        same = table[(table.width == row.width) & (table.bits == row.bits)
                     & (table.resolution == at)]
        acc[(m, r)] = float(same.accuracy.iloc[0])
    return Calibration(service, acc, dict(request_bytes), rpc, server_cpu, seed=seed)


class _Server:
    def __init__(self, env, ladder: list[str] | None, bound_ms: float, cal: Calibration,
                 bandwidth_bps: float | None, rng):
        self.env, self.ladder, self.bound_ms, self.cal, self.rng = env, ladder, bound_ms, cal, rng
        self.executor = simpy.Resource(env, capacity=1)
        self.link = simpy.Resource(env, capacity=1)
        self.bandwidth_bps = bandwidth_bps
        self.queued: list[str] = []  # models of the requests waiting, in arrival order
        self.running: tuple[str, float] | None = None  # (model, start)
        names = ladder or sorted({m for m, _ in cal.service_ms})
        # the runtime's warm-up seeds each average with one computation at R_1
        top = max(r for _, r in cal.service_ms)
        self.average = {m: float(np.median(cal.service_ms.get((m, top), [0.0]))) for m in names}

    def backlog_ms(self) -> float:
        ahead = sum(self.average[m] for m in self.queued)
        if self.running is not None:
            m, start = self.running
            ahead += max(0.0, self.average[m] - (self.env.now - start))
        return ahead

    def choose(self, asked: str) -> str:
        if self.ladder is None:
            return asked
        ahead = self.backlog_ms()
        estimates = [serving.estimated_ms(ahead, self.average[m]) for m in self.ladder]
        return self.ladder[serving.dispatch(estimates, self.bound_ms)]

    def serve(self, asked: str, resolution: int, deadline: float = float("inf")):
        """Upload, dispatch, queue, compute; returns (model, right?), or (model, None) when the
        deadline passed while it was queued (the runtime drops it, never computed)."""
        if self.bandwidth_bps:
            with self.link.request() as turn:
                yield turn
                yield self.env.timeout(8e3 * self.cal.request_bytes[resolution]
                                       / self.bandwidth_bps)
        model = self.choose(asked)
        self.queued.append(model)
        with self.executor.request() as turn:
            yield turn
            self.queued.remove(model)
            if self.env.now > deadline:
                return model, None
            samples = self.cal.service_ms[(model, resolution)]
            took = float(samples[self.rng.integers(len(samples))])
            self.running = (model, self.env.now)
            yield self.env.timeout(took + self.cal.server_cpu_ms)
            self.running = None
        self.average[model] = serving.moving_average(self.average[model], took, self.cal.alpha)
        return model, bool(self.rng.random() < self.cal.accuracy[(model, resolution)])


def simulate(job: dict, cal: Calibration, servers: int = 1,
             bandwidth_bps: float | None = None) -> pd.DataFrame:
    """A ``serving_run`` job (ramp or open loop) on ``servers`` servers, clients assigned
    round robin; one row per request, as the real run's records (``mode`` "simulated")."""
    env, rng = simpy.Environment(), np.random.default_rng(cal.seed)
    timeout = 1e3 * job.get("timeout_s", float("inf"))
    dispatching = job["policy"] in DISPATCHED
    ladder = job["ladder"]
    edge = [_Server(env, ladder if dispatching else None,
                    job.get("server_bound_ms", job["bound_ms"]), cal, bandwidth_bps, rng)
            for _ in range(servers)]
    c = job["controller"]
    records: list[dict] = []
    asked = ladder[-1] if job["policy"] == "cheapest" else ladder[0]

    def controller():
        if job["policy"] not in CONTROLLED:
            return None
        return serving.ResolutionController(job["resolutions"], c["upper_ms"], c["lower_ms"],
                                            c["hold_off"], bound_ms=job["bound_ms"],
                                            require_above_bound=c.get("require_above_bound",
                                                                      True))

    def one(n: int, ctl):
        r = ctl.resolution if ctl else job["resolutions"][0]
        sent = env.now
        model, right = yield from edge[n % servers].serve(asked, r, sent + timeout)
        if right is not None:
            rpc = float(cal.rpc_ms[rng.integers(len(cal.rpc_ms))])
            yield env.timeout(max(0.0, rpc - cal.server_cpu_ms))
        latency = min(env.now - sent, timeout)
        late = right is None or env.now - sent > timeout  # the client's deadline
        if ctl is not None:
            ctl.observe(latency, r)
        records.append({"client": n, "sent_s": sent / 1e3, "resolution": r,
                        "latency_ms": latency, "served_by": model, "correct": bool(right)
                        and not late, "status": "DEADLINE_EXCEEDED" if late else "OK"})

    def closed_loop(n: int, end_ms: float):
        yield env.timeout(1e3 * n * job["add_every_s"])
        ctl = controller()
        while env.now < end_ms:
            yield from one(n, ctl)

    if job.get("open_loop"):
        o = job["open_loop"]
        ctls = [controller() for _ in range(job["clients"])]

        def source():
            times = arrivals(o["rate_per_s"], o["horizon_s"], o["burst"], o["burst_from_s"],
                             o["burst_to_s"], job.get("seed", 0))
            for k, at in enumerate(times):
                yield env.timeout(max(0.0, 1e3 * at - env.now))
                n = k % job["clients"]
                env.process(one(n, ctls[n]))
        env.process(source())
    else:
        end = 1e3 * (job["add_every_s"] * (job["clients"] - 1) + job["hold_s"])
        for n in range(job["clients"]):
            env.process(closed_loop(n, end))
    env.run()
    df = pd.DataFrame(records)
    df["policy"], df["mode"] = job["policy"], "simulated"
    return df
