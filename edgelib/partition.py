"""Edgent's joint exit-point + partition-point search (Alg. 1), in both orientations.

Layers of exit i are 0 … N_i − 1; partition point p ∈ {0, …, N_i}. Per layer j: ES_j (edge-server
time), ED_j (device time) — Edgent predicts both with its regression models (notebook 04) — and
D_j, the bytes of layer j's output. B is the bandwidth in bytes per second.

- ``edge-first`` (the seed's orientation): the device uploads the input, the edge server runs
  layers j < p and returns D_{p−1}, the device runs layers k ≥ p:
      A_{i,p} = Σ_{j<p} ES_j + Σ_{k≥p} ED_k + Input/B + D_{p−1}/B.
  p = 0 runs everything on the device and sends nothing.
- ``device-first`` (Neurosurgeon's and SAC-d's): the device runs j < p and uploads D_{p−1} (the
  input itself when p = 0), the edge server runs k ≥ p:
      A_{i,p} = Σ_{j<p} ED_j + D_{p−1}/B + Σ_{k≥p} ES_k.
  p = N_i runs everything on the device and sends nothing.

A split that uses the network sends two messages (there and back), each paying half of an
optional round-trip time ``rtt_ms`` (Edgent: 0); the answer's few bytes are not counted.
Alg. 1: from the most accurate exit down, take the exit's best partition; return the first whose
latency meets the requirement, or ``None`` when no exit does. ``brute_force`` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORIENTATIONS = ("edge-first", "device-first")


@dataclass(frozen=True)
class ExitCosts:
    """Costs of one exit's branch, per layer (milliseconds and bytes)."""

    accuracy: float
    edge_ms: np.ndarray
    device_ms: np.ndarray
    out_bytes: np.ndarray  # D_j: output of layer j (compressed sizes may stand in)
    input_bytes: float

    def __post_init__(self):
        n = len(self.edge_ms)
        if not (len(self.device_ms) == len(self.out_bytes) == n):
            raise ValueError("edge_ms, device_ms and out_bytes need one value per layer")
        arrays = (self.edge_ms, self.device_ms, self.out_bytes, [self.input_bytes])
        if any(np.any(np.asarray(a, float) < 0) for a in arrays):
            raise ValueError("latencies and sizes must be non-negative")


@dataclass(frozen=True)
class Decision:
    exit: int  # 1-based, as in the papers
    point: int
    latency_ms: float
    accuracy: float


