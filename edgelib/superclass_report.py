"""Notebook 01's figure and comparison with the two-level paper (§III-A, Fig. 2).

Functions take measurements (embeddings, the K table, probe accuracies) and return a figure,
tables or sentences; each handles a measurement with nothing in it (a K table without K = 2,
no CIFAR-100), tested in tests/test_claims_00_02.py.
"""

from __future__ import annotations

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
            b.annotate(cname, joint_2d[c], textcoords="offset points", xytext=(7, 5), fontsize=9)
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


def claims(k_table: pd.DataFrame, ari_column: str, embedding: str, c100: pd.DataFrame | None,
           name: str | None = None, profile=None, probes: dict | None = None) -> pd.DataFrame:
    """Notebook 01's paper-vs-here table; ``probes`` maps each embedding to its k-NN accuracy."""
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
        report.claim(SANITY, "—", f"ARI {ari2:.2f} ({embedding} embedding)",
                     ("passes" if ari2 >= 0.99 else "fails") + " (a sanity check, one run; "
                     "stability over seeds not yet measured)")
        if not np.isnan(ari2) else report.infeasible(SANITY, "—", "K = 2 not in this profile"),
    ]
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


def findings(comparison: pd.DataFrame, maps: dict, classes, embedding: str,
             ari_column: str) -> list[str]:
    """Notebook 01's "what we found", every number from its inputs."""
    lines = []
    for r in comparison.itertuples(index=False):
        lines.append(f"**{r.embedding}** embedding: k-NN probe {r[1]:.1f} %, best silhouette "
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
        groups = " | ".join(", ".join(classes[c] for c in maps[2].members(s)) for s in range(2))
        lines.append(f"The pipeline's ({embedding}) partition at K = 2: {groups}.")
    lines.append("One run measures one partition, not its stability: pairwise ARI over seeds "
                 "and the label-smoothing hypothesis are to be measured by "
                 "`edgelib.superclass_study` (not yet run).")
    return lines
