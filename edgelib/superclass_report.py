"""Notebook 01's figure and comparison with the two-level paper (§III-A, Fig. 2).

Functions take measurements (embeddings, the K table, probe accuracies) and return a figure,
tables or sentences; each handles a measurement with nothing in it (a K table without K = 2,
no CIFAR-100), tested in tests/test_claims_00_02.py.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from . import report
from . import superclasses as sc

SANITY = "K = 2 superclasses recover CIFAR-10's vehicles vs animals (sanity check, not in the paper)"


def fig2(emb: dict, medians: dict, idx, labels, classes, seed: int):
    """UMAP of a class-balanced sample of training embeddings (left) and of the per-class
    medians embedded together with the faded samples (right); one row per embedding."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    palette = sns.color_palette("tab10", len(classes))
    fig, axes = plt.subplots(len(emb), 2, figsize=(12, 5 * len(emb)), squeeze=False)
    for row, (name, (tr, _)) in enumerate(emb.items()):
        sample_2d = sc.umap_2d(tr[idx].numpy(), seed=seed)
        joint_2d = sc.umap_2d(np.concatenate([medians[name], tr[idx].numpy()]), seed=seed)
        a, b = axes[row]
        for c, cname in enumerate(classes):
            m = (labels == c).numpy()
            a.scatter(*sample_2d[m].T, s=3, color=palette[c], label=cname, alpha=0.6)
            b.scatter(*joint_2d[len(classes):][m].T, s=2, color=palette[c], alpha=0.08)
            b.scatter(*joint_2d[c], s=160, color=palette[c], edgecolor="black", zorder=3)
            # labels take turns above/below and right/left of their dot, so that medians lying
            # on top of each other (cat and dog in SimCLR) keep legible labels
            dx, dy = ((7, 6), (7, -14), (-7, 6), (-7, -14))[c % 4]
            b.annotate(cname, joint_2d[c], textcoords="offset points", fontsize=9,
                       xytext=(dx, dy), ha="left" if dx > 0 else "right")
        a.set_title(f"({'acegi'[row]}) {name}: {len(idx)} training embeddings")
        b.set_title(f"({'bdfhj'[row]}) {name}: per-class medians (over faded samples)")
        for ax in (a, b):
            ax.set_xticks([]), ax.set_yticks([])
            ax.set(xlabel="UMAP 1 (no unit)", ylabel="UMAP 2 (no unit)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), markerscale=4, fontsize=9,
               loc="center right", title="class")
    fig.subplots_adjust(right=0.87)
    return fig


def _at(k_table: pd.DataFrame, embedding: str, k: int, column: str) -> float:
    hit = k_table[(k_table.embedding == embedding) & (k_table.K == k)][column]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def embedding_comparison(k_table: pd.DataFrame, probe: dict[str, float],
                         ari_column: str) -> pd.DataFrame:
    """Per embedding: k-NN probe accuracy, best silhouette (and its K), ARI at K = 2."""
    rows = []
    for name, group in k_table.groupby("embedding", sort=False):
        best = group.loc[group.silhouette.idxmax()]
        rows.append({"embedding": name, "k-NN probe acc %": 100 * probe.get(name, float("nan")),
                     "best silhouette": best.silhouette, "at K": int(best.K),
                     f"{ari_column} at K=2": _at(k_table, name, 2, ari_column)})
    return pd.DataFrame(rows)


def _groups(partition, classes) -> str:
    """A partition as text: the classes of each superclass, superclasses separated by |."""
    part = np.asarray(partition)
    return " | ".join(", ".join(classes[c] for c in np.flatnonzero(part == s))
                      for s in range(part.max() + 1))


def stability_table(study: list[dict], classes) -> pd.DataFrame:
    """One row per method and K: stability over seeds (pairwise ARI), silhouette, agreement
    with the known grouping (K = 2 only) and seed 0's partition."""
    return pd.DataFrame([{
        "method": r["method"], "K": r["K"], "seeds": r["seeds"],
        "pairwise ARI mean": r["pairwise ARI, mean"], "pairwise ARI min": r["pairwise ARI, min"],
        "silhouette": r.get("silhouette, mean", float("nan")),
        "ARI vs known (K=2)": r.get("ARI vs reference, mean", float("nan")),
        "partition (seed 0)": _groups(r["partitions"][0], classes)} for r in study])


