"""SAC-d's experiment (notebook 07): agents over seeds against the oracle and the baselines.

``run`` trains discrete SAC and DQN for every seed of the profile on random-walk bandwidth
traces, keeps each run's best epoch on separate validation traces, records learning curves
(greedy reward on held-out traces as a share of the oracle's), and evaluates every policy —
SAC-d, DQN, the oracle, Edgent's search, on-device only and random — on held-out random-walk
and regime traces and on the sweep of Fig. 6 (``evaluate_all``). Results are cached (JSON) under
the key of ``config``, wall-clock decision times apart (``timing``).

Reading the results — tables, Fig. 6c beside the paper, the paper-vs-here rows — is
``edgelib.sacd_report`` (its names are importable from here too); this module keeps the
notebook's figures (``draw_*``) and its closing lines (``findings``), which read nothing that
feeds the cache key.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd

from . import agents, cache, coinference, papers, profiles, rl
from .partition import PartitionSearch
from .profiles import Profile
from .sacd_report import (  # noqa: F401  (re-exported: notebook 07 and the tests use sacd.*)
    CONTEXT, EDGENT, GOAL_DECISION_MS, GOAL_MET, GOAL_NOT_MET, GOAL_SHARE_PCT, HELD_OUT,
    NOT_COMPARABLE, NOT_FEASIBLE, assumptions, bits_label, budget_text, claims, curves,
    decision_times, extrapolation, fig6c, heldout_table, oracle_choices, paper_fig6c_steps,
    reward_context, sensitivity, shares, sweep, sweep_summary, training_budget, upload_context)


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
    index = {a: i for i, a in enumerate(instance.actions)}
    oracle = rl.Oracle(instance, params)
    main = len(instance.device_ms)
    local = index[(main, len(instance.device_ms[-1]), instance.bits[0])]
    rng = np.random.default_rng(0)
    return {"oracle": lambda _o, b: oracle.act(b), "on-device": lambda _o, _b: local,
            "random": lambda _o, _b: int(rng.integers(len(instance.actions)))}


def edgent_policy(instance, requirement_ms: float):
    """Edgent's Alg. 1 (device-first, fp32 upload, averaged measurements): bandwidth → action.

    It is outside SAC-d's action set (no quantization), so it is scored directly by the reward.
    """
    search = PartitionSearch(instance.exit_costs(), "device-first")

    def choose(bandwidth: float) -> tuple[int, int, None]:
        d = search.decide(bandwidth, requirement_ms) or search.device_only(bandwidth)
        return d.exit, d.point, None
    return choose


def evaluate_all(policies: dict, instance, params, tr: dict, requirement_ms: float) -> list[dict]:
    """Every policy and Edgent's Alg. 1 on the held-out traces and the sweep (steps kept there)."""
    edgent = edgent_policy(instance, requirement_ms)
    out = []
    for name, act in [*policies.items(), ("Edgent (Alg. 1)", None)]:
        for trace_name in (*HELD_OUT, "sweep"):
            r = (rl.evaluate(tr[trace_name], instance, params, act) if act is not None
                 else rl.evaluate_direct(tr[trace_name], instance, params, edgent))
            out.append({"policy": name, "traces": trace_name, "reward": r["reward"],
                        "steps": r["steps"] if trace_name == "sweep" else []})
    return out


def _setup(profile: Profile, instance, gamma: float | None):
    """Reward references, Edgent's latency requirement and the agents' knobs of a run."""
    k = profile.decision
    params = rl.reward_params(instance, budget_share=k.energy_budget_share)
    main = len(instance.device_ms)
    requirement = 0.5 * instance.evaluate(main, len(instance.device_ms[-1]), None, 1.0)[0]
    knobs = agents.AgentKnobs(hidden=k.hidden, epochs=k.epochs, steps_per_epoch=k.steps_per_epoch)
    return params, requirement, knobs if gamma is None else replace(knobs, gamma=gamma)


def config(profile: Profile, instance, gamma: float | None = None,
           kinds: tuple[str, ...] = agents.AGENTS) -> dict:
    """What a run's cache key hashes: knobs, reward references, costs, bit set, agents, sweep."""
    params, requirement, knobs = _setup(profile, instance, gamma)
    return {"stage": "sacd", "decision": asdict(profile.decision), "params": asdict(params),
            "instance": instance.labels, "bits": list(instance.bits),
            "costs": [float(np.sum(a)) for a in instance.device_ms + instance.edge_ms],
            "requirement_ms": requirement, "seed": profile.seed, "agent": asdict(knobs),
            "target_entropy_share": agents.TARGET_ENTROPY_SHARE, "kinds": list(kinds),
            "sweep": traces(profile)["sweep"].ravel().tolist()}


