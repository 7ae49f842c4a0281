"""Which way of finding superclasses is stable? (issue 10; notebook 01's comparison)

Four methods, each on the same architecture and repeated over seeds:

- ``supervised``: class medians of a backbone trained with label smoothing (our default recipe);
- ``supervised-no-smoothing``: the same backbone trained without label smoothing, to test the
  hypothesis that smoothing erases class similarity (Müller, Kornblith & Hinton 2019);
- ``simclr``: class medians of a self-supervised (SimCLR) embedding;
- ``pixels``: a control with no learning: class medians of the raw (standardised) pixels. It is
  deterministic, so stable by construction; what it tells is whether a K = 2 split can follow
  colour and layout alone (if its split is the learnt ones', they may do no more than that);
- ``confusion``: HD-CNN's grouping (Yan et al. 2015): spectral clustering of the symmetrised
  confusion matrix of a trained classifier (classes the classifier confuses belong together).
  HD-CNN counts confusions on held-out images; here they are counted on the training split,
  because the test split measures the two-level model built on the partition and the backbone
  saw every training image (a train-set confusion is sparser, so this reading is the harder one).

For each: the partitions per seed, their pairwise adjusted Rand index (stability; 1.0 = the same
partition from every seed), their agreement with a known grouping and the silhouette of the
medians. ``partition`` computes one seed's partition through the pipeline's own functions.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import SpectralClustering

from . import data, profiles, selfsupervised, train
from . import superclasses as sc

METHODS = ("supervised", "supervised-no-smoothing", "simclr", "confusion", "pixels")
CONTROLS = ("pixels",)  # methods that are not candidates for the pipeline
# the header field naming the recipe each method's models were trained with (None: no training)
RECIPE_OF = {"supervised": "supervised_recipe", "supervised-no-smoothing": "supervised_recipe",
             "confusion": "supervised_recipe", "simclr": "simclr_recipe", "pixels": None}


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """Row-normalised confusion matrix: entry (i, j) = P(predicted j | true i)."""
    pred = logits.argmax(1)
    m = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    m.index_put_((labels, pred), torch.ones(len(labels), dtype=torch.float64), accumulate=True)
    return (m / m.sum(1, keepdim=True).clamp_min(1)).numpy()


def confusion_groups(confusion: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """HD-CNN: spectral clustering with the symmetrised off-diagonal confusion as affinity;
    superclasses numbered by their smallest class, as ``superclasses.cluster`` numbers them."""
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or not 2 <= k < len(c):
        raise ValueError(f"need a square C×C confusion matrix and 2 ≤ K < C, got {c.shape}, K={k}")
    affinity = (c + c.T) / 2
    np.fill_diagonal(affinity, 0.0)
    affinity += 1e-6  # keeps the affinity graph connected
    raw = SpectralClustering(k, affinity="precomputed", random_state=seed).fit_predict(affinity)
    order = {label: i for i, label in enumerate(dict.fromkeys(raw.tolist()))}
    return np.array([order[label] for label in raw])


def pairwise_ari(partitions: list) -> list[float]:
    """Adjusted Rand index of every pair of partitions (empty for fewer than two)."""
    return [sc.agreement(a, b) for a, b in combinations(partitions, 2)]


def _backbone(profile, name: str, smoothing: bool, seed: int, dataset):
    recipe = profile.backbones[name]
    if not smoothing:
        recipe = replace(recipe, label_smoothing=0.0)
    p = profiles.override(profile, seed=seed, backbones={**profile.backbones, name: recipe})
    return train.train_backbone(p, name, dataset)


def partition(profile, dataset: data.Cifar, method: str, k: int, seed: int) -> dict:
    """One seed's K-superclass partition by ``method`` (every model trained or loaded from the
    cache under its own key); returns the partition and, where it has one, the silhouette."""
    name = profile.two_level.embed_backbone
    if method == "pixels":
        pixels = data.normalize(dataset.train.images).flatten(1)
        medians = sc.class_medians(pixels, dataset.train.labels, dataset.num_classes).numpy()
        return {"partition": sc.cluster(medians, k),
                "silhouette": sc.silhouette_curve(medians, [k]).get(k, float("nan"))}
    if method in ("supervised", "supervised-no-smoothing", "confusion"):
        model, _ = _backbone(profile, name, method != "supervised-no-smoothing", seed, dataset)
    elif method == "simclr":
        model, _ = selfsupervised.train_simclr(
            name, dataset, selfsupervised.simclr_recipe(on_architecture(profile, name)), seed)
    else:
        raise ValueError(f"unknown method {method!r}; one of {METHODS}")
    if method == "confusion":
        conf = confusion_matrix(train.logits(model, dataset.train), dataset.train.labels,
                                dataset.num_classes)
        return {"partition": confusion_groups(conf, k, seed), "silhouette": float("nan")}
    medians = sc.class_medians(sc.embeddings(model, dataset.train), dataset.train.labels,
                               dataset.num_classes).numpy()
    return {"partition": sc.cluster(medians, k),
            "silhouette": sc.silhouette_curve(medians, [k]).get(k, float("nan"))}


def summary(method: str, results: list[dict], reference=None) -> dict:
    """One row of the comparison: stability over seeds, agreement with ``reference``."""
    parts = [r["partition"] for r in results]
    pair = pairwise_ari(parts)
    row = {"method": method, "seeds": len(parts),
           "pairwise ARI, mean": float(np.mean(pair)) if pair else float("nan"),
           "pairwise ARI, min": float(np.min(pair)) if pair else float("nan"),
           "silhouette, mean": float(np.nanmean([r["silhouette"] for r in results]))
           if any(not np.isnan(r["silhouette"]) for r in results) else float("nan")}
    if reference is not None:
        row["ARI vs reference, mean"] = float(np.mean([sc.agreement(p, reference) for p in parts]))
    return row


def run(profile, dataset, methods, ks, seeds, echo=print) -> list[dict]:
    """``summary`` rows (with the partitions) for every method and K over ``seeds``; agreement
    with the dataset's known grouping at K = 2."""
    truth, _ = sc.known_groups(dataset)
    rows = []
    for method in methods:
        for k in ks:
            results = [partition(profile, dataset, method, k, s) for s in seeds]
            row = {**summary(method, results, truth if k == 2 else None), "K": k,
                   "partitions": [r["partition"].tolist() for r in results]}
            echo({key: v for key, v in row.items() if key != "partitions"})
            rows.append(row)
    return rows


