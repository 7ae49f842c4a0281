"""A user's own labelled images (an ImageFolder) go through the whole superclass pipeline."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from edgelib import profiles, superclasses as sc, train, two_level, user_data

COLOURS = {"apples": (200, 30, 30), "cherries": (170, 20, 40), "limes": (40, 190, 40),
           "pears": (120, 200, 60)}


def _folder(root, per_class=10, size=40):
    rng = np.random.default_rng(0)
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(rgb, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_image_folder_becomes_a_dataset(tmp_path):
    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"), test_fraction=0.2)
    assert ds.name == "fruit" and ds.classes == tuple(sorted(COLOURS))
    assert ds.train.images.shape == (32, 3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert torch.bincount(ds.test.labels).tolist() == [2, 2, 2, 2]
    assert ds.train.labels[:8].unique().numel() > 1  # seeded order, not class by class
    again = user_data.from_image_folder(tmp_path / "fruit", test_fraction=0.2)
    assert torch.equal(again.train.images, ds.train.images) and ds.source == again.source


def test_bad_user_data_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        user_data.from_image_folder(tmp_path / "missing")
    root = tmp_path / "one"
    (root / "only").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "only" / "a.png")
    with pytest.raises(ValueError, match="at least 2 classes"):
        user_data.from_image_folder(root)
    with pytest.raises(ValueError, match="test_fraction"):
        user_data.stratified_split(torch.tensor([0, 0, 1, 1]), 1.0, 0)
    with pytest.raises(ValueError, match="at least 2"):
        user_data.stratified_split(torch.tensor([0, 0, 1]), 0.5, 0)

    class Odd:  # an ImageFolder look-alike with a label out of range
        classes = ["a", "b"]

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return torch.zeros(3, 32, 32, dtype=torch.uint8), 7
    with pytest.raises(ValueError, match="not one of the 2 classes"):
        user_data.from_image_folder(Odd())


def test_superclass_pipeline_on_an_image_folder(tmp_path, data_dir):
    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    smoke = profiles.get("smoke")
    P = replace(smoke, two_level=replace(smoke.two_level, k_values=(2, 3), k_sweep=(2,)))
    learned = sc.learn_maps(P, ds, progress=False)
    assert set(learned["maps"]) == {2, 3}
    smap = learned["maps"][2]
    assert sorted(set(smap.assignment)) == [0, 1] and len(smap.assignment) == 4
    T = P.two_level
    backbone, rec = train.train_backbone(
        replace(P, backbones={T.backbone: P.backbones[T.backbone]}), T.backbone, ds, progress=False)
    first, first_rec = two_level.first_level(backbone, rec, ds, smap, T.first_level, P.seed,
                                             progress=False)
    seconds, _ = two_level.second_levels(first, first_rec, backbone, rec, ds, smap,
                                         T.second_level, T.temperature, T.alpha, P.seed,
                                         progress=False)
    outs = two_level.TwoLevel(smap, first, seconds).outputs(ds.test)
    assert outs["first"].shape == (len(ds.test), 2)