def run(profile: Profile, instance: coinference.Instance | None = None,
        gamma: float | None = None, kinds: tuple[str, ...] = agents.AGENTS) -> dict:
    """The whole comparison, cached by ``config`` (the instance's bit set included).

    ``gamma`` overrides SAC-d's discount factor 0.99 and ``kinds`` picks the agents (ablations).
    """
    k = profile.decision
    instance = instance or coinference.build(profile, bits=k.rl_bits)
    params, requirement, knobs = _setup(profile, instance, gamma)
    tr, cfg = traces(profile), config(profile, instance, gamma, kinds)
    folder = cache.entry("sacd", cfg)
    if cache.is_complete(folder):
        return {**cache.read_json(folder / "results.json"),
                "timing": cache.read_json(folder / "timing.json")}
    policies = baselines(instance, params)
    oracle_heldout = rl.evaluate(tr["held-out random walk"], instance, params, policies["oracle"])
    results = {"params": asdict(params), "requirement_ms": requirement, "gamma": knobs.gamma,
               "bits": list(instance.bits), "actions": instance.actions, "curves": [],
               "selected_epochs": []}
    timing = {}
    for kind in kinds:
        for seed in k.seeds:
            def on_epoch(epoch, step, act, kind=kind, seed=seed):
                r = rl.evaluate(tr["held-out random walk"], instance, params, act)["reward"]
                best = oracle_heldout["reward"]  # 0 where nothing is feasible
                results["curves"].append({"agent": kind, "seed": seed, "epoch": epoch,
                                          "env_step": step,
                                          "share_of_oracle": r / best if best > 0 else np.nan})
            algorithm = agents.train_agent(
                kind, lambda: rl.CoInferenceEnv(instance, params, tr["train"]), knobs, seed,
                on_epoch, validate=lambda act: rl.evaluate(tr["validation"], instance, params,
                                                        act)["reward"])
            results["selected_epochs"].append({"agent": kind, "seed": seed,
                                               "epoch": algorithm.best_epoch})
            act = agents.greedy_actor(algorithm)
            policies[f"{kind} seed {seed}"] = act
            timing[f"{kind} seed {seed} decision_ms"] = rl.decision_time_ms(
                act, np.zeros(4, np.float32))
    results["evaluations"] = evaluate_all(policies, instance, params, tr, requirement)
    timing["oracle decision_ms"] = rl.decision_time_ms(policies["oracle"],
                                                       np.zeros(4, np.float32), repeats=20)
    edgent = edgent_policy(instance, requirement)
    timing["Edgent decision_ms"] = rl.decision_time_ms(lambda _o, b: edgent(b),
                                                       np.zeros(4, np.float32))
    cache.write_json(folder / "results.json", results)
    cache.write_json(folder / "timing.json", timing)
    cache.write_json(folder / "config.json", cfg)
    cache.mark_complete(folder)
    return {**results, "timing": timing}




# ------------------------------------------------------------------------------ figures
_NAMES = {"sac-d": "SAC-d", "dqn": "DQN", "oracle": "oracle (ours)", "random": "random",
          "on-device": "on-device (whole network)", EDGENT: "Edgent's Alg. 1 (fp32 upload)"}
_STYLE = {"sac-d": (0, "-"), "dqn": (1, "--"), "oracle": ("k", ":"), EDGENT: (2, "-."),
          "on-device": (7, "-"), "random": (5, ":")}  # colour (colorblind index), line style
_OTHER_SET = {"sac-d": (4, (0, (6, 2, 1, 2))), "dqn": (3, (0, (2, 1)))}  # after the first set


def fig6ab_style(curve: str, first: str) -> tuple[object, object, str]:
    """Colour, line style and legend label of a curve of ``sweep_summary`` (``first``: the main
    bit set, which curves without 'c ∈' belong to)."""
    import seaborn as sns

    agent, _, label = curve.partition(", c ∈ ")
    colour, ls = (_OTHER_SET if label else _STYLE).get(agent, (9, "-"))
    colour = sns.color_palette("colorblind")[colour] if isinstance(colour, int) else colour
    name = _NAMES.get(agent, agent)
    return colour, ls, name if agent in ("on-device", EDGENT) else f"{name}, c ∈ {label or first}"


