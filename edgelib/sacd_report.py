"""Reading SAC-d's results (notebook 07): tables, Fig. 6c beside the paper, paper-vs-here rows.

Each function takes ``runs``, {bit-set label: results of ``sacd.run``}, the first being the main
set (§IV-A1's), and returns a table or text: shares of the oracle's reward (``shares``,
``heldout_table``), the steps along the sweep (``sweep``, ``sweep_summary``), SAC-d's and the
oracle's choices per bandwidth range of Fig. 6c beside the paper's (``fig6c``), why the oracle
itself differs from the paper (``upload_context``, ``reward_context``) and the paper-vs-here
rows (``claims``); ``findings`` assembles the closing lines. None of them
raises on degenerate results: where no action meets the energy budget (the oracle's reward is 0)
or nothing was trained, the rows say so. Nothing here feeds ``sacd.config`` (the cache key).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from . import agents, papers, report, rl
from .coinference import RAW_IMAGE_BYTES

GOAL_SHARE_PCT = 98.0  # this project's goal for SAC-d, % of the oracle's reward (not the paper's)
GOAL_DECISION_MS = 1.0  # this project's goal for one decision (the paper: < SACD_DECISION_MS)
HELD_OUT = ("held-out random walk", "held-out regimes")
NOT_FEASIBLE = "no action meets the device's energy budget (eq. 14), so the oracle's reward is 0"
NOT_COMPARABLE = "not comparable"
GOAL_MET, GOAL_NOT_MET = "project goal met", "project goal not met"
CONTEXT = "context, not a paper claim"
FAR_POINTS = 1.0  # our reading of "far higher" accuracy (Fig. 6b): more than 1 point
EDGENT = "Edgent (Alg. 1)"
ORDER = ("oracle", "sac-d", "dqn", EDGENT, "on-device", "random")  # rows of the held-out table


def bits_label(bits) -> str:
    return "{" + ", ".join(str(int(c)) for c in bits) + "}"


def _agent(policy: pd.Series) -> pd.Series:
    return policy.str.replace(r" seed \d+$", "", regex=True)


def _ranges(bandwidth_MBps, mask) -> str:
    """Contiguous runs of ``mask`` along the sorted bandwidths, e.g. '0–0.25, 6.5 MB/s'."""
    bw, mask = np.asarray(bandwidth_MBps, float), np.asarray(mask, bool)
    runs, start = [], None
    for k in range(len(bw) + 1):
        if k < len(bw) and mask[k]:
            start = k if start is None else start
        elif start is not None:
            runs.append(f"{bw[start]:g}" if start == k - 1 else f"{bw[start]:g}–{bw[k - 1]:g}")
            start = None
    return (", ".join(runs) + " MB/s") if runs else "none"


# ------------------------------------------------------------------------------ tables
def curves(runs: dict[str, dict]) -> pd.DataFrame:
    """Learning curves of every run (``run``: its key): held-out reward as % of the oracle's."""
    rows = [dict(c, run=label) for label, res in runs.items() for c in res.get("curves", [])]
    df = pd.DataFrame(rows, columns=["agent", "seed", "epoch", "env_step", "share_of_oracle",
                                     "run"])
    return df.assign(share_of_oracle_pct=100 * df.share_of_oracle.astype(float),
                     curve=df.agent + ", c ∈ " + df.run)


def shares(runs: dict[str, dict]) -> pd.DataFrame:
    """% of the oracle's mean reward on the held-out traces: mean, min and max over seeds per
    agent and bit set (NaN where the oracle's reward is 0: nothing feasible)."""
    rows = []
    for label, res in runs.items():
        ev = pd.DataFrame([{k: e[k] for k in ("policy", "traces", "reward")}
                           for e in res.get("evaluations", [])],
                          columns=["policy", "traces", "reward"])
        oracle = ev[ev.policy == "oracle"].set_index("traces").reward
        ev["pct"] = 100 * ev.reward / ev.traces.map(oracle.where(oracle > 0))
        for (agent, t), g in ev[ev.traces.isin(HELD_OUT)].groupby([_agent(ev.policy), "traces"],
                                                                  sort=False):
            rows.append({"agent": agent, "bits": label, "traces": t, "mean": g.pct.mean(),
                         "min": g.pct.min(), "max": g.pct.max(), "runs": len(g)})
    df = pd.DataFrame(rows, columns=["agent", "bits", "traces", "mean", "min", "max", "runs"])
    return df.assign(cell=[f"{m:.1f} ({lo:.1f}–{hi:.1f})" if r > 1 else f"{m:.1f}"
                           for m, lo, hi, r in zip(df["mean"], df["min"], df["max"], df.runs)])


