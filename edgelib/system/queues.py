"""Per-model bounded queues, worker threads on a platform, and the estimated waiting time.

Each hosted model gets one ``ModelQueue``: a bounded FIFO of jobs and worker thread(s) that run
the model under the server's platform (its slowdown applied as a wait, as ``edgelib.platforms``
defines). The queue keeps an exponential moving average of the model's service time, so that
its estimated waiting time — queue length × moving average + what remains of the running
request — can be read at any moment without waiting for the workers (the two-level paper's load
balancing asks exactly this). A job whose deadline passes while it is queued is dropped, never
computed; a full queue refuses new jobs.

A dispatch policy chooses, per request, which model's queue serves it: ``policy(asked, queues)``
returns a name in ``queues``. ``fifo`` serves every request on the model it asked for; the
adaptive paper's latency-bounded choice (issue 13) is another such function.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from .. import platforms
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
    def __init__(self, model: HostedModel, platform: platforms.Platform, workers: int = 1,
                 alpha: float = 0.2):
        if not 0 < alpha <= 1 or workers < 1:
            raise ValueError(f"need 0 < alpha <= 1 and workers >= 1, got {alpha}, {workers}")
        self.model, self.platform, self.alpha = model, platform, alpha
        self.jobs: collections.deque[Job] = collections.deque()
        self.cv = threading.Condition()
        self.counters = Counters()
        self.average_s: float | None = None  # moving average of the service time
        self.running: dict[int, float] = {}  # worker id -> monotonic start of its job
        self.stopping = False
        self.threads = [threading.Thread(target=self._work, args=(i,), daemon=True,
                                         name=f"{model.name}-{i}") for i in range(workers)]

    def start(self, warm_up: bool = True) -> "ModelQueue":
        """Start the workers; ``warm_up`` first runs one zero input (first calls are slow) and
        seeds the moving average with its time."""
        if warm_up:
            shape = [1 if d == -1 else d for d in self.model.input.shape]
            _, self.average_s = self._compute(np.zeros(shape, DATATYPES[self.model.input.datatype]))
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        """Refuse queued jobs (``Stopped``) and end the workers after their running job."""
        with self.cv:
            self.stopping = True
            dropped = list(self.jobs)
            self.jobs.clear()
            self.cv.notify_all()
        for job in dropped:
            job.done(None, Stopped(f"model {self.model.name!r} was unloaded"), {})

    def submit(self, job: Job) -> None:
        with self.cv:
            if self.stopping:
                raise Stopped(f"model {self.model.name!r} is being unloaded")
            if len(self.jobs) >= self.model.max_queue:
                self.counters.rejected += 1
                raise Overloaded(f"model {self.model.name!r}: queue full "
                                 f"({self.model.max_queue} waiting)")
            self.jobs.append(job)
            self.cv.notify()

    def waiting_s(self) -> float:
        """Estimated wait of a request arriving now: queued × average + the running remainder
        (0 before any measurement)."""
        with self.cv:
            avg = self.average_s or 0.0
            now = time.monotonic()
            remaining = sum(max(0.0, avg - (now - t)) for t in self.running.values())
            return (len(self.jobs) * avg + remaining) / len(self.threads)

    def queued(self) -> int:
        with self.cv:
            return len(self.jobs)

    def _compute(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        began = time.perf_counter()
        y = self.model.run(x)
        elapsed = time.perf_counter() - began
        if self.platform.slowdown > 1:
            time.sleep((self.platform.slowdown - 1) * elapsed)
        return y, elapsed * self.platform.slowdown

    def _next(self, worker: int) -> Job | None:
        with self.cv:
            while not self.jobs and not self.stopping:
                self.cv.wait()
            if self.stopping:
                return None
            job = self.jobs.popleft()
            self.running[worker] = time.monotonic()
            return job

    def _work(self, worker: int) -> None:
        while (job := self._next(worker)) is not None:
            start = time.monotonic()
            queue_s = start - job.enqueued
            info = {"queue_ms": 1e3 * queue_s}
            try:
                if job.cancelled:
                    continue
                if job.deadline is not None and start > job.deadline:
                    with self.cv:
                        self.counters.expired += 1
                    job.done(None, Expired(f"deadline passed after {1e3 * queue_s:.1f} ms in "
                                           f"the queue of {self.model.name!r}"), info)
                    continue
                try:
                    y, service_s = self._compute(job.x)
                except Exception as err:  # a model error fails this request, not the server
                    with self.cv:
                        self.counters.failed += 1
                        self.counters.failed_ns += int(1e9 * (time.monotonic() - start))
                    job.done(None, err, info)
                    continue
                with self.cv:
                    self.average_s = (service_s if self.average_s is None else
                                      (1 - self.alpha) * self.average_s + self.alpha * service_s)
                    c = self.counters
                    c.success += 1
                    c.success_ns += int(1e9 * (queue_s + service_s))
                    c.queue_ns += int(1e9 * queue_s)
                    c.compute_ns += int(1e9 * service_s)
                    c.last_inference_ms = int(1e3 * time.time())
                job.done(y, None, {**info, "compute_ms": 1e3 * service_s})
            finally:
                with self.cv:
                    self.running.pop(worker, None)
