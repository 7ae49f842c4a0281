"""Per-model bounded queues, one executor on the platform, and the estimated waiting time.

Each hosted model gets one ``ModelQueue``: a bounded FIFO of jobs and an exponential moving
average of the model's service time. One ``Executor`` runs every queue's jobs in arrival order
under the server's platform (its threads; its slowdown applied as a wait, as
``edgelib.platforms`` defines) **on the process's main thread**: PyTorch's intra-op parallelism
driven from any other thread was measured 1.3–1.7× slower here (a branchy-AlexNet slice, 2
threads: 1.8 ms on the main thread, 2.4–3.0 ms on a worker thread), which would misstate the
edge platform. A model's estimated waiting time — what is queued ahead × each model's moving
average + what remains of the running request — can be read at any moment without waiting for
the executor (the two-level paper's load balancing asks exactly this); with one executor the
jobs ahead are those of every queue. A job whose deadline passes while it is queued is dropped,
never computed; a full queue refuses new jobs.

A dispatch policy chooses, per request, which model's queue serves it: ``policy(asked, queues)``
returns a name in ``queues``. ``fifo`` serves every request on the model it asked for; the
adaptive paper's latency-bounded choice is another (``edgelib.serving.latency_bounded``).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from .. import platforms, serving
from .hosted import HostedModel
from .oip import DATATYPES


class Overloaded(RuntimeError):
    """The model's queue is full (RESOURCE_EXHAUSTED)."""


class Expired(RuntimeError):
    """The job's deadline passed before it reached a worker (DEADLINE_EXCEEDED)."""


class Stopped(RuntimeError):
    """The model was unloaded while the job waited (UNAVAILABLE)."""


@dataclass
class Job:
    x: np.ndarray
    done: Callable[[np.ndarray | None, Exception | None, dict], None]  # called once, any thread
    deadline: float | None = None  # time.monotonic() after which it is not computed
    enqueued: float = field(default_factory=time.monotonic)
    cancelled: bool = False  # the caller gave up: skip it


@dataclass
class Counters:
    success: int = 0
    success_ns: int = 0
    failed: int = 0
    failed_ns: int = 0
    expired: int = 0
    rejected: int = 0
    queue_ns: int = 0
    compute_ns: int = 0
    last_inference_ms: int = 0


Policy = Callable[[str, Mapping[str, "ModelQueue"]], str]


def fifo(asked: str, queues: Mapping[str, "ModelQueue"]) -> str:
    """Serve every request on the model it asked for, first come first served."""
    return asked


class ModelQueue:
    """One model's bounded FIFO, its moving-average service time and its counters."""

    def __init__(self, model: HostedModel, executor: "Executor", alpha: float = 0.2):
        if not 0 < alpha <= 1:
            raise ValueError(f"need 0 < alpha <= 1, got {alpha}")
        self.model, self.executor, self.alpha = model, executor, alpha
        self.jobs: collections.deque[Job] = collections.deque()
        self.counters = Counters()
        self.average_s: float | None = None  # moving average of the service time
        self.stopped = False

    def warm_up(self, calls: int = 3) -> "ModelQueue":
        """Run zero inputs ``calls`` times on every sample shape the model takes (first calls
        are slow: oneDNN builds its kernels per shape); the last time, on the largest shape,
        seeds the moving average."""
        shapes = (sorted([1, *s] for s in self.model.sample_shapes) if self.model.sample_shapes
                  else [[1 if d == -1 else d for d in self.model.input.shape]])
        for shape in shapes:
            x = np.zeros(shape, DATATYPES[self.model.input.datatype])
            for _ in range(calls):
                _, self.average_s = self.executor.compute(self.model, x)
        return self

    def submit(self, job: Job) -> None:
        with self.executor.cv:
            if self.stopped:
                raise Stopped(f"model {self.model.name!r} is being unloaded")
            if len(self.jobs) >= self.model.max_queue:
                self.counters.rejected += 1
                raise Overloaded(f"model {self.model.name!r}: queue full "
                                 f"({self.model.max_queue} waiting)")
            self.jobs.append(job)
            self.executor.cv.notify()

    def stop(self) -> None:
        """Refuse the queued jobs (``Stopped``); the running one finishes."""
        with self.executor.cv:
            self.stopped = True
            dropped = list(self.jobs)
            self.jobs.clear()
        for job in dropped:
            job.done(None, Stopped(f"model {self.model.name!r} was unloaded"), {})

    def waiting_s(self) -> float:
        """Estimated wait of a request arriving now (see the module's docstring)."""
        return self.executor.backlog_s()


