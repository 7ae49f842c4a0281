"""Links: bandwidth and latency, enforced in the sender by a token bucket (ARCHITECTURE §5).

A message of n bytes leaves no faster than the bucket refills (``rate`` bytes/s, ``burst``
bytes of capacity), chunk by chunk, then waits the one-way latency. The analytic models
(Edgent's search, the RL environment) use the same ``Link`` numbers, so predicted and measured
latencies are comparable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    name: str
    bandwidth: float  # bytes per second
    latency_s: float = 0.0  # one way

    def __post_init__(self):
        if not self.bandwidth > 0:
            raise ValueError(f"link bandwidth must be positive bytes/s, got {self.bandwidth}")
        if self.latency_s < 0:
            raise ValueError(f"link latency must be non-negative, got {self.latency_s}")

    def transfer_s(self, nbytes: int) -> float:
        """What the analytic models charge for one message of ``nbytes``."""
        return nbytes / self.bandwidth + self.latency_s


def wifi(mb_per_s: float, latency_ms: float = 0.0) -> Link:
    """A Wi-Fi-like link shaped to ``mb_per_s`` megabytes per second (the papers' sweeps)."""
    return Link(f"shaped {mb_per_s:g} MB/s", mb_per_s * 1e6, latency_ms / 1e3)


class TokenBucket:
    """Sender-side shaping: ``consume(n)`` blocks until n bytes' worth of tokens are there."""

    def __init__(self, rate: float, burst: int = 16 * 1024, clock=time.perf_counter,
                 sleep=time.sleep):
        if not rate > 0 or burst < 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate, self.burst = rate, burst
        self.clock, self.sleep = clock, sleep
        self.tokens, self.last = float(burst), clock()

    def consume(self, n: int) -> None:
        while n > 0:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            take = min(n, self.burst)
            if take - self.tokens > 1e-6:  # (a float tolerance: no endless tiny sleeps)
                self.sleep((take - self.tokens) / self.rate)
                continue
            self.tokens -= take
            n -= take