def heldout_table(table: pd.DataFrame) -> pd.DataFrame:
    """``shares`` as agents × (bit set, traces): the oracle first, the learned agents next."""
    t = table.pivot(index="agent", columns=["bits", "traces"], values="cell")
    rows = [a for a in ORDER if a in t.index] + [a for a in t.index if a not in ORDER]
    cols = [(b, tr) for b in dict.fromkeys(table.bits) for tr in HELD_OUT if (b, tr) in t.columns]
    return t.reindex(index=rows, columns=pd.MultiIndex.from_tuples(cols, names=t.columns.names)
                     ).fillna("not trained")


def _last_points(actions) -> dict[int, int]:
    """Each exit's last partition point N (everything on the device)."""
    return {int(e): max(int(q) for f, q, _ in actions if f == e) for e, _, _ in actions}


def sweep(runs: dict[str, dict]) -> pd.DataFrame:
    """Every policy's steps along the sweep; ``curve`` names agent and (after the first) bit set."""
    first = next(iter(runs), None)
    rows = [dict(s, policy=e["policy"], bits_set=label) for label, res in runs.items()
            for e in res.get("evaluations", []) if e["traces"] == "sweep" for s in e["steps"]]
    df = pd.DataFrame(rows, columns=["policy", "bits_set", "bandwidth", "exit", "point", "bits",
                                     "reward", "latency_ms", "energy_j", "accuracy"])
    df["agent"] = _agent(df.policy.astype(str))
    df["curve"] = np.where(df.bits_set == first, df.agent, df.agent + ", c ∈ " + df.bits_set)
    last = df.bits_set.map({k: _last_points(r.get("actions", [])) for k, r in runs.items()})
    n = [d.get(e, 0) for d, e in zip(last, df.exit)]
    quantized = (df.point > 0) & (df.point < n)  # bits matter only for a quantized upload
    return df.assign(bandwidth_MBps=df.bandwidth / rl.MB, accuracy_pct=100 * df.accuracy,
                     c_uploaded=df.bits.where(quantized).astype(float))


def sweep_summary(sw: pd.DataFrame, curves_shown: list[str]) -> pd.DataFrame:
    """Per curve and bandwidth, over seeds: mean latency (infinite when any seed's is: an upload
    at 0 MB/s never completes), min, max, mean accuracy and the count of infinite seeds.

    ``shown_ms`` is where a log axis can draw it: the latency when finite, else a row above the
    largest finite value (×3), one step (×1.3) higher per curve so that markers do not overlap.
    """
    part = sw[sw.curve.isin(curves_shown)].assign(
        curve=lambda d: pd.Categorical(d.curve, categories=curves_shown, ordered=True))
    out = part.groupby(["curve", "bandwidth_MBps"], observed=True).agg(
        latency_ms=("latency_ms", "mean"), latency_min=("latency_ms", "min"),
        latency_max=("latency_ms", "max"), accuracy_pct=("accuracy_pct", "mean"),
        infinite=("latency_ms", lambda x: int(np.isinf(x).sum())),
        seeds=("latency_ms", "size")).reset_index()
    finite = out.latency_max[np.isfinite(out.latency_max)]
    row = 3 * (finite.max() if len(finite) else 1.0)
    step = out.curve.cat.codes.map({c: k for k, c in enumerate(
        sorted(set(out.curve.cat.codes[out.infinite > 0])))})
    return out.assign(shown_ms=out.latency_ms.where(out.latency_ms < np.inf,
                                                    row * 1.3 ** step.fillna(0)))