def fig_partitions(study: list[dict], classes):
    """Each method's partition at every seed, one panel per K: a row per (method, seed), a
    column per class, a colour per superclass; identical rows within a method = stable."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    ks = sorted({r["K"] for r in study})
    methods = list(dict.fromkeys(r["method"] for r in study))
    by = {(r["method"], r["K"]): r["partitions"] for r in study}
    n_seeds = max(len(p) for p in by.values())
    fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 0.42 * len(methods) * n_seeds
                                                  + 1.6), squeeze=False, sharey=True)
    cmap = ListedColormap(["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"])
    for ax, k in zip(axes[0], ks):
        grid = np.array([p for m in methods for p in by.get((m, k), [])], dtype=float)
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=cmap.N - 1, aspect="auto",
                  interpolation="nearest")
        ax.set_xticks(range(len(classes)), classes, rotation=60, fontsize=8)
        ax.set_title(f"K = {k}")
        ax.grid(False)
        for i in range(1, len(grid)):
            ax.axhline(i - 0.5, color="white", lw=3 if i % n_seeds == 0 else 0.6)
    axes[0, 0].set_yticks([i * n_seeds + (n_seeds - 1) / 2 for i in range(len(methods))],
                          methods, fontsize=9)
    axes[0, 0].set_ylabel(f"method ({n_seeds} seeds each, one row per seed)")
    fig.suptitle("Superclass of each class (colour; superclasses numbered by their first class) "
                 "by method and seed")
    fig.tight_layout()
    return fig


def smoothing_effect(study: list[dict]) -> dict | None:
    """Silhouette of the supervised medians with and without label smoothing, per K (None
    when the study lacks either method)."""
    sil = {(r["method"], r["K"]): r.get("silhouette, mean", float("nan")) for r in study}
    ks = sorted(k for m, k in sil if m == "supervised" and ("supervised-no-smoothing", k) in sil)
    if not ks:
        return None
    return {k: (sil[("supervised", k)], sil[("supervised-no-smoothing", k)]) for k in ks}


HYPOTHESIS = ("label smoothing erases class similarity from supervised features (Müller, "
              "Kornblith & Hinton 2019; this notebook's hypothesis, not the paper's)")


def _hypothesis_row(study: list[dict]) -> dict:
    effect = smoothing_effect(study)
    if effect is None:
        return report.infeasible(HYPOTHESIS, "—", "the study lacks one of the two methods")
    ours = "; ".join(f"K = {k}: {a:.3f} with vs {b:.3f} without" for k, (a, b) in effect.items())
    higher = sum(b > a for a, b in effect.values())
    row = {(r["method"], r["K"]): r for r in study}
    better = any(row[("supervised-no-smoothing", k)]["pairwise ARI, min"]
                 > row[("supervised", k)]["pairwise ARI, min"] + 1e-9 for k in effect)
    if higher < len(effect):
        verdict = ("not supported: smoothing does not lower the silhouette at every K"
                   f" (higher without at {higher} of {len(effect)})")
    elif better:
        verdict = "supported: without smoothing the medians cluster more clearly and more stably"
    else:
        verdict = ("partly supported: without smoothing the medians cluster more clearly (the "
                   "same models at every K), but their partition is no more stable over seeds")
    return report.claim(HYPOTHESIS, "— (Müller et al.: smoothing erases it)",
                        f"silhouette of the class medians, mean of seeds — {ours}", verdict)


def claims(k_table: pd.DataFrame, ari_column: str, embedding: str, c100: pd.DataFrame | None,
           name: str | None = None, profile=None, probes: dict | None = None,
           study: list[dict] | None = None) -> pd.DataFrame:
    """Notebook 01's paper-vs-here table; ``probes`` maps each embedding to its k-NN accuracy;
    ``study`` (``superclass_study.collect`` rows) adds stability over seeds."""
    ari2 = _at(k_table, embedding, 2, ari_column)
    probes = probes or {}
    names = list(dict.fromkeys(k_table.embedding))
    points = "; ".join(f"{n}: k-NN probe {100 * probes[n]:.1f} %" for n in names if n in probes)
    medians = "; ".join(f"{n} {k_table[k_table.embedding == n].silhouette.max():.3f}"
                        for n in names)
    rows = [
        report.claim("Fig. 2: in a 2-D representation, points of the same class group "
                     "together (CIFAR-10 and CIFAR-100)", "yes (a picture; no number)",
                     f"points (CIFAR-10) — {points or 'no probe'}; best silhouette of the class "
                     f"medians — {medians}" if names else "—",
                     "qualitative: see figure 01_fig2_umap (how well points group by class is "
                     "what the k-NN probe measures)" if names else report.NOTHING_FEASIBLE),
        report.claim(SANITY, "—", f"ARI {ari2:.2f} ({embedding} embedding)" + _stable(
                     study, embedding), ("passes" if ari2 >= 0.99 else "fails") + (
                     " (a sanity check)" if study else " (a sanity check, one run)"))
        if not np.isnan(ari2) else report.infeasible(SANITY, "—", "K = 2 not in this profile"),
    ]
    if study:
        rows.append(_hypothesis_row(study))
    if c100 is None:
        rows += [report.claim("K = 5 is the best K on CIFAR-100", "K = 5", "—", "needs network"),
                 report.claim("learned superclasses beat CIFAR-100's official coarse labels",
                              "yes", "—", "needs network (and GPU-scale training)")]
    else:
        best = int(c100.loc[c100.silhouette.idxmax(), "K"])
        rows += [report.claim("K = 5 is the best K on CIFAR-100", "K = 5 (§4.2.2; criterion "
                              "not stated)", f"best silhouette at K = {best}",
                              "not comparable: the paper does not say by what K = 5 is best"),
                 report.claim("learned superclasses beat CIFAR-100's official coarse labels",
                              "yes", "—", "needs GPU (two-level accuracy per partition)")]
    return report.claims(rows, name, profile)


def _stable(study: list[dict] | None, method: str, k: int = 2) -> str:
    hit = [r for r in study or [] if r["method"] == method and r["K"] == k]
    if not hit:
        return ""
    r = hit[0]
    return (f"; over {r['seeds']} seeds on the study's architecture: ARI vs known "
            f"{r.get('ARI vs reference, mean', float('nan')):.2f}, pairwise ARI "
            f"{r['pairwise ARI, min']:.2f} (min)")


def findings(comparison: pd.DataFrame, maps: dict, classes, embedding: str,
             ari_column: str, study: list[dict] | None = None,
             architectures: dict | None = None) -> list[str]:
    """Notebook 01's "what we found", every number from its inputs; ``architectures`` names the
    network of each embedding and, under "study", the study's."""
    arch = architectures or {}
    lines = []
    for r in comparison.itertuples(index=False):
        on = f" ({arch[r.embedding]})" if r.embedding in arch else ""
        lines.append(f"**{r.embedding}** embedding{on}: k-NN probe {r[1]:.1f} %, best silhouette "
                     f"{r[2]:.3f} at K = {r[3]}, {ari_column} at K = 2: {r[4]:.2f}.")
    by_name = {r.embedding: r for r in comparison.itertuples(index=False)}
    if len(by_name) == 2 and embedding in by_name:
        other = next(n for n in by_name if n != embedding)
        ours, theirs = by_name[embedding], by_name[other]
        if ours[1] < theirs[1] and ours[2] > theirs[2]:
            lines.append(f"The two measures disagree: the {other} embedding holds more class "
                         f"information ({theirs[1]:.1f} vs {ours[1]:.1f} % k-NN), but its class "
                         f"medians cluster less clearly (silhouette {theirs[2]:.3f} vs "
                         f"{ours[2]:.3f}). The pipeline clusters the {embedding} medians; its "
                         f"single points group by class less well (Fig. 2, k-NN probe).")
    if 2 in maps:
        lines.append(f"The pipeline's ({embedding}) partition at K = 2: "
                     f"{_groups(maps[2].assignment, classes)}.")
    if not study:
        lines.append("One run measures one partition, not its stability: pairwise ARI over "
                     "seeds and the label-smoothing hypothesis are measured by "
                     "`edgelib.superclass_study` (not run in this notebook).")
        return lines
    return lines + _study_findings(study, classes, arch.get("study", ""))


