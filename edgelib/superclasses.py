"""Superclasses learned from data (two-level paper, §III-A and Fig. 2).

1. embed every training image with a trained network (the penultimate layer);
2. take each class's **median** embedding — the paper clusters medians, not samples, because
   single samples include non-convergent points that pull a cluster apart;
3. cluster the C medians into K superclasses. We use agglomerative clustering with Ward linkage
   on L2-normalised medians: with only C = 10 or 100 points k-means depends on its seeds, while
   Ward is deterministic and its hierarchy shows how superclasses merge as K shrinks;
4. pick K by the silhouette of that clustering (and, in notebook 02, by two-level accuracy).

The map class → superclass is cached under ``data/cache/superclasses/<key>/map.json``, keyed by
everything that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score, silhouette_score

from . import cache, data, selfsupervised, train

VEHICLES = ("airplane", "automobile", "ship", "truck")


@torch.no_grad()
def embeddings(model, split: data.Split, batch_size: int = 500) -> torch.Tensor:
    """Penultimate-layer features (N×D, float32) of every image of ``split``."""
    dev = train.device()
    model.to(dev).eval()
    out = []
    for x, _ in data.Loader(split, batch_size):
        with train.autocast(dev):
            out.append(model.penultimate(x.to(dev)).float().cpu())
    return torch.cat(out)


def class_medians(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Element-wise median embedding of each class (C×D)."""
    missing = sorted(set(range(num_classes)) - set(labels.unique().tolist()))
    if missing:
        raise ValueError(f"classes {missing} have no examples: cannot take their medians")
    return torch.stack([features[labels == c].median(dim=0).values for c in range(num_classes)])


def _normalise(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)


def cluster(medians, k: int) -> np.ndarray:
    """Superclass index (0…k−1) of each class: Ward clustering of the normalised medians.

    Superclasses are numbered by their smallest class index, so the numbering is stable.
    """
    points = _normalise(medians)
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= len(points):
        raise ValueError(f"K must be an integer between 2 and the number of classes "
                         f"({len(points)}), got {k!r}")
    raw = AgglomerativeClustering(n_clusters=int(k), linkage="ward").fit_predict(points)
    order = {label: i for i, label in enumerate(dict.fromkeys(raw.tolist()))}
    return np.array([order[label] for label in raw])


def silhouette_curve(medians, ks) -> dict[int, float]:
    """Silhouette score of ``cluster(medians, k)`` for each k (needs 2 ≤ k < C)."""
    points = _normalise(medians)
    return {int(k): float(silhouette_score(points, cluster(points, k)))
            for k in ks if 2 <= k < len(points)}


def known_groups(dataset: data.Cifar) -> tuple[np.ndarray, str]:
    """The known structure to check against: vehicles vs animals, or CIFAR-100's 20 coarse labels."""
    if dataset.coarse_classes is not None:
        fine_to_coarse = np.zeros(dataset.num_classes, dtype=int)
        fine_to_coarse[dataset.train.labels.numpy()] = dataset.train.coarse.numpy()
        return fine_to_coarse, "official 20 coarse labels"
    return np.array([int(c not in VEHICLES) for c in dataset.classes]), "vehicles vs animals"


def agreement(assignment, reference) -> float:
    """Adjusted Rand index between two partitions of the classes (1 = identical)."""
    return float(adjusted_rand_score(reference, assignment))


def umap_2d(points, seed: int = 0, n_neighbors: int = 15):
    """A 2-D UMAP embedding (deterministic for a given seed; single-threaded then)."""
    import umap

    points = np.asarray(points, dtype=np.float32)
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(points) - 1),
                        random_state=seed, n_jobs=1,  # a seed forces one thread anyway
                        init="spectral" if len(points) > 20 else "random")
    return reducer.fit_transform(points)


@dataclass(frozen=True)
class SuperclassMap:
    """class index → superclass index, with what produced it."""

    dataset: str
    k: int
    assignment: tuple[int, ...]
    produced_by: dict

    def members(self, superclass: int) -> list[int]:
        return [c for c, s in enumerate(self.assignment) if s == superclass]

    def to_superclass(self, labels: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.assignment, dtype=torch.int64)[labels]


def save_map(smap: SuperclassMap) -> None:
    folder = cache.entry("superclasses", smap.produced_by)
    cache.write_json(folder / "map.json", {"dataset": smap.dataset, "k": smap.k,
                                           "assignment": list(smap.assignment),
                                           "produced_by": smap.produced_by})


def load_map(produced_by: dict) -> SuperclassMap | None:
    """The cached map for this configuration, or None when it has not been computed."""
    path = cache.entry("superclasses", produced_by) / "map.json"
    if not path.exists():
        return None
    raw = cache.read_json(path)
    return SuperclassMap(raw["dataset"], raw["k"], tuple(raw["assignment"]), raw["produced_by"])


def embedding_model(profile, dataset: data.Cifar, kind: str | None = None,
                    progress: bool = True):
    """The network whose embeddings define superclasses: (model, record).

    ``kind`` is "supervised" (the trained ``embed_backbone``) or "simclr" (SimCLR on the
    two-level backbone); by default the profile's ``two_level.embedding``.
    """
    knobs = profile.two_level
    kind = kind or knobs.embedding
    if kind == "supervised":
        return train.train_backbone(profile, knobs.embed_backbone, dataset, progress=progress)
    if kind == "simclr":
        return selfsupervised.train_simclr(knobs.backbone, dataset,
                                           selfsupervised.simclr_recipe(profile), profile.seed,
                                           progress=progress)
    raise ValueError(f"unknown embedding {kind!r}; use 'supervised' or 'simclr'")


def learn_maps(profile, dataset: data.Cifar, progress: bool = True) -> dict:
    """Superclass maps for every K of the profile, from the profile's embedding.

    Loads the maps from the cache when present; otherwise trains/loads the embedding network,
    embeds the training set, takes class medians, clusters them and caches one map per K.
    Returns ``{"maps": {k: SuperclassMap}, "silhouette": {k: score}, "embedding": record}``.
    """
    knobs = profile.two_level
    model, record = embedding_model(profile, dataset, progress=progress)
    weights = data.sha256(Path(record["folder"]) / "weights.pt")[:16]  # these very weights
    base = {"stage": "superclasses", "embedding": record["config"], "weights": weights,
            "method": "class medians, L2-normalised, Ward agglomerative clustering"}
    maps = {k: load_map({**base, "k": k}) for k in knobs.k_values if k < dataset.num_classes}
    summary_path = cache.entry("superclasses", base) / "silhouette.json"
    if any(m is None for m in maps.values()) or not summary_path.exists():
        feats = embeddings(model, dataset.train)
        medians = class_medians(feats, dataset.train.labels, dataset.num_classes).numpy()
        for k in list(maps):
            maps[k] = SuperclassMap(dataset.name, k, tuple(int(s) for s in cluster(medians, k)),
                                    {**base, "k": k})
            save_map(maps[k])
        cache.write_json(summary_path, silhouette_curve(medians, maps))
    curve = {int(k): v for k, v in cache.read_json(summary_path).items()}
    return {"maps": maps, "silhouette": curve, "embedding": record}