class Executor:
    """Runs the jobs of every queue, oldest first, on the thread that calls ``run``."""

    def __init__(self, platform: platforms.Platform):
        self.platform = platform
        self.queues: dict[str, ModelQueue] = {}
        self.cv = threading.Condition()
        self.running: tuple[ModelQueue, float] | None = None  # (its queue, monotonic start)
        self.stopping = threading.Event()

    def add(self, model: HostedModel, alpha: float = 0.2, warm_up: bool = True) -> ModelQueue:
        q = ModelQueue(model, self, alpha)
        if warm_up:
            q.warm_up()
        with self.cv:
            self.queues[model.name] = q
        return q

    def remove(self, name: str) -> ModelQueue | None:
        with self.cv:
            q = self.queues.pop(name, None)
        if q is not None:
            q.stop()
        return q

    def backlog_s(self) -> float:
        with self.cv:
            now = time.monotonic()
            ahead = sum(len(q.jobs) * (q.average_s or 0.0) for q in self.queues.values())
            if self.running is not None:
                q, started = self.running
                ahead += max(0.0, (q.average_s or 0.0) - (now - started))
            return ahead

    def stop(self) -> None:
        self.stopping.set()
        with self.cv:
            self.cv.notify_all()
        for q in list(self.queues.values()):
            q.stop()

    def compute(self, model: HostedModel, x: np.ndarray) -> tuple[np.ndarray, float]:
        """``model`` on ``x`` under the platform: (output, the platform's seconds)."""
        began = time.perf_counter()
        y = model.run(x)
        return y, self.platform.dilate(time.perf_counter() - began)

    def _next(self) -> tuple[ModelQueue, Job] | None:
        with self.cv:
            while not self.stopping.is_set():
                heads = [q for q in self.queues.values() if q.jobs]
                if heads:
                    q = min(heads, key=lambda q: q.jobs[0].enqueued)
                    self.running = (q, time.monotonic())
                    return q, q.jobs.popleft()
                self.cv.wait()
            return None

    def run(self) -> None:
        """Serve jobs until ``stop``."""
        while (picked := self._next()) is not None:
            try:
                self._serve(*picked)
            finally:
                with self.cv:
                    self.running = None

    def _serve(self, q: ModelQueue, job: Job) -> None:
        start = time.monotonic()
        queue_s = start - job.enqueued
        info = {"queue_ms": 1e3 * queue_s}
        if job.cancelled:
            return
        if job.deadline is not None and start > job.deadline:
            with self.cv:
                q.counters.expired += 1
            job.done(None, Expired(f"deadline passed after {1e3 * queue_s:.1f} ms in the queue "
                                   f"of {q.model.name!r}"), info)
            return
        try:
            y, service_s = self.compute(q.model, job.x)
        except Exception as err:  # a model error fails this request, not the server
            with self.cv:
                q.counters.failed += 1
                q.counters.failed_ns += int(1e9 * (time.monotonic() - start))
            job.done(None, err, info)
            return
        with self.cv:
            q.average_s = serving.moving_average(q.average_s, service_s, q.alpha)
            c = q.counters
            c.success += 1
            c.success_ns += int(1e9 * (queue_s + service_s))
            c.queue_ns += int(1e9 * queue_s)
            c.compute_ns += int(1e9 * service_s)
            c.last_inference_ms = int(1e3 * time.time())
        job.done(y, None, {**info, "compute_ms": 1e3 * service_s})