def draw_fig6ab(summary: pd.DataFrame, axes, first: str) -> None:
    """(a) latency on a log axis whose top row is ∞ (``plots.infinity_row``), (b) accuracy:
    per curve the mean over seeds, (a) with the min–max band."""
    from . import plots

    for curve, g in summary.groupby("curve", observed=True):
        colour, ls, label = fig6ab_style(str(curve), first)
        fin, inf = g[np.isfinite(g.latency_ms)], g[g.infinite > 0]
        axes[0].plot(fin.bandwidth_MBps, fin.latency_ms, ls=ls, color=colour, lw=1.8, label=label)
        axes[0].fill_between(fin.bandwidth_MBps, fin.latency_min, fin.latency_max, color=colour,
                             alpha=0.12)
        axes[0].plot(inf.bandwidth_MBps, inf.shown_ms, "^", color=colour, ms=8)
        axes[1].plot(g.bandwidth_MBps, g.accuracy_pct, ls=ls, color=colour, lw=1.8)
    axes[0].set_yscale("log")
    top = summary.shown_ms[summary.infinite > 0]
    if len(top):
        axes[0].set_ylim(top=top.max() * 1.5)
        plots.infinity_row(axes[0], top.min() / 1.6, float(np.sqrt(top.min() * top.max())))
        axes[0].plot([], [], "^", color="grey", label="∞: an upload at 0 MB/s never completes")
    axes[0].set(xlabel="bandwidth (MB/s)", ylabel="latency (ms, log scale)", title="(a) latency")
    axes[1].set(xlabel="bandwidth (MB/s)", ylabel="accuracy (%)", title="(b) accuracy")


