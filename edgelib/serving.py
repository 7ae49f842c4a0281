"""Adaptive edge inference (Muraru, Raiciu, *Efficient Inference at the Edge*, §3): the server's
latency-bounded dispatcher and the client's resolution controller.

Both are plain functions and small state machines, called the same way by the runtime
(``edgelib.system``: ``latency_bounded`` is a dispatch policy of its server) and by the
simulator (``edgelib.serving_sim``).

**The dispatcher** (§3, as printed): the server is given its models ordered from highest to
lowest accuracy and knows nothing else of them. For each model it keeps a moving average of its
inference time. When a request arrives, the queues are examined from the most accurate; the
request's latency in each is estimated from the moving averages (what is queued ahead, plus its
own inference); the first queue whose estimate is below the system-wide bound T gets it. If the
last queue is reached, the request goes there regardless of the estimate. Here one executor
serves every queue in arrival order (``system.queues``), so what is queued ahead of a new request
is the whole backlog, whichever queue it joins.

**The client** (§3): with resolutions R_1 > … > R_k and the current R_i, a latency above
TC_upper moves to R_{i+1} (if i < k), one below TC_lower to R_{i−1} (if i > 1); after a change,
no new decision until its effect can be measured: here, until ``hold_off`` answers to requests
sent at the new resolution have come back. The paper requires both thresholds above the
server's bound (TC_upper > T, TC_lower > T); ``ResolutionController`` enforces it unless told
not to, so that what happens otherwise can be measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence


def _finite_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def moving_average(previous: float | None, sample: float, alpha: float) -> float:
    """Exponential moving average: the first sample, then (1 − alpha)·previous + alpha·sample."""
    if not 0 < alpha <= 1:
        raise ValueError(f"need 0 < alpha <= 1, got {alpha!r}")
    return sample if previous is None else (1 - alpha) * previous + alpha * sample


@dataclass(frozen=True)
class Ladder:
    """The server's models, most accurate first. ``accuracy`` (when known) checks the order."""

    models: tuple[str, ...]
    accuracy: tuple[float, ...] | None = None

    def __post_init__(self):
        models = tuple(self.models)
        object.__setattr__(self, "models", models)
        if not models:
            raise ValueError("the dispatcher needs at least one model")
        if len(set(models)) != len(models):
            raise ValueError(f"a model appears twice in the ladder: {list(models)}")
        if self.accuracy is not None:
            acc = tuple(float(a) for a in self.accuracy)
            object.__setattr__(self, "accuracy", acc)
            if len(acc) != len(models):
                raise ValueError(f"{len(models)} models but {len(acc)} accuracies")
            bad = [(models[i], models[i + 1]) for i in range(len(acc) - 1)
                   if acc[i] < acc[i + 1]]
            if bad:
                raise ValueError("the ladder must run from the most to the least accurate model; "
                                 f"out of order: {bad[0][1]!r} is more accurate than "
                                 f"{bad[0][0]!r}")


def estimated_ms(ahead_ms: float, average_ms: float | None) -> float:
    """A new request's estimated latency in a queue: the work ahead plus its own inference (a
    model never timed yet counts as free, so that it is tried and gets a first average)."""
    return ahead_ms + (average_ms or 0.0)


def dispatch(estimates_ms: Sequence[float], bound_ms: float) -> int:
    """Index of the first (most accurate) queue whose estimate is below ``bound_ms``; the last
    queue when none is."""
    if len(estimates_ms) == 0:
        raise ValueError("the dispatcher needs at least one model")
    bound_ms = _finite_positive("the latency bound T", bound_ms)
    for i, estimate in enumerate(estimates_ms):
        if estimate < bound_ms:
            return i
    return len(estimates_ms) - 1


def latency_bounded(ladder: Ladder | Sequence[str], bound_ms: float):
    """The dispatcher as a dispatch policy of the runtime's server (``system.queues.Policy``):
    a request for any model of the ladder is served by ``dispatch``'s choice among the loaded
    ones; a request for a model outside the ladder is served as asked."""
    ladder = ladder if isinstance(ladder, Ladder) else Ladder(tuple(ladder))
    bound_ms = _finite_positive("the latency bound T", bound_ms)
    members = set(ladder.models)

    def policy(asked: str, queues: Mapping) -> str:
        if asked not in members:
            return asked
        loaded = [n for n in ladder.models if n in queues]
        if not loaded:
            return asked
        ahead_ms = 1e3 * queues[loaded[0]].waiting_s()  # one executor: the whole backlog
        averages = [queues[n].average_s for n in loaded]
        return loaded[dispatch([estimated_ms(ahead_ms, None if a is None else 1e3 * a)
                                for a in averages], bound_ms)]

    policy.ladder, policy.bound_ms = ladder, bound_ms
    return policy


@dataclass
class ResolutionController:
    """The client's control loop over its image resolution (see the module's docstring)."""

    resolutions: Sequence[int]  # R_1 > R_2 > … > R_k
    upper_ms: float  # TC_upper
    lower_ms: float  # TC_lower
    hold_off: int = 1  # answers at a new resolution awaited before the next decision
    bound_ms: float | None = None  # the server's T, when known: the paper's constraint
    require_above_bound: bool = True
    index: int = 0  # i − 1: the current resolution is resolutions[index]
    changes: list = field(default_factory=list)  # (answer number, new resolution)
    _seen: int = 0  # answers at the current resolution since the last change
    _answers: int = 0

    def __post_init__(self):
        res = tuple(self.resolutions)
        if not res or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in res):
            raise ValueError(f"resolutions must be positive integers, got {self.resolutions!r}")
        if any(a <= b for a, b in zip(res, res[1:])):
            raise ValueError(f"resolutions must fall strictly (R_1 > … > R_k), got {res}")
        self.resolutions = res
        self.upper_ms = _finite_positive("TC_upper", self.upper_ms)
        self.lower_ms = _finite_positive("TC_lower", self.lower_ms)
        if self.lower_ms >= self.upper_ms:
            raise ValueError(f"need TC_lower < TC_upper, got {self.lower_ms} and {self.upper_ms}")
        if not isinstance(self.hold_off, int) or self.hold_off < 1:
            raise ValueError(f"hold_off must be a positive integer, got {self.hold_off!r}")
        if self.bound_ms is not None:
            t = _finite_positive("the latency bound T", self.bound_ms)
            if self.require_above_bound and not (self.upper_ms > t and self.lower_ms > t):
                raise ValueError(f"the paper requires TC_upper > T and TC_lower > T; got "
                                 f"TC_upper {self.upper_ms}, TC_lower {self.lower_ms}, T {t} "
                                 "(pass require_above_bound=False to run it anyway)")
        if not 0 <= self.index < len(res):
            raise ValueError(f"index must lie in 0…{len(res) - 1}, got {self.index!r}")

    @property
    def resolution(self) -> int:
        return self.resolutions[self.index]

    def observe(self, latency_ms: float, resolution: int) -> int:
        """One answer's latency, for a request sent at ``resolution``; returns the resolution
        of the next request. Answers to requests sent before the last change are ignored."""
        self._answers += 1
        if resolution != self.resolution:
            return self.resolution
        self._seen += 1
        if self._seen < self.hold_off:
            return self.resolution
        step = (1 if latency_ms > self.upper_ms and self.index < len(self.resolutions) - 1
                else -1 if latency_ms < self.lower_ms and self.index > 0 else 0)
        if step:
            self.index += step
            self._seen = 0
            self.changes.append((self._answers, self.resolution))
        return self.resolution