def oracle_choices(instance, params: rl.RewardParams) -> pd.DataFrame:
    """The oracle's choice at each sweep bandwidth where it changes; bits '—' where nothing
    quantized is uploaded (the raw image at point 0, nothing at the exit's last point)."""
    oracle, rows = rl.Oracle(instance, params), []
    for b in rl.sweep_trace():
        e, p, c = instance.actions[oracle.act(b)]
        quantized = 0 < p < len(instance.device_ms[e - 1])
        rows.append({"bandwidth_MBps": b / rl.MB, "exit": e, "point": p,
                     "bits": str(c) if quantized else "—"})
    df = pd.DataFrame(rows)
    changed = (df[["exit", "point", "bits"]] != df[["exit", "point", "bits"]].shift()).any(axis=1)
    return df[changed].reset_index(drop=True)


def decision_times(timing: dict) -> pd.Series:
    """Mean decision time (ms) per agent over seeds, from a run's ``timing``."""
    t = pd.Series(timing, dtype=float)
    return t.groupby(t.index.str.replace(r"( seed \d+)? decision_ms$", "", regex=True)).mean()


def assumptions(params: rl.RewardParams, instance, budget_share: float) -> str:
    """Our values for what SAC-d does not publish (``papers.SACD_NOT_PUBLISHED``), in words."""
    m = instance.energy_model
    n_actions = len(instance.actions)
    return (f"s = {params.s / rl.MB:g} MB/s and n = 1/ln(1 + B_max/s) = {params.n:.3f} (eq. 13); "
            f"energy budget ê = {budget_share:g}× the on-device energy of the main exit (eq. 14); "
            "standardisation: accuracy and 1/T min-max scaled to [0, 1] over the instance's "
            f"actions (eq. 12); SAC-d's target entropy {agents.TARGET_ENTROPY_SHARE:g}·ln|A| = "
            f"{agents.TARGET_ENTROPY_SHARE * np.log(n_actions):.2f} nats (|A| = {n_actions}); "
            f"energy constants k0 = {m.k0:g}, f = {m.frequency_hz / 1e9:g} GHz, "
            f"P = {m.power_w:g} W, γ = {m.gain_per_w:g}/W (edgelib.energy: assumptions, not "
            "measurements)")


def training_budget(res: dict, agent: str = "sac-d") -> dict | None:
    """Seeds, epochs and steps of ``agent`` in one run, the epochs kept and the held-out share
    (% of the oracle, mean over seeds) per epoch; None where the run has no curves."""
    df = pd.DataFrame([c for c in res.get("curves", []) if c["agent"] == agent])
    if df.empty:
        return None
    steps = df.groupby("epoch").env_step.first()
    kept = [int(e["epoch"]) for e in res.get("selected_epochs", []) if e["agent"] == agent]
    return {"seeds": df.seed.nunique(), "epochs": int(df.epoch.max()),
            "steps": int(df.env_step.max()), "steps_per_epoch": int(steps.iloc[0]),
            "kept": kept, "kept_steps": [int(steps.get(e, 0)) for e in kept],
            "share": 100 * df.groupby("epoch").share_of_oracle.mean()}


def budget_text(b: dict | None) -> str:
    if b is None:
        return ""
    kept = Counter(b["kept"])
    if len(kept) == 1:
        (e, k), = kept.items()
        what = (f"kept epoch {e} in {k} of {len(b['kept'])} runs (after {b['kept_steps'][0]:,} of "
                f"{b['steps']:,} steps)")
    else:
        what = f"kept epochs {', '.join(map(str, b['kept']))} of {b['epochs']}"
    return (f"{what}; budget {b['seeds']} seeds × {b['epochs']} epochs × "
            f"{b['steps_per_epoch']:,} steps")


# ------------------------------------------------------------------------------- Fig. 6c
def claims(runs: dict[str, dict], ablation: dict | None = None) -> list[dict]:
    """The paper-vs-here rows of notebook 07 (for ``report.claims``); ``ablation``: a ``run`` of
    SAC-d with another discount factor on the first bit set."""
    table, fig, rows = shares(runs), fig6c(runs), []
    for label, res in runs.items():
        rows += (_share_rows(table, label, budget=training_budget(res)) + _edgent_rows(table, label)
                 + _fig6c_rows(fig, label))
    if runs:
        label, main = next(iter(runs.items()))
        if ablation is not None:
            rows += _share_rows(shares({label: ablation}), label, ablation["gamma"],
                                training_budget(ablation))
        rows += _sweep_rows(sweep({label: main})) + _decision_rows(main.get("timing", {}))
    return rows


