import pytest
import torch

from edgelib import data, models, two_level
from edgelib.recall import Thresholds
from edgelib.superclasses import SuperclassMap


def test_second_level_takes_the_feature_map_at_the_cut():
    first = models.build("resnet20", 3, width=8).eval()
    x = torch.randn(4, 3, 32, 32)
    fm = first.head_until(x)
    assert fm.shape == (4, 16, 16, 16)
    second = two_level.SecondLevel(first, 5).eval()
    assert second(fm).shape == (4, 5)
    # same architecture for every superclass: equal parameter counts
    assert sum(p.numel() for p in second.parameters()) == sum(
        p.numel() for p in two_level.SecondLevel(first, 5).parameters())


def test_frozen_first_level_stays_in_eval_mode():
    first = models.build("resnet20", 2, width=4)
    wrapped = two_level.OnImages(first, two_level.SecondLevel(first, 3)).train()
    assert not wrapped.first.training and wrapped.second.training
    assert all(not p.requires_grad for p in wrapped.first.parameters())


def test_subset_renumbers_labels():
    split = data.Split(torch.zeros(6, 3, 32, 32, dtype=torch.uint8), torch.tensor([0, 3, 1, 3, 2, 1]))
    picked, local = two_level.subset(split, [3, 1])
    assert picked.labels.tolist() == [3, 1, 3, 1] and local.tolist() == [0, 1, 0, 1]


def test_replay_counts_accuracy_and_calls():
    smap = SuperclassMap("toy", 2, (0, 0, 1, 1), {})
    outs = {"first": torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.2, 0.8]]),
            "labels": torch.tensor([[1, 0, 1], [2, 3, 3]]),
            "confidence": torch.tensor([[0.9, 0.6, 0.5], [0.7, 0.9, 0.8]])}
    truth = torch.tensor([1, 3, 0])
    r = two_level.replay(outs, truth, Thresholds(0.9, 0.1, 2))
    # input 0: confident -> encoder 0 says 1 (right); input 1: recall both, encoder 1 (0.9) says
    # 3 (right); input 2: recall [1, 0] -> 3 (0.8) beats 1 (0.5): wrong
    assert r["accuracy"] == pytest.approx(2 / 3) and r["calls"] == pytest.approx(5 / 3)
    assert r["recall_rate"] == pytest.approx(2 / 3)
    assert smap.members(1) == [2, 3]


def test_subset_with_classes_the_split_lacks():
    """A small split may miss the highest classes of a superclass (the paper profile's fixture)."""
    split = data.Split(torch.zeros(3, 3, 32, 32, dtype=torch.uint8), torch.tensor([0, 5, 1]))
    picked, local = two_level.subset(split, [1, 5, 96])
    assert picked.labels.tolist() == [5, 1] and local.tolist() == [1, 0]


def test_a_frozen_trunk_keeps_the_backbone_feature_map(tmp_path, data_dir):
    """Only the stages after the cut learn: FM (and the trunk's batch-norm statistics) stay."""
    from dataclasses import replace

    from edgelib import profiles, superclasses as sc, train, user_data
    from test_user_data import _folder

    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    P = profiles.get("smoke")
    T = P.two_level
    backbone, rec = train.train_backbone(P, T.backbone, ds, progress=False)
    smap = sc.SuperclassMap(ds.name, 2, (0, 0, 1, 1), {"by": "hand"})
    first, first_rec = two_level.first_level(backbone, rec, ds, smap, T.first_level, P.seed,
                                             progress=False, trunk="frozen")
    x = ds.test.images[:4].float() / 255
    with torch.no_grad():
        assert torch.equal(first.eval().head_until(x), backbone.eval().head_until(x))
    assert first_rec["config"]["trunk"] == "frozen"
    with pytest.raises(ValueError, match="trunk must be"):
        two_level.first_level(backbone, rec, ds, smap, T.first_level, P.seed, trunk="thawed")