def on_architecture(profile, name: str):
    """``profile`` with every method of the study on architecture ``name``."""
    return profiles.override(profile, two_level=replace(profile.two_level, embed_backbone=name,
                                                        backbone=name))


def header(profile, seeds, ks) -> dict:
    """What identifies a saved study: profile, architecture, seeds, K, hardware, date."""
    name = profile.two_level.embed_backbone
    ssl = (selfsupervised.simclr_recipe(on_architecture(profile, name)).key()
           if profile.two_level.ssl_epochs > 0 else None)
    return {"profile": profile.name, "embed": name, "seeds": list(seeds), "K": list(ks),
            "supervised_recipe": profile.backbones[name].key(), "simclr_recipe": ssl,
            "cpu": train.cpu_model(), "precision": train.precision(),
            "started": time.strftime("%Y-%m-%d %H:%M")}


def collect(profile, dataset, saved, methods, ks, seeds) -> list[dict]:
    """The study's rows for every method and K over ``seeds``: read from ``saved`` runs (JSON
    files the CLI wrote) whose profile, architecture, seeds and the method's recipe
    (``RECIPE_OF``) match, computed (cached models loaded, missing ones trained) for the rest.
    Each row's ``source`` says which."""
    want = header(profile, seeds, ks)
    found = {}
    for path in saved:
        run_ = json.loads(Path(path).read_text())
        if any(run_.get(f) != want[f] for f in ("profile", "embed", "seeds")):
            continue
        for r in run_["rows"]:
            recipe = RECIPE_OF.get(r["method"])
            if recipe is None or run_.get(recipe) == want[recipe]:
                found.setdefault((r["method"], r["K"]), {
                    **r, "source": f"saved run {Path(path).name} ({run_.get('started', '?')}, "
                                   f"{run_.get('cpu', '?')}, {run_.get('precision', '?')})"})
    rows = []
    for method in methods:
        missing = [k for k in ks if (method, k) not in found]
        fresh = {r["K"]: {**r, "source": "computed here"}
                 for r in (run(profile, dataset, [method], missing, seeds, echo=lambda _: None)
                           if missing else [])}
        rows += [found.get((method, k)) or fresh[k] for k in ks]
    return rows


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m edgelib.superclass_study", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--embed", help="architecture of every method (default: the profile's "
                    "two_level.embed_backbone)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--k", default="2")
    ap.add_argument("--out", help="write partitions and summaries to this JSON file")
    args = ap.parse_args(argv)
    profile = profiles.get(args.profile)
    if args.embed:
        profile = on_architecture(profile, args.embed)
    dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class, profile.seed)
    ks, seeds = [int(k) for k in args.k.split(",")], [int(s) for s in args.seeds.split(",")]
    out = {**header(profile, seeds, ks),
           "rows": run(profile, dataset, args.methods.split(","), ks, seeds)}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
