"""The paper profile really runs: every model it trains is built, trained for one step and
evaluated on one batch through the same functions the notebooks call, on tiny data (the
generated CIFAR-100 fixture included). Schedules are cut to one epoch of a few images; the
architectures, widths and class counts are the paper profile's."""

from dataclasses import replace

import pytest
import torch

from edgelib import branchy, data, profiles, superclasses as sc, train, two_level
from edgelib.superclasses import SuperclassMap

PAPER = profiles.get("paper")


def _tiny(dataset: data.Cifar, n: int = 8) -> data.Cifar:
    return replace(dataset, train=data.stratified(dataset.train, n, 0),
                   test=data.stratified(dataset.test, n, 0))


def _short(recipe):
    return replace(recipe, epochs=1, batch_size=4, warmup_epochs=0.5)


@pytest.fixture
def cifar100(data_dir):
    from conftest import make_cifar100

    make_cifar100(data_dir, train_per_class=1, test_per_class=1)
    return _tiny(data.load("cifar100"))


@pytest.fixture
def cifar10(data_dir, fake_mirror, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(fake_mirror))
    return _tiny(data.load("cifar10"))


def _one_step(profile, name, dataset):
    p = profiles.override(profile, backbones={name: _short(profile.backbones[name])})
    model, record = train.train_backbone(p, name, dataset, progress=False)
    assert len(record["metrics"]["history"]["train_loss"]) == 1
    assert torch.isfinite(torch.tensor(record["metrics"]["history"]["train_loss"])).all()
    logits = train.logits(model, dataset.test)
    assert logits.shape == (len(dataset.test), dataset.num_classes)
    return model, record


@pytest.mark.parametrize("name", list(PAPER.backbones))
def test_every_paper_backbone_trains_a_step_on_cifar100(cifar100, name):
    _one_step(PAPER, name, cifar100)


def test_paper_branchy_alexnet_width_96(cifar10):
    assert PAPER.edge.branchy.width == 96
    p = profiles.override(PAPER, edge=replace(PAPER.edge, branchy=_short(PAPER.edge.branchy)))
    model, record = branchy.train_branchy(p, cifar10, progress=False)
    assert len(record["metrics"]["exit_test_acc"]) == 3
    assert [t.shape for t in branchy.exit_logits(model, cifar10.test)] == [(8, 10)] * 3


@pytest.mark.parametrize("name", ["resnet18", "densenet121"])
def test_paper_two_level_encoders_train_a_step(cifar100, name):
    backbone, rec = _one_step(PAPER, name, cifar100)
    k = 5  # the paper's K on CIFAR-100
    smap = SuperclassMap("cifar100", k, tuple(c % k for c in range(100)), {"test": name})
    T = PAPER.two_level
    first, first_rec = two_level.first_level(backbone, rec, cifar100, smap,
                                             _short(T.first_level), PAPER.seed, progress=False)
    seconds, _ = two_level.second_levels(first, first_rec, backbone, rec, cifar100, smap,
                                         _short(T.second_level), T.temperature, T.alpha,
                                         PAPER.seed, progress=False)
    assert len(seconds) == k
    outs = two_level.TwoLevel(smap, first, seconds).outputs(cifar100.test)
    assert outs["first"].shape == (8, k) and outs["labels"].shape == (k, 8)
    assert sc.agreement(smap.assignment, smap.assignment) == 1.0


def test_paper_mobilenet_family_trains_a_step(cifar10):
    """Notebook 09's family at the paper profile's widths: each trains a step at every
    resolution and gives every variant (per-resolution batch norm, 8 bits) its accuracy."""
    from edgelib import serving_variants as sv

    k = PAPER.serving
    assert k.widths == (0.25, 0.5, 0.75, 1.0)
    p = profiles.override(PAPER, serving=replace(k, recipe=_short(k.recipe), bn_images=8,
                                                 calibration_images=8))
    family = sv.train_family(p, cifar10, progress=False)
    assert sorted(family) == list(k.widths)
    for v in sv.variants(p):
        if v.width == 0.75:
            acc = sv.accuracy(sv.module(p, cifar10, v, family), cifar10.test, v.resolution)
            assert 0.0 <= acc <= 1.0