class PartitionSearch:
    """Precomputes the bandwidth-independent part of A_{i,p}; ``decide`` is then a few array ops."""

    def __init__(self, exits: list[ExitCosts], orientation: str = "edge-first",
                 rtt_ms: float = 0.0):
        if orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
        if not exits:
            raise ValueError("need at least one exit")
        if rtt_ms < 0:
            raise ValueError(f"rtt_ms must be non-negative, got {rtt_ms}")
        self.exits, self.orientation = exits, orientation
        self.order = sorted(range(len(exits)), key=lambda i: -exits[i].accuracy)
        self._compute, self._bytes, self._messages = [], [], []
        for e in exits:
            es, ed = np.asarray(e.edge_ms, float), np.asarray(e.device_ms, float)
            d = np.asarray(e.out_bytes, float)
            n = len(es)
            prefix_es = np.concatenate([[0.0], np.cumsum(es)])  # Σ_{j<p} ES_j, p = 0…n
            prefix_ed = np.concatenate([[0.0], np.cumsum(ed)])
            if orientation == "edge-first":
                compute = prefix_es + (prefix_ed[-1] - prefix_ed)
                sent = np.concatenate([[0.0], e.input_bytes + d])  # p = 0: nothing leaves
                messages = np.concatenate([[0], np.full(n, 2)])
            else:
                compute = prefix_ed + (prefix_es[-1] - prefix_es)
                sent = np.concatenate([[e.input_bytes], d[:-1], [0.0]])  # p = n: nothing sent
                messages = np.concatenate([np.full(n, 2), [0]])  # upload, then the answer
            self._compute.append(compute)
            self._bytes.append(sent)
            self._messages.append(messages * rtt_ms / 2)

    def latencies(self, bandwidth: float) -> list[np.ndarray]:
        """A_{i,p} in ms for every exit i and partition point p at ``bandwidth`` bytes/s."""
        _check_bandwidth(bandwidth)
        out = []
        for compute, sent, fixed in zip(self._compute, self._bytes, self._messages):
            with np.errstate(divide="ignore", invalid="ignore"):
                transfer = np.where(sent > 0, 1e3 * sent / bandwidth, 0.0)
            out.append(compute + transfer + np.where(sent > 0, fixed, 0.0))
        return out

    def best_partition(self, exit: int, bandwidth: float) -> tuple[int, float]:
        """(p, A) minimising the latency of exit ``exit`` (1-based)."""
        a = self.latencies(bandwidth)[exit - 1]
        p = int(np.argmin(a))
        return p, float(a[p])

    def decide(self, bandwidth: float, requirement_ms: float) -> Decision | None:
        """Edgent Alg. 1: the most accurate exit whose best partition meets the requirement."""
        if not requirement_ms > 0:
            raise ValueError(f"latency requirement must be positive, got {requirement_ms}")
        lat = self.latencies(bandwidth)
        for i in self.order:
            p = int(np.argmin(lat[i]))
            if lat[i][p] <= requirement_ms:
                return Decision(i + 1, p, float(lat[i][p]), self.exits[i].accuracy)
        return None

    # baselines on the same cost model
    def device_only(self, bandwidth: float) -> Decision:
        i = self.order[0]
        p = 0 if self.orientation == "edge-first" else len(self.exits[i].edge_ms)
        return Decision(i + 1, p, float(self.latencies(bandwidth)[i][p]), self.exits[i].accuracy)

    def edge_only(self, bandwidth: float) -> Decision:
        i = self.order[0]
        p = len(self.exits[i].edge_ms) if self.orientation == "edge-first" else 0
        return Decision(i + 1, p, float(self.latencies(bandwidth)[i][p]), self.exits[i].accuracy)

    def neurosurgeon(self, bandwidth: float) -> Decision:
        """Partition without early exit: the most accurate exit at its best partition point."""
        i = self.order[0]
        p, a = self.best_partition(i + 1, bandwidth)
        return Decision(i + 1, p, a, self.exits[i].accuracy)


def _check_bandwidth(bandwidth: float) -> None:
    if not bandwidth >= 0 or np.isnan(bandwidth):
        raise ValueError(f"bandwidth must be a non-negative number of bytes/s, got {bandwidth}")


def brute_force(exits: list[ExitCosts], bandwidth: float, requirement_ms: float,
                orientation: str = "edge-first", rtt_ms: float = 0.0) -> Decision | None:
    """Every (exit, point) evaluated from the formula, term by term: the reference for tests."""
    _check_bandwidth(bandwidth)
    best = None
    for i, e in enumerate(exits):
        n = len(e.edge_ms)
        for p in range(n + 1):
            if orientation == "edge-first":
                a = sum(e.edge_ms[:p]) + sum(e.device_ms[p:])
                sent = 0.0 if p == 0 else e.input_bytes + e.out_bytes[p - 1]
                fixed = rtt_ms if p > 0 else 0.0
            else:
                a = sum(e.device_ms[:p]) + sum(e.edge_ms[p:])
                sent = 0.0 if p == n else (e.input_bytes if p == 0 else e.out_bytes[p - 1])
                fixed = rtt_ms if p < n else 0.0
            if sent > 0:
                a += (1e3 * sent / bandwidth if bandwidth > 0 else np.inf) + fixed
            if a <= requirement_ms and (best is None or (e.accuracy, -a) > (best.accuracy,
                                                                          -best.latency_ms)):
                best = Decision(i + 1, p, float(a), e.accuracy)
    return best