def _share(table, agent, label, traces=HELD_OUT[0]):
    r = table[(table.agent == agent) & (table.bits == label) & (table.traces == traces)]
    return r.iloc[0] if len(r) else None


def _cell(r) -> str:
    return f"{r['mean']:.1f} % (seeds {r['min']:.1f}–{r['max']:.1f} %)" if r["runs"] > 1 else \
        f"{r['mean']:.1f} %"


def _share_rows(table, label, gamma: float | None = None, budget: dict | None = None) -> list[dict]:
    """SAC-d's (and DQN's) share of the oracle; ``gamma``: the row of a discount ablation."""
    what = (f"SAC-d reward on held-out random walks, c ∈ {label} (project goal ≥ "
            f"{GOAL_SHARE_PCT:g} % of the oracle)")
    paper = f"near-optimal, no number printed; trained {papers.SACD_AGENT['trained']}"
    if gamma is not None:
        what = (f"ablation (ours): SAC-d with γ = {gamma:g}, c ∈ {label} (project goal ≥ "
                f"{GOAL_SHARE_PCT:g} % of the oracle)")
        paper = f"— (not a paper claim; the paper uses γ = {papers.SACD_AGENT['gamma']:g} only)"
    sac, reg = _share(table, "sac-d", label), _share(table, "sac-d", label, HELD_OUT[1])
    if sac is None:
        return []
    if np.isnan(sac["mean"]):
        return [report.infeasible(what, paper, NOT_FEASIBLE)]
    ours = "; ".join(x for x in (_cell(sac), reg is not None and
                                 f"{_cell(reg)} on regime switches", budget_text(budget)) if x)
    gap = 100 - sac["mean"]
    met = gap <= 100 - GOAL_SHARE_PCT
    why = f"{gap:.2f} points below the oracle, goal: within {100 - GOAL_SHARE_PCT:g} points"
    if gamma is not None:
        verdict = GOAL_MET if met else f"{GOAL_NOT_MET} ({why})"
    else:
        verdict = report.REPRODUCED if met else (
            f"{report.DIVERGES} ({why}; the paper trained till convergence, this profile's "
            "budget is under 'ours')")
    rows = [report.claim(what, paper, ours, verdict)]
    dqn = _share(table, "dqn", label)
    if dqn is not None and gamma is None:
        if dqn["max"] < sac["min"]:
            v = report.REPRODUCED
        elif dqn["min"] > sac["max"]:
            v = f"{report.DIVERGES} (DQN above SAC-d at every seed)"
        else:
            v = (f"not resolved with {int(min(dqn['runs'], sac['runs']))} seeds (the seed ranges "
                 f"overlap; means: DQN {'below' if dqn['mean'] < sac['mean'] else 'not below'})")
        rows.append(report.claim(f"DQN's reward below SAC-d's, c ∈ {label}", "below SAC-d",
                                 f"DQN {_cell(dqn)} of the oracle vs SAC-d {_cell(sac)}", v))
    return rows


def _edgent_rows(table, label) -> list[dict]:
    """Edgent's Alg. 1 (no learning, fp32 uploads) beside the learned agents: context."""
    e = [_share(table, EDGENT, label, t) for t in HELD_OUT]
    s = [_share(table, "sac-d", label, t) for t in HELD_OUT]
    if any(x is None for x in e + s) or any(np.isnan(x["mean"]) for x in e + s):
        return []
    d = [_share(table, "dqn", label, t) for t in HELD_OUT]
    learned = [("SAC-d", s)] + ([("DQN", d)] if all(x is not None for x in d) else [])
    ours = (f"Edgent {e[0]['mean']:.1f} / {e[1]['mean']:.1f} % (random walks / regimes) vs "
            + "; ".join(f"{n} {x[0]['mean']:.1f} / {x[1]['mean']:.1f} % (worst seed "
                        f"{x[0]['min']:.1f} / {x[1]['min']:.1f} %)" for n, x in learned))
    ahead = [f"{n}'s mean on {sum(a['mean'] > b['mean'] for a, b in zip(e, x))} of 2"
             for n, x in learned]
    return [report.claim(f"Edgent's Alg. 1 (no learning, fp32 upload) beside the learned agents, "
                         f"c ∈ {label}", "— (the paper compares SAC-d with DQN only)", ours,
                         f"{CONTEXT}: Edgent above {' and '.join(ahead)} held-out trace sets")]


