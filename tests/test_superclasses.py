import numpy as np
import pytest
import torch

from edgelib import superclasses as sc


def planted(groups=(0, 0, 0, 1, 1, 2, 2, 2, 2, 1), dim=32, per_class=40, seed=0):
    """Per-class sample embeddings around group centres, with a few far outliers per class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(groups) + 1, dim)) * 5
    feats, labels = [], []
    for c, g in enumerate(groups):
        x = centres[g] + rng.normal(size=(per_class, dim)) * 0.5 + rng.normal(size=dim) * 0.3
        x[:3] += rng.normal(size=(3, dim)) * 40  # non-convergent points: medians shrug them off
        feats.append(x)
        labels += [c] * per_class
    return torch.tensor(np.concatenate(feats), dtype=torch.float32), torch.tensor(labels), groups


def test_clustering_of_medians_recovers_planted_groups():
    feats, labels, groups = planted()
    medians = sc.class_medians(feats, labels, 10)
    assignment = sc.cluster(medians, 3)
    assert sc.agreement(assignment, groups) == pytest.approx(1.0)
    assert assignment[0] == 0  # superclasses numbered by their smallest class
    curve = sc.silhouette_curve(medians, range(2, 8))
    assert max(curve, key=curve.get) == 3


def test_medians_are_elementwise():
    feats = torch.tensor([[0.0, 10.0], [1.0, 0.0], [100.0, 1.0], [5.0, 5.0]])
    labels = torch.tensor([0, 0, 0, 1])
    assert torch.equal(sc.class_medians(feats, labels, 2), torch.tensor([[1.0, 1.0], [5.0, 5.0]]))
    with pytest.raises(ValueError, match="no examples"):
        sc.class_medians(feats, labels, 3)


@pytest.mark.parametrize("k", [1, 11, 2.5])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="K must be an integer between 2 and"):
        sc.cluster(np.eye(10), k)


def test_map_round_trips_through_the_cache(data_dir):
    produced_by = {"stage": "superclasses", "dataset": "toy", "k": 2, "from": "test"}
    assert sc.load_map(produced_by) is None
    smap = sc.SuperclassMap("toy", 2, (0, 1, 1, 0), produced_by)
    sc.save_map(smap)
    again = sc.load_map(produced_by)
    assert again == smap and again.members(1) == [1, 2]
    assert torch.equal(again.to_superclass(torch.tensor([3, 2])), torch.tensor([0, 1]))
    assert sc.load_map({**produced_by, "k": 3}) is None
