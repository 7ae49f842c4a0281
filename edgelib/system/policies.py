"""The two-level paper's system policies as pure functions, shared by the real system and the
simulator (issue 12): model-load Alg. 1, Alg. 2's routing, and shortest-wait offloading.

**Alg. 1 (model load), as printed** (two-level paper §3.2)::

    while min(M^0 … M^C) > m:
        for each encoder n:
            I_n = argmax_c D_n^c
            if M^{I_n} > m: load n on I_n;  M^{I_n} -= m;  D_n^{I_n} = 0
            else: D_n^{I_n} = 0;  I_n = argmax_c D_n^c;  repeat until a server has room

``D_n^c`` is encoder n's share of the inputs in cluster c, ``M^c`` the memory left on cluster
c's server, ``m`` one encoder's memory (the paper: all encoders cost the same). The test is
strict (``M > m``): a server holds at most ⌈M/m⌉ − 1 encoders. The printed loop leaves two
cases open, which we close and state:

- an encoder whose every cluster entry is zero (placed or tried everywhere) is skipped in that
  pass (the printed line 3 would take argmax of zeros, cluster 0, again); a pass that places
  nothing ends the loop (the printed ``while`` would spin forever);
- the paper's limitation — the servers together must hold every encoder at least once — is
  checked: when an encoder finds no server with room (the printed line 11 would repeat
  forever), or when one server starts with M ≤ m (the printed loop then loads nothing at all),
  ``on_short="raise"`` raises a clear error and ``"skip"`` returns the placement with those
  encoders unplaced (``Placement.unplaced``).

The whole-environment distribution D of the printed inputs is not used by the printed steps.

**Alg. 2 (routing)** (§3.3): which encoders a request needs (``recall.plan``) and which server
runs each: the local cluster's server when it holds the encoder, otherwise the holder with the
shortest estimated wait (the paper: "a request to check the estimated waiting time should be
sent to all qualified edge servers").

**Shortest-wait offloading** (§4.2.2, the partitioned baseline): the server with the shortest
estimated waiting time (ties: the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np


@dataclass
class Placement:
    servers: dict[int, list[int]]  # cluster -> encoders loaded there, in load order
    unplaced: list[int] = field(default_factory=list)  # encoders no server had room for
    memory_left: list[float] = field(default_factory=list)

    def holders(self, encoder: int) -> list[int]:
        return [c for c, encs in self.servers.items() if encoder in encs]


def capacity(memory: Sequence[float], m: float) -> int:
    """Encoders the servers hold together under Alg. 1's strict test (M > m)."""
    return int(sum(max(0, int(np.ceil(mc / m)) - 1) for mc in memory))


def model_load(shares, memory: Sequence[float], m: float, on_short: str = "raise") -> Placement:
    """Alg. 1: ``shares[c][n]`` = encoder n's share of cluster c's inputs; ``memory[c]`` = memory
    left on cluster c's server; ``m`` = one encoder's memory (same units)."""
    d = np.array(shares, dtype=float)
    if d.ndim != 2 or d.shape[0] != len(memory) or d.size == 0:
        raise ValueError(f"shares must be clusters × encoders with one row per server; got "
                         f"shape {d.shape} for {len(memory)} servers")
    if not np.isfinite(d).all() or (d < 0).any():
        raise ValueError("shares must be finite and non-negative")
    if not (np.isfinite(m) and m > 0) or any(not np.isfinite(x) or x < 0 for x in memory):
        raise ValueError(f"need m > 0 and finite memory ≥ 0, got m={m}, memory={list(memory)}")
    if on_short not in ("raise", "skip"):
        raise ValueError(f"on_short must be 'raise' or 'skip', got {on_short!r}")
    clusters, encoders = d.shape
    d = d.T.copy()  # d[n][c], zeroed as Alg. 1 goes
    left = [float(x) for x in memory]
    servers: dict[int, list[int]] = {c: [] for c in range(clusters)}
    tried = np.zeros_like(d, dtype=bool)  # (n, c) entries Alg. 1 has zeroed
    while min(left) > m:
        placed = 0
        for n in range(encoders):
            while not tried[n].all():
                i = int(np.argmax(np.where(tried[n], -1.0, d[n])))  # argmax over live entries
                tried[n, i] = True  # D_n^{I_n} = 0, loaded or full
                if left[i] > m:
                    servers[i].append(n)
                    left[i] -= m
                    placed += 1
                    break
        if placed == 0:
            break
    unplaced = [n for n in range(encoders) if not any(n in e for e in servers.values())]
    if unplaced and on_short == "raise":
        why = (f"a server starts with M ≤ m ({min(memory):g} ≤ {m:g}), so the printed loop "
               "never runs" if min(memory) <= m else
               f"the servers hold {capacity(memory, m)} encoders under its test M > m, fewer "
               f"than the {encoders} needed to load each once")
        raise ValueError(f"Alg. 1's limitation: {why}; encoders {unplaced} are not loaded "
                         "(on_short='skip' returns the partial placement)")
    return Placement(servers, unplaced, left)


def shortest_wait(waits: Mapping[int, float], among: Sequence[int] | None = None) -> int:
    """The server with the shortest estimated wait (ties: the first in ``among`` order)."""
    candidates = list(among) if among is not None else list(waits)
    if not candidates:
        raise ValueError("no server to choose from")
    return min(candidates, key=lambda s: (waits[s], candidates.index(s)))


def server_for(encoder: int, local: int, placement: Placement,
               waits: Mapping[int, float]) -> int:
    """Alg. 2's choice of server for one encoder: local if it holds it, else the holder with
    the shortest estimated wait."""
    holders = placement.holders(encoder)
    if not holders:
        raise ValueError(f"no server holds encoder {encoder}")
    return local if local in holders else shortest_wait(waits, holders)