def _fig6c_rows(fig: pd.DataFrame, label: str) -> list[dict]:
    what = f"Fig. 6c: SAC-d's exit, bits and partition per bandwidth range, c ∈ {label}"
    paper = f"{len(papers.SACD_FIG6C)} ranges stated in §IV-B3"
    mine = fig[fig["bits set"] == label] if len(fig) else fig
    if mine.empty:
        return []
    v = mine["verdict (SAC-d)"]
    tested = mine[v.str.startswith((report.REPRODUCED, report.DIVERGES))]
    apart = mine[v.str.startswith(NOT_COMPARABLE)]
    if tested.empty and apart.empty:
        if v.str.startswith(report.NOTHING_FEASIBLE).any():
            return [report.infeasible(what, paper, NOT_FEASIBLE)]
        return []
    same = tested["verdict (SAC-d)"] == report.REPRODUCED
    oracle_same = int((tested["oracle vs paper"] == "same").sum())
    insensitive = v.str.contains("policy insensitive to bandwidth").any()
    ours = (f"{same.sum()} of {len(tested)} comparable ranges as the paper (the oracle: "
            f"{oracle_same} of {len(tested)})"
            + (f"; {len(apart)} not comparable (the paper's bits outside c ∈ {label})"
               if len(apart) else "")
            + ("; policy insensitive to bandwidth" if insensitive else ""))
    if tested.empty:
        verdict = f"{NOT_COMPARABLE} (the paper's bits outside c ∈ {label} in every range)"
    elif same.all():
        verdict = report.REPRODUCED
    else:
        verdict = (f"{report.DIVERGES} (differs at {', '.join(tested[~same]['bandwidth (MB/s)'])}"
                   f" MB/s{'; policy insensitive to bandwidth' if insensitive else ''})")
    return [report.claim(what, paper, ours, verdict)]


def _sweep_rows(sw: pd.DataFrame) -> list[dict]:
    """Fig. 6a–b's claims on the sweep: the speed-up over on-device, latency below on-device,
    DQN against SAC-d in latency and in accuracy."""
    lat = sw.groupby(["agent", "bandwidth_MBps"]).latency_ms.mean().unstack("agent")
    acc = sw.groupby(["agent", "bandwidth_MBps"]).accuracy_pct.mean().unstack("agent")
    if "on-device" not in lat or "sac-d" not in lat:
        return []
    speed, below = ("speed-up over on-device inference (the whole network, no early exit)",
                    "Fig. 6a: SAC-d's and DQN's latency below on-device's")
    if not (sw[sw.agent == "oracle"].reward > 0).any():
        return [report.infeasible(speed, f"{papers.SACD_SPEEDUP_VS_DEVICE:g}×", NOT_FEASIBLE),
                report.infeasible(below, papers.SACD_FIG6AB_CLAIMS[0], NOT_FEASIBLE)]
    local, bw = lat["on-device"], lat.index.to_numpy()
    pos = lat.index > 0
    speedup = (local[pos] / lat["sac-d"][pos]).max() if pos.any() else np.nan
    side = "exceeds" if speedup >= papers.SACD_SPEEDUP_VS_DEVICE else "falls short of"
    rows = [report.claim(
        speed, f"{papers.SACD_SPEEDUP_VS_DEVICE:g}×", f"up to {speedup:.1f}× along the sweep",
        f"{NOT_COMPARABLE} ({side} the paper's {papers.SACD_SPEEDUP_VS_DEVICE:g}×; the magnitude "
        f"is set by our emulated device/edge speed ratio and the {RAW_IMAGE_BYTES / 1e3:.0f} kB "
        "CIFAR upload)")]
    n = {a: (lat[a] < local).to_numpy() for a in agents.AGENTS if a in lat}
    rows.append(report.claim(
        below, papers.SACD_FIG6AB_CLAIMS[0],
        "; ".join(f"{a} below at {k.sum()} of {len(k)} bandwidths"
                  + (f" (not below at {_ranges(bw, ~k)})" if not k.all() else "")
                  for a, k in n.items()),
        report.REPRODUCED if all(k.all() for k in n.values()) else report.DIVERGES))
    return rows + _dqn_rows(lat, acc)


