"""Alg. 2 of the two-level paper: which second-level encoders to query, and which answer to keep.

A pure function of the first level's superclass probabilities and a callable that queries one
second-level encoder (locally in notebook 02, over the network in the system notebook).

Thresholds (all in [0, 1]):
- ``t_l_max`` — first level confident: query only the top superclass's encoder;
- ``t_l_min`` — otherwise recall every superclass whose probability is at least this, in order
  of probability, at most ``p_max`` of them;
- ``t_h`` — optional acceptance threshold on the second level's confidence.

Our reading of T^H (the paper: "a second-level result below T^H is not accepted; more
second-level inference is run on high-confidence superclasses"): encoders are queried in the
order above; the first result whose confidence reaches ``t_h`` is accepted and querying stops.
A confident-path result below ``t_h`` is therefore not final: the recall list is queried after
it. When nothing reaches ``t_h`` (or ``t_h`` is None), the most confident result queried wins
(ties: the superclass the first level ranked higher). If no superclass reaches ``t_l_min``, the
top superclass alone is queried, so every input gets an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    t_l_max: float
    t_l_min: float
    p_max: int
    t_h: float | None = None

    def __post_init__(self):
        for name in ("t_l_max", "t_l_min", "t_h"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.t_l_min > self.t_l_max:
            raise ValueError(f"T^L_min ({self.t_l_min}) must not exceed T^L_max ({self.t_l_max})")
        if not isinstance(self.p_max, int) or self.p_max < 1:
            raise ValueError(f"P_max must be a positive integer, got {self.p_max!r}")


@dataclass(frozen=True)
class Decision:
    label: int  # the final class (global index)
    confidence: float  # the second level's confidence in it
    superclass: int  # whose encoder gave it
    queried: tuple[int, ...]  # superclasses queried, in order
    recalled: bool  # True when the first level was not confident enough for one query


Query = Callable[[int], tuple[int, float]]  # superclass -> (class, confidence)


RULES = ("first-stop", "paper")


def plan(first_level: Sequence[float], th: Thresholds) -> tuple[list[int], bool]:
    """(the superclasses Alg. 2 may query, in order; whether the first level is confident).
    ``decide`` queries a prefix of this list."""
    probs = [float(p) for p in first_level]
    if not probs:
        raise ValueError("the first level gave no superclass probabilities")
    order = sorted(range(len(probs)), key=lambda s: (-probs[s], s))
    top = order[0]
    confident = probs[top] >= th.t_l_max
    recall = [s for s in order if probs[s] >= th.t_l_min][: th.p_max] or [top]
    return ([top] + [s for s in recall if s != top] if confident else recall), confident


def waves(first_level: Sequence[float], th: Thresholds, rule: str = "first-stop"
          ) -> list[list[int]]:
    """The queries of a networked Alg. 2, as waves sent in parallel. ``"paper"``: the printed
    algorithm — the top superclass alone when confident, else all of L[0:P] at once, the most
    confident answer wins. ``"first-stop"``: our reading (``decide``) — the same first wave; a
    confident answer below T^H sends a second wave with the rest of the plan."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    order, confident = plan(first_level, th)
    order = order[: th.p_max]
    if not confident:
        return [order]
    if rule == "paper" or th.t_h is None or len(order) == 1:
        return [order[:1]]
    return [order[:1], order[1:]]


def choose(results: Sequence[tuple[int, int, float]], th: Thresholds, confident: bool,
           rule: str = "first-stop") -> Decision:
    """The final answer from ``(superclass, class, confidence)`` results in plan order:
    ``"paper"``: the most confident; ``"first-stop"``: the first reaching T^H, else the most
    confident (``decide`` gives the same answer querying one at a time)."""
    if not results:
        raise ValueError("no second-level result to choose from")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    used = list(results)
    if rule == "first-stop" and th.t_h is not None:
        hit = next((i for i, r in enumerate(used) if r[2] >= th.t_h), None)
        used = used[: hit + 1] if hit is not None else used
    best = max(used, key=lambda r: r[2])
    return Decision(best[1], float(best[2]), best[0], tuple(r[0] for r in used),
                    recalled=len(used) > 1 or not confident)


def decide(first_level: Sequence[float], query: Query, th: Thresholds) -> Decision:
    """Run Alg. 2 for one input (see the module docstring for the exact rules)."""
    plan_, confident = plan(first_level, th)
    results: list[tuple[int, int, float]] = []  # (superclass, class, confidence)
    for s in plan_:
        if results and len(results) >= th.p_max:
            break
        label, conf = query(s)
        results.append((s, label, float(conf)))
        if th.t_h is not None and conf >= th.t_h:
            break
        if confident and th.t_h is None:
            break  # confident path without T^H: one encoder, as in Alg. 2
    return choose(results, th, confident, "first-stop")  # the queries stopped at any hit
