"""SAC-d's co-inference decision problem as a gymnasium environment, and the oracle.

**State** {T, e, acc, B}: the latency, device energy and accuracy of the previous decision and
the bandwidth now (each scaled to about [0, 1]). **Action**: (exit, partition point, bits c)
flattened into one ``Discrete`` over the valid combinations (points 0…N_exit, so 0…20 for the
main exit). **Reward** (eqs. 12–14): r = a·acc' + b·(1/T)', a = n·ln(1 + B/s), b = 1 − a;
s = 1 MB/s and n = 1 / ln(1 + B_max/s) keep a ∈ [0, 1]. Standardisation (our reading of "to one
magnitude"): acc' and (1/T)' are min-max scaled to [0, 1] over the instance — accuracy between
the least and the most accurate action, speed 1/T between on-device inference with the main
exit and the fastest action at the top bandwidth (clipped). r = 0 when the device energy e
exceeds the budget (eq. 14).

Bandwidth follows traces (``sweep_trace``, ``random_walk_traces``, ``regime_traces``). The
reward of an action depends on the bandwidth only, so the exact **oracle** maximises it per
step over every action (``Oracle``). ``evaluate`` scores a policy over traces; the agents
(discrete SAC and DQN from tianshou) are in ``edgelib.agents``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from .coinference import Instance

MB = 1e6


@dataclass(frozen=True)
class RewardParams:
    bandwidth_max: float  # bytes/s: the top of the traces (SAC-d: 10 MB/s)
    energy_budget_j: float  # eq. 14
    latency_min_ms: float  # the fastest action at ``bandwidth_max``
    latency_max_ms: float  # on-device inference with the main exit
    accuracy_min: float  # the least accurate action
    accuracy_max: float  # the most accurate action
    s: float = 1 * MB  # a = n·ln(1 + B/s)

    @property
    def n(self) -> float:
        return 1.0 / math.log(1 + self.bandwidth_max / self.s)

    def weights(self, bandwidth: float) -> tuple[float, float]:
        a = min(1.0, self.n * math.log(1 + max(bandwidth, 0.0) / self.s))
        return a, 1.0 - a

    def standardised(self, latency_ms: float, accuracy: float) -> tuple[float, float]:
        """Accuracy and speed (1/T) both min-max scaled to [0, 1] over the instance's actions."""
        acc = (accuracy - self.accuracy_min) / max(self.accuracy_max - self.accuracy_min, 1e-12)
        fast, slow = 1 / self.latency_min_ms, 1 / self.latency_max_ms
        speed = (1 / latency_ms - slow) / max(fast - slow, 1e-12)
        return float(np.clip(acc, 0, 1)), float(np.clip(speed, 0, 1))

    def describe(self) -> str:
        """The references in words (printed by notebook 07)."""
        return (f"a = {self.n:.3f}·ln(1 + B / {self.s / MB:g} MB/s); 1/T scaled between "
                f"{self.latency_max_ms:.2f} ms (on-device, main exit) and "
                f"{self.latency_min_ms:.2f} ms (fastest at {self.bandwidth_max / MB:g} MB/s); "
                f"accuracy between {self.accuracy_min:.4f} and {self.accuracy_max:.4f}; "
                f"energy budget {1e3 * self.energy_budget_j:.2f} mJ")

    def reward(self, latency_ms: float, energy_j: float, accuracy: float,
               bandwidth: float) -> float:
        """Eqs. 12–14: a·acc' + b·(1/T)', or 0 over the energy budget."""
        if not energy_j <= self.energy_budget_j or not np.isfinite(latency_ms):
            return 0.0
        a, b = self.weights(bandwidth)
        acc, speed = self.standardised(latency_ms, accuracy)
        return a * acc + b * speed


