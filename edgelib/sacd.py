"""SAC-d's experiment (notebook 07): agents over seeds against the oracle and the baselines.

``run`` trains discrete SAC and DQN for every seed of the profile on random-walk bandwidth
traces, keeps each run's best epoch on separate validation traces, records learning curves
(greedy reward on held-out traces as a share of the oracle's),
and evaluates every policy — SAC-d, DQN, the oracle, Edgent's search, on-device only and
random — on held-out random-walk and regime traces and on the 0–10 MB/s sweep of Fig. 6.
Results are cached (JSON), wall-clock decision times apart (``timing``).
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np

from . import agents, cache, coinference, rl
from .partition import PartitionSearch
from .profiles import Profile


def traces(profile: Profile) -> dict[str, np.ndarray]:
    k = profile.decision
    return {"train": rl.random_walk_traces(k.train_traces, k.trace_length, profile.seed),
            "validation": rl.random_walk_traces(k.heldout_traces, k.trace_length,
                                                profile.seed + 3000),
            "held-out random walk": rl.random_walk_traces(k.heldout_traces, k.trace_length,
                                                          profile.seed + 1000),
            "held-out regimes": rl.regime_traces(k.heldout_traces, k.trace_length,
                                                 profile.seed + 2000),
            "sweep": rl.sweep_trace()[None]}


def baselines(instance, params: rl.RewardParams) -> dict:
    """Policies that need no training: obs, bandwidth → action index."""
    actions = instance.actions
    index = {a: i for i, a in enumerate(actions)}
    oracle = rl.Oracle(instance, params)
    main = len(instance.device_ms)
    local = index[(main, len(instance.device_ms[-1]), instance.bits[0])]
    rng = np.random.default_rng(0)
    return {"oracle": lambda _o, b: oracle.act(b), "on-device": lambda _o, _b: local,
            "random": lambda _o, _b: int(rng.integers(len(actions)))}


def edgent_policy(instance, requirement_ms: float):
    """Edgent's Alg. 1 (device-first, fp32 upload, averaged measurements): bandwidth → action.

    It is outside SAC-d's action set (no quantization), so it is scored directly by the reward.
    """
    search = PartitionSearch(instance.exit_costs(), "device-first")

    def choose(bandwidth: float) -> tuple[int, int, None]:
        d = search.decide(bandwidth, requirement_ms) or search.device_only(bandwidth)
        return d.exit, d.point, None
    return choose


def evaluate(env_traces: np.ndarray, instance, params, act) -> dict:
    """Mean reward of ``act(obs, bandwidth) -> action index`` over the traces, and its steps."""
    env = rl.CoInferenceEnv(instance, params, env_traces)
    runs = [rl.greedy_rollout(env, act, i) for i in range(len(env_traces))]
    steps = [dict(s) for r in runs for s in r["steps"]]
    for s in steps:
        s["exit"], s["point"], s["bits"] = env.actions[s["action"]]
    return {"reward": float(np.mean([r["reward"] for r in runs])), "steps": steps}


def evaluate_direct(env_traces: np.ndarray, instance, params, choose) -> dict:
    """The same for a policy outside the action set: ``choose(bandwidth) -> (exit, point, bits)``."""
    steps = []
    for b in np.asarray(env_traces, float).ravel():
        e, p, c = choose(float(b))
        t, en, acc = instance.evaluate(e, p, c, float(b))
        steps.append({"reward": params.reward(t, en, acc, float(b)), "latency_ms": t,
                      "energy_j": en, "accuracy": acc, "bandwidth": float(b), "exit": e,
                      "point": p, "bits": c})
    return {"reward": float(np.mean([s["reward"] for s in steps])), "steps": steps}


def run(profile: Profile, instance: coinference.Instance | None = None,
        gamma: float | None = None, kinds: tuple[str, ...] = agents.AGENTS) -> dict:
    """The whole comparison, cached by its configuration.

    ``gamma`` overrides SAC-d's discount factor 0.99 and ``kinds`` picks the agents (ablations).
    """
    k = profile.decision
    instance = instance or coinference.build(profile, bits=k.rl_bits)
    params = rl.reward_params(instance, budget_share=k.energy_budget_share)
    requirement = 0.5 * instance.evaluate(len(instance.device_ms), len(instance.device_ms[-1]),
                                          None, 1.0)[0]
    knobs = agents.AgentKnobs(hidden=k.hidden, epochs=k.epochs,
                              steps_per_epoch=k.steps_per_epoch)
    if gamma is not None:
        knobs = replace(knobs, gamma=gamma)
    config = {"stage": "sacd", "decision": asdict(k), "params": asdict(params),
              "instance": instance.labels, "bits": list(instance.bits),
              "costs": [float(np.sum(a)) for a in instance.device_ms + instance.edge_ms],
              "requirement_ms": requirement, "seed": profile.seed, "agent": asdict(knobs),
              "target_entropy_share": agents.TARGET_ENTROPY_SHARE, "kinds": list(kinds)}
    folder = cache.entry("sacd", config)
    if cache.is_complete(folder):
        return {**cache.read_json(folder / "results.json"),
                "timing": cache.read_json(folder / "timing.json")}
    tr = traces(profile)
    policies = baselines(instance, params)
    oracle_heldout = evaluate(tr["held-out random walk"], instance, params, policies["oracle"])
    results = {"params": asdict(params), "requirement_ms": requirement,
               "actions": instance.actions, "curves": [], "evaluations": [],
               "selected_epochs": []}
    timing = {}
    for kind in kinds:
        for seed in k.seeds:
            def on_epoch(epoch, step, act, kind=kind, seed=seed):
                r = evaluate(tr["held-out random walk"], instance, params, act)["reward"]
                results["curves"].append({"agent": kind, "seed": seed, "epoch": epoch,
                                          "env_step": step,
                                          "share_of_oracle": r / oracle_heldout["reward"]})
            algorithm = agents.train_agent(
                kind, lambda: rl.CoInferenceEnv(instance, params, tr["train"]), knobs, seed,
                on_epoch, validate=lambda act: evaluate(tr["validation"], instance, params,
                                                        act)["reward"])
            results["selected_epochs"].append({"agent": kind, "seed": seed,
                                               "epoch": algorithm.best_epoch})
            act = agents.greedy_actor(algorithm)
            policies[f"{kind} seed {seed}"] = act
            timing[f"{kind} seed {seed} decision_ms"] = rl.decision_time_ms(
                act, np.zeros(4, np.float32))
    edgent = edgent_policy(instance, requirement)
    for name, act in [*policies.items(), ("Edgent (Alg. 1)", None)]:
        for trace_name in ("held-out random walk", "held-out regimes", "sweep"):
            out = (evaluate(tr[trace_name], instance, params, act) if act is not None
                   else evaluate_direct(tr[trace_name], instance, params, edgent))
            results["evaluations"].append({
                "policy": name, "traces": trace_name, "reward": out["reward"],
                "steps": out["steps"] if trace_name == "sweep" else []})
    timing["oracle decision_ms"] = rl.decision_time_ms(policies["oracle"],
                                                       np.zeros(4, np.float32), repeats=20)
    timing["Edgent decision_ms"] = rl.decision_time_ms(lambda _o, b: edgent(b),
                                                       np.zeros(4, np.float32))
    cache.write_json(folder / "results.json", results)
    cache.write_json(folder / "timing.json", timing)
    cache.write_json(folder / "config.json", config)
    cache.mark_complete(folder)
    return {**results, "timing": timing}