def moved_classes(partitions, most: int = 3) -> list[int] | None:
    """The fewest classes (up to ``most``) without which every partition is the same one: the
    classes that change superclass between seeds; None when more than ``most`` would have to go."""
    parts = [np.asarray(p) for p in partitions]
    same = [p[:, None] == p[None, :] for p in parts]  # co-membership of every pair of classes
    n = len(parts[0])
    for size in range(most + 1):
        for drop in combinations(range(n), size):
            keep = np.setdiff1d(np.arange(n), drop)
            if all((m[np.ix_(keep, keep)] == same[0][np.ix_(keep, keep)]).all() for m in same):
                return list(drop)
    return None


def _control_findings(controls: list[dict], study: list[dict], classes) -> list[str]:
    lines = []
    for r in controls:
        if r["K"] != 2:
            continue
        same = [m["method"] for m in study if m["K"] == 2 and
                sc.agreement(m["partitions"][0], r["partitions"][0]) >= 0.999]
        part = f": {_groups(r['partitions'][0], classes)}" if classes is not None else ""
        lines.append(f"Control **{r['method']}** (no learning) at K = 2{part}; ARI vs vehicles "
                     f"vs animals {r.get('ARI vs reference, mean', float('nan')):.2f}; "
                     + (f"the same partition as {', '.join(same)} (seed 0): that split can "
                        "follow colour and layout alone" if same else
                        "a different partition from every learnt method's (seed 0)") + ".")
    return lines