def reward_params(instance: Instance, bandwidth_max: float = 10 * MB,
                  budget_share: float = 1.2) -> RewardParams:
    """References from the instance; the budget is ``budget_share`` × on-device energy of the
    main exit (so on-device inference fits, and slow uploads of big features do not)."""
    evals = [instance.evaluate(e, p, c, bandwidth_max) for e, p, c in instance.actions]
    main = len(instance.device_ms)
    t_local, e_local, _ = instance.evaluate(main, len(instance.device_ms[-1]), None, bandwidth_max)
    return RewardParams(bandwidth_max, budget_share * e_local, min(t for t, _, _ in evals),
                        t_local, min(a for _, _, a in evals), max(a for _, _, a in evals))


class Oracle:
    """Exact per-step maximisation of the reward over all actions (the reward depends on B only)."""

    def __init__(self, instance: Instance, params: RewardParams):
        self.instance, self.params, self.actions = instance, params, instance.actions

    def rewards(self, bandwidth: float) -> np.ndarray:
        return np.array([self.params.reward(*self.instance.evaluate(e, p, c, bandwidth), bandwidth)
                         for e, p, c in self.actions])

    def act(self, bandwidth: float) -> int:
        return int(np.argmax(self.rewards(bandwidth)))


class CoInferenceEnv(gym.Env):
    """One episode = one bandwidth trace; each step decides one inference."""

    metadata = {"render_modes": []}

    def __init__(self, instance: Instance, params: RewardParams, traces: np.ndarray):
        traces = np.atleast_2d(np.asarray(traces, dtype=float))
        if traces.size == 0 or np.any(traces < 0) or np.any(~np.isfinite(traces)):
            raise ValueError("bandwidth traces must be non-empty, finite and non-negative")
        self.instance, self.params, self.traces = instance, params, traces
        self.actions = instance.actions
        self.action_space = gym.spaces.Discrete(len(self.actions))
        self.observation_space = gym.spaces.Box(0.0, 10.0, shape=(4,), dtype=np.float32)
        self._table = {}  # bandwidth → per-action (T, e, acc): traces repeat values

    def _costs(self, bandwidth: float) -> np.ndarray:
        if bandwidth not in self._table:
            self._table[bandwidth] = np.array([self.instance.evaluate(e, p, c, bandwidth)
                                               for e, p, c in self.actions])
        return self._table[bandwidth]

    def _obs(self, last: tuple[float, float, float]) -> np.ndarray:
        t, e, acc = last
        p = self.params
        # a zero energy budget (nothing feasible) must not divide by zero: e / budget clips to 10
        obs = [t / p.latency_max_ms, e / max(p.energy_budget_j, 1e-12), acc,
               self.trace[self.t] / p.bandwidth_max]
        return np.clip(np.nan_to_num(np.array(obs, np.float32), posinf=10.0), 0.0, 10.0)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        index = (options or {}).get("trace", int(self.np_random.integers(len(self.traces))))
        self.trace, self.t = self.traces[index], 0
        return self._obs((0.0, 0.0, 0.0)), {}

    def step(self, action):
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action {action} outside 0…{self.action_space.n - 1}")
        bandwidth = float(self.trace[self.t])
        t, e, acc = self._costs(bandwidth)[int(action)]
        reward = self.params.reward(t, e, acc, bandwidth)
        self.t += 1
        done = self.t >= len(self.trace)
        if done:
            self.t -= 1  # the observation after the last step repeats the last bandwidth
        return self._obs((t, e, acc)), float(reward), False, done, {
            "latency_ms": t, "energy_j": e, "accuracy": acc, "bandwidth": bandwidth}


# ----------------------------------------------------------------------------- traces
def sweep_trace(low: float = 0.0, high: float = 10 * MB, points: int = 41,
                fine_below: float = 0.1 * MB, fine_points: int = 5) -> np.ndarray:
    """Fig. 6's sweep: ``points`` evenly from ``low`` to ``high``, plus ``fine_points`` evenly in
    [low, fine_below] so that SAC-d's lowest range (0–0.1 MB/s, Fig. 6c) holds several."""
    fine = np.linspace(low, min(fine_below, high), fine_points) if fine_points else []
    return np.union1d(np.linspace(low, high, points), fine)