def _dqn_rows(lat: pd.DataFrame, acc: pd.DataFrame) -> list[dict]:
    """Fig. 6a–b: SAC-d slightly slower than DQN in some region (DQN latency-focused); SAC-d's
    accuracy far higher once the bandwidth is no longer the bottleneck (from the paper's 7 MB/s,
    where its text says the bandwidth allows higher accuracy)."""
    if "dqn" not in lat:
        return []
    finite = np.isfinite(lat["sac-d"]) & np.isfinite(lat["dqn"])
    bw = lat.index[finite].to_numpy()
    if not len(bw):
        return []
    sac_slower = (lat["sac-d"] > lat["dqn"])[finite].to_numpy()
    dqn_slower = (lat["dqn"] > lat["sac-d"])[finite].to_numpy()
    tail = len(dqn_slower) - np.argmin(dqn_slower[::-1]) if not dqn_slower.all() else 0
    since = f", at every one from {bw[tail]:g} MB/s" if dqn_slower[-1] and tail < len(bw) else ""
    ours = (f"SAC-d slower at {sac_slower.sum()} of {len(bw)} bandwidths "
            f"({_ranges(bw, sac_slower)}); DQN slower at {dqn_slower.sum()}{since} (mean over "
            "seeds)")
    verdict = (report.REPRODUCED if 0 < sac_slower.sum() and dqn_slower.sum() <= sac_slower.sum()
               else f"{report.DIVERGES} (DQN slower than SAC-d at {dqn_slower.sum()} of {len(bw)} "
               "bandwidths: not the latency-focused one)" if sac_slower.sum()
               else f"{report.DIVERGES} (SAC-d never slower than DQN)")
    rows = [report.claim("Fig. 6a: SAC-d's latency slightly worse than DQN's in some bandwidth "
                         "region", papers.SACD_FIG6AB_CLAIMS[1], ours, verdict)]
    start = papers.SACD_FIG6C[2]["bw_MBps"][0]
    high = acc.index >= start
    gap = (acc["sac-d"] - acc["dqn"])[high]
    if len(gap):
        same = gap.min() == gap.max()
        span = f"{gap.min():+.2f}" if same else f"{gap.min():+.2f} to {gap.max():+.2f}"
        ours = (f"SAC-d − DQN accuracy from {start:g} MB/s: {span} points"
                f"{' at every bandwidth' if same else ''} (mean over seeds; 'far' read as > "
                f"{FAR_POINTS:g} point)")
        le = int((gap <= 0).sum())
        verdict = (report.REPRODUCED if (gap > FAR_POINTS).all() else
                   f"{report.DIVERGES} (DQN's accuracy equal or higher at {le} of {len(gap)} "
                   f"bandwidths from {start:g} MB/s)" if le else
                   f"{report.DIVERGES} (SAC-d higher by at most {gap.max():.2f} points)")
        rows.append(report.claim("Fig. 6b: SAC-d's accuracy far higher than DQN's once bandwidth "
                                 "is not the bottleneck", papers.SACD_FIG6AB_CLAIMS[2], ours,
                                 verdict))
    return rows


def _decision_rows(timing: dict) -> list[dict]:
    sac = [v for k, v in timing.items() if k.startswith("sac-d")]
    if not sac:
        return []
    ms = float(np.mean(sac))
    return [report.claim("decision time per action (one thread)",
                         f"< {papers.SACD_DECISION_MS:g} ms",
                         f"{ms:.3f} ms ({'meets' if ms <= GOAL_DECISION_MS else 'misses'} this "
                         f"project's {GOAL_DECISION_MS:g} ms goal)",
                         report.REPRODUCED if ms < papers.SACD_DECISION_MS else report.DIVERGES)]


# Fig. 6c and the oracle's context live in their own module; re-exported for ``sacd``
from .sacd_fig6c import (  # noqa: E402, F401
    extrapolation, fig6c, paper_fig6c_steps, reward_context, sensitivity, upload_context)