def draw_fig6c(sw: pd.DataFrame, runs: dict[str, dict]):
    """Exit, partition point and uploaded bits along the sweep per bit set: every SAC-d seed
    (thin), the oracle (dashed) and the paper's stated exit and bits (grey band)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    paper, palette = paper_fig6c_steps(), sns.color_palette("colorblind")
    paper_bits = sorted({s["bits"] for s in papers.SACD_FIG6C if s["bits"]})
    fig, axes = plt.subplots(3, len(runs), figsize=(6.5 * len(runs), 8), sharex=True,
                             squeeze=False)
    for j, label in enumerate(runs):
        mine = sw[sw.bits_set == label]
        seeds = sorted(mine[mine.agent == "sac-d"].policy.unique())
        for k, policy in enumerate([*seeds, "oracle"]):
            h = mine[mine.policy == policy]
            kw = (dict(color="k", ls="--", lw=1.6) if policy == "oracle" else  # seeds: thin
                  dict(color=palette[(0, 3, 4, 5, 8)[k % 5]], lw=1.3, alpha=0.75,
                       ls=("-", (0, (1, 1)), (0, (4, 1, 1, 1)))[k % 3]))
            for i, col in enumerate(("exit", "point", "c_uploaded")):
                axes[i, j].step(h.bandwidth_MBps, h[col], where="mid",
                                label=policy.replace("sac-d", "SAC-d"), **kw)
        for i, col in ((0, "exit"), (2, "bits")):
            axes[i, j].plot(paper.bandwidth_MBps, paper[col], color="grey", lw=5, alpha=0.35,
                            label="paper (§IV-B3 text)")
        axes[0, j].set(title=f"c ∈ {label}", ylabel="exit (branch number)",
                       yticks=list(papers.SACD_EXIT_POINTS))
        axes[1, j].set(ylabel="partition point\n(layers on the device)")
        axes[1, j].yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[2, j].set(ylabel="bits c of the upload", xlabel="bandwidth (MB/s)",
                       yticks=sorted(set(runs[label].get("bits", [])) | set(paper_bits)))
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    return fig, axes


def epoch_ticks(ax, env_steps) -> None:
    """x ticks at the epoch boundaries (every k-th labelled when there are more than 12)."""
    steps = sorted({int(s) for s in env_steps})
    every = -(-len(steps) // 12) if steps else 1
    ax.set_xticks(steps, [f"{s:,}" if (i + 1) % every == 0 else "" for i, s in enumerate(steps)],
                  rotation=0)


# ------------------------------------------------------------------------------ findings
def accuracy_images(profile: Profile) -> int:
    """How many test images each quantized accuracy was measured on (notebook 05)."""
    whole = 10 * profile.test_per_class if profile.test_per_class else 10_000  # CIFAR-10 test
    return profile.edge.accuracy_images or whole


def findings(profile: Profile, runs: dict[str, dict], ablation: dict | None, sets: dict,
             params: dict, tr: dict, table: pd.DataFrame) -> list[str]:
    """The closing lines of notebook 07, every number computed from the results above."""
    sh = shares(runs)
    main = next(iter(runs))
    rows = table.set_index("claim")
    labels = sets[main].labels or {}
    dev, edge = labels.get("device", {}), labels.get("edge", {})
    out = [f"Everything here is simulated: per-layer costs of {dev.get('name', 'the device')} "
           f"emulated by {dev.get('threads', '?')} host thread with times × "
           f"{dev.get('slowdown', '?')} ({dev.get('calibration', 'no calibration recorded')}) "
           f"and of {edge.get('name', 'the edge')}; energy from eqs. 1–3 with assumed constants "
           "(edgelib.energy), not measured."]

    def pct(agent, label, t=HELD_OUT[0]):
        r = sh[(sh.agent == agent) & (sh.bits == label) & (sh.traces == t)]
        return None if r.empty else r.iloc[0]

    part = []
    for label in runs:
        s = pct("sac-d", label)
        if s is not None:
            part.append(f"{s['mean']:.1f} % with c ∈ {label} (worst seed {s['min']:.1f} %)")
    d = pct("dqn", main)
    dqn_row = rows.filter(like="DQN's reward below", axis=0)
    if part:
        out.append("On held-out random walks SAC-d reaches " + " and ".join(part) + " of the "
                   "oracle's reward" + (f"; DQN {d['mean']:.1f} % (seeds {d['min']:.1f}–"
                                        f"{d['max']:.1f} %), c ∈ {main}: DQN below SAC-d is "
                                        f"{dqn_row.verdict.iloc[0]}" if d is not None and
                                        len(dqn_row) else "") + ".")
    ahead = [(label, t) for label in runs for t in HELD_OUT
             if (e := pct(EDGENT, label, t)) is not None and not np.isnan(e["mean"])
             and all(e["mean"] > x["mean"] for a in agents.AGENTS
                     if (x := pct(a, label, t)) is not None)]
    cases = [(label, t) for label in runs for t in HELD_OUT if pct("sac-d", label, t) is not None]
    if cases:
        out.append(f"Edgent's Alg. 1 — no learning, fp32 uploads — scores above every learned "
                   f"agent's mean in {len(ahead)} of {len(cases)} (bit set, held-out traces) "
                   "cases.")
    for claim, r in rows.iterrows():
        if claim.startswith("Edgent's Alg. 1"):
            out.append(f"{claim}: {r.ours} — {r.verdict}.")
    out += _budget_lines(profile, runs)
    if ablation is not None:
        a = rows.filter(like="ablation (ours)", axis=0)
        if len(a):
            out.append(f"{a.index[0]}: {a.ours.iloc[0]} — {a.verdict.iloc[0]}.")
    for claim, r in rows.iterrows():
        if claim.startswith("Fig. 6c"):
            out.append(f"{claim}: {r.ours} — {r.verdict}.")
    eq6 = list(runs)[-1]
    feasible = (sh[sh.agent == "oracle"]["mean"] > 0).any()
    if feasible:
        out.append("Why even the oracle (the optimum of our reward) differs from the paper's "
                   "Fig. 6c: " + upload_context(sets[eq6]) + " "
                   + reward_context(sets[main], params[main], accuracy_images(profile)))
    out.append(extrapolation(runs, tr["train"]))
    for claim, r in rows.iterrows():
        if claim.startswith(("Fig. 6a", "Fig. 6b", "speed-up", "decision")):
            out.append(f"{claim}: {r.ours} — {r.verdict}.")
    return out


def _budget_lines(profile: Profile, runs: dict[str, dict]) -> list[str]:
    """What the agents were trained with, which epoch each run kept, and the drift after it."""
    out = []
    for label, res in runs.items():
        b = training_budget(res)
        if b is None:
            continue
        kept = set(b["kept"])
        if len(kept) == 1:  # one epoch kept by every seed: the drift after it
            e = kept.pop()
            later = b["share"][b["share"].index > e]
            span = (f"{later.min():.1f} %" if later.min() == later.max() else
                    f"{later.min():.1f}–{later.max():.1f} %") if len(later) else ""
            drift = (f"; held-out share {b['share'].get(e, np.nan):.1f} % after epoch {e}" +
                     (f", {span} over the later epochs (mean over seeds)" if span else ""))
        else:
            drift = ""
        out.append(f"SAC-d, c ∈ {label}: {budget_text(b)}{drift}.")
    k, pk = profile.decision, profiles.get("paper").decision
    note = "" if profile.name == "paper" else (
        f"; the paper profile ({len(pk.seeds)} seeds × {pk.epochs} epochs × "
        f"{pk.steps_per_epoch:,} steps) was not run here")
    out.append(f"The {profile.name} profile trains each agent {len(k.seeds)} seeds × {k.epochs} "
               f"epochs × {k.steps_per_epoch:,} steps; the paper trained "
               f"'{papers.SACD_AGENT['trained']}'{note}.")
    return out