def _study_findings(study: list[dict], classes=None, architecture: str = "") -> list[str]:
    from .superclass_study import CONTROLS

    controls = [r for r in study if r["method"] in CONTROLS]
    study = [r for r in study if r["method"] not in CONTROLS]
    lines = []
    arch = f" on {architecture}" if architecture else ""
    methods = list(dict.fromkeys(r["method"] for r in study))
    ks = sorted({r["K"] for r in study})
    stable = [m for m in methods if all(r["pairwise ARI, min"] >= 0.999 for r in study
                                        if r["method"] == m)]
    unstable = {m: min(r["pairwise ARI, min"] for r in study if r["method"] == m)
                for m in methods if m not in stable}
    seeds = max(r["seeds"] for r in study)
    lines.append(f"Stability over {seeds} seeds{arch} (K = {', '.join(map(str, ks))}; the same "
                 "models at every K): "
                 + (f"the same partition at every seed and K for {', '.join(stable)}"
                    if stable else "no method gives the same partition at every seed")
                 + ("; not for " + ", ".join(f"{m} (lowest pairwise ARI {v:.2f})"
                                            for m, v in unstable.items()) if unstable else "")
                 + ".")
    if classes is not None:
        moves = []
        for r in study:
            if r["pairwise ARI, min"] < 0.999:
                moved = moved_classes(r["partitions"])
                moves.append(f"{r['method']} at K = {r['K']}: " + (
                    ", ".join(classes[c] for c in moved) if moved else "more than three"))
        if moves:
            lines.append("The classes that change superclass between seeds — " + "; ".join(moves)
                         + ". With ten classes, one class moving in one seed already brings "
                         "the pairwise ARI down to about 0.6.")
    known = {r["method"]: r.get("ARI vs reference, mean") for r in study if r["K"] == 2}
    if known:
        lines.append("Agreement with vehicles vs animals at K = 2 (mean ARI over seeds): "
                     + "; ".join(f"{m} {v:.2f}" for m, v in known.items() if v is not None)
                     + ".")
    stable2 = [r for r in study if r["K"] == 2 and r["pairwise ARI, min"] >= 0.999]
    if stable2:
        same = all(sc.agreement(r["partitions"][0], stable2[0]["partitions"][0]) >= 0.999
                   for r in stable2)
        names = ", ".join(r["method"] for r in stable2)
        lines.append(f"At K = 2 the methods stable there ({names}) " + (
            "give one and the same partition, so the two-level model built on it (notebook 02) "
            "and its held-out accuracy do not depend on which of them is chosen." if same else
            "give different partitions: choosing between them needs the two-level accuracy "
            "of each."))
    effect = smoothing_effect(study)
    if effect:
        row = _hypothesis_row(study)
        lines.append(f"Label smoothing hypothesis, {row['verdict']}: silhouette of the "
                     f"supervised medians {row['ours'].split(' — ', 1)[1]}.")
    return lines + _control_findings(controls, study, classes)