def random_walk_traces(count: int, length: int, seed: int, low: float = 0.05 * MB,
                       high: float = 10 * MB, step: float = 0.6 * MB) -> np.ndarray:
    """Reflected random walks of the bandwidth (training and held-out testing)."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, length))
    for i in range(count):
        b = rng.uniform(low, high)
        for t in range(length):
            b = b + rng.normal(0, step)
            b = low + abs(b - low) if b < low else high - abs(b - high) if b > high else b
            out[i, t] = min(max(b, low), high)
    return np.round(out / 1e4) * 1e4  # 10 kB/s resolution: repeated values share a cost table


def regime_traces(count: int, length: int, seed: int, levels=(0.2, 1.0, 3.0, 8.0),
                  switch: float = 0.05) -> np.ndarray:
    """Piecewise-constant traces that jump between regimes (MB/s) with probability ``switch``."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, length))
    for i in range(count):
        level = rng.choice(levels)
        for t in range(length):
            if rng.random() < switch:
                level = rng.choice(levels)
            out[i, t] = level * MB
    return out


# ---------------------------------------------------------------------- policies, evaluation
def greedy_rollout(env: CoInferenceEnv, act, trace_index: int) -> dict:
    """Run ``act(obs, bandwidth) -> action`` along one trace; per-step rewards and choices."""
    obs, _ = env.reset(options={"trace": trace_index})
    rows = []
    for _ in range(len(env.trace)):
        bandwidth = float(env.trace[env.t])
        a = act(obs, bandwidth)
        obs, r, _, done, info = env.step(a)
        rows.append({"reward": r, "action": a, **info})
        if done:
            break
    return {"reward": float(np.mean([r["reward"] for r in rows])), "steps": rows}


def evaluate(env_traces: np.ndarray, instance, params, act) -> dict:
    """Mean reward of ``act(obs, bandwidth) -> action index`` over the traces, and its steps."""
    env = CoInferenceEnv(instance, params, env_traces)
    runs = [greedy_rollout(env, act, i) for i in range(len(env_traces))]
    steps = [dict(s) for r in runs for s in r["steps"]]
    for s in steps:
        s["exit"], s["point"], s["bits"] = env.actions[s["action"]]
    return {"reward": float(np.mean([r["reward"] for r in runs])), "steps": steps}


def evaluate_direct(env_traces: np.ndarray, instance, params, choose) -> dict:
    """The same for a policy outside the action set:
    ``choose(bandwidth) -> (exit, point, bits)``, scored directly by the reward."""
    steps = []
    for b in np.asarray(env_traces, float).ravel():
        e, p, c = choose(float(b))
        t, en, acc = instance.evaluate(e, p, c, float(b))
        steps.append({"reward": params.reward(t, en, acc, float(b)), "latency_ms": t,
                      "energy_j": en, "accuracy": acc, "bandwidth": float(b), "exit": e,
                      "point": p, "bits": c})
    return {"reward": float(np.mean([s["reward"] for s in steps])), "steps": steps}


def decision_time_ms(act, obs: np.ndarray, repeats: int = 200) -> float:
    """Mean wall-clock time of one decision on one thread (the device platform's), in ms.

    A benchmark, printed, never asserted.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(5):
            act(obs, 0.0)
        start = time.perf_counter()
        for _ in range(repeats):
            act(obs, 0.0)
        return (time.perf_counter() - start) / repeats * 1e3
    finally:
        torch.set_num_threads(threads)


__all__ = ["CoInferenceEnv", "Oracle", "RewardParams", "evaluate", "evaluate_direct",
           "greedy_rollout", "random_walk_traces", "regime_traces", "reward_params", "sweep_trace"]
