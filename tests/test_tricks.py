"""airbench's tricks (edgelib.tricks), each checked on its own."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from edgelib import data, models, train, tricks
from edgelib.profiles import Recipe


def _images(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def test_whitening_makes_patch_features_unit_variance_and_freezes():
    smooth = torch.nn.functional.avg_pool2d(_images().float(), 3, 1, 1).to(torch.uint8)
    model = models.build("cifarnet", 10, width=16)  # stem: 8 channels of 3x3x3 patches
    assert tricks.whiten_first_conv(model, smooth)
    conv = model.stages["stem"][0]
    assert not conv.weight.requires_grad
    with torch.no_grad():
        out = conv(data.normalize(smooth))
    var = out.var(dim=(0, 2, 3))  # each channel sees a whitened direction: variance ≈ 1
    assert torch.allclose(var, torch.ones_like(var), atol=0.15)
    assert torch.allclose(conv.weight[:4], -conv.weight[4:])  # ± each eigenvector


def test_whitening_skips_a_layer_that_cannot_hold_the_eigenvectors():
    odd = nn.Sequential(nn.Conv2d(3, 5, 3))
    before = odd[0].weight.clone()
    assert not tricks.whiten_first_conv(odd, _images(20))
    assert torch.equal(before, odd[0].weight) and odd[0].weight.requires_grad


def test_airbench_bn_freezes_scale_only():
    model = models.build("resnet20", 10, width=8)
    n = tricks.airbench_bn(model)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert n == len(bns) > 0
    assert all(m.momentum == 0.4 and not m.weight.requires_grad and m.bias.requires_grad
               for m in bns)


def test_lookahead_ends_on_the_average_and_ramps_its_decay():
    lin = nn.Linear(2, 1, bias=False)
    la = tricks.Lookahead(lin, decay=0.5, every=1)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    la.step(0, 10)  # progress 0: no decay, the average jumps to the weights
    assert torch.allclose(la.average[0], torch.ones(1, 2))
    with torch.no_grad():
        lin.weight.fill_(3.0)
    la.step(10, 10)  # progress 1: decay 0.5
    assert torch.allclose(lin.weight, torch.full((1, 2), 2.0))
    with pytest.raises(ValueError):
        tricks.Lookahead(lin, decay=1.0)


def test_alternating_flip_mirrors_each_image_every_other_epoch():
    split = data.Split(_images(8), torch.zeros(8, dtype=torch.int64))
    loader = data.Loader(split, 8, train=True, pad=0, alt_flip=True, seed=3)
    order_free = []
    for _ in range(3):
        x, _ = next(iter(loader))
        order_free.append(x)
    # with pad 0 the only change is the flip; epochs 0 and 2 see the same orientation per image
    sums = [sorted(v.flatten(1)[:, :32].sum(1).tolist()) for v in order_free]
    assert sums[0] == pytest.approx(sums[2]) and sums[0] != pytest.approx(sums[1])


def test_default_augment_is_unchanged():
    """The recipe without tricks draws the very same batches as before the tricks existed."""
    x = _images(16)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    loader = data.Loader(data.Split(x, torch.zeros(16, dtype=torch.int64)), 16, train=True, seed=5)
    a, _ = next(iter(loader))
    g1.manual_seed(5)
    torch.randperm(16, generator=g1)
    assert torch.equal(a, data.normalize(data.augment(x[torch.randperm(16, generator=g2.manual_seed(5))], g1)))


def test_multicrop_views_and_tta_accuracy():
    x = torch.randn(2, 3, 32, 32)
    views = tricks.tta_views(x, "multicrop")
    assert len(views) == 6 and all(v.shape == x.shape for v in views)
    assert torch.equal(views[3], x.flip(3))
    with pytest.raises(ValueError, match="unknown test-time"):
        tricks.tta_views(x, "rotate")
    model = models.build("resnet20", 10, width=8).eval()
    split = data.Split(_images(10), torch.arange(10))
    assert 0.0 <= train.accuracy(model, split, tta="multicrop") <= 1.0


def test_every_trick_in_one_fit_and_the_cache_key():
    r = Recipe(epochs=2, batch_size=16, whiten=True, lookahead=0.95 ** 5, airbench_bn=True,
               alt_flip=True, pad=2, width=16)
    model = models.build("cifarnet", 10, width=16)
    split = data.Split(_images(64), torch.arange(10).repeat(7)[:64])
    h = train.fit(model, data.Loader(split, 16, train=True, pad=2, alt_flip=True), r,
                  evaluate_on=split, progress=False)
    assert len(h["train_loss"]) == 2 and all(torch.isfinite(torch.tensor(h["train_loss"])))
    plain = Recipe(epochs=2)
    assert "whiten" not in plain.key() and replace(plain, whiten=True).key()["whiten"] is True
    with pytest.raises(ValueError, match="pad"):
        Recipe(epochs=1, pad=9)


def test_recipe_bench_variants_and_table(tmp_path):
    import json

    from edgelib import recipe_bench

    v = recipe_bench.variants(Recipe(epochs=3))
    assert v["full"].whiten and not v["none"].whiten and not v["full - whiten"].whiten
    assert v["full - pad"].pad == 4 and v["full - whiten"].pad == 2
    assert v["none"] == Recipe(epochs=3) and v["full"].bias_scaler == 64
    # "large batch" is airbench's decoupled hyper-parameters, switched off as a group
    assert (v["full"].batch_size, v["full"].momentum, v["full"].schedule) == (1024, 0.85,
                                                                              "triangle")
    off = v["full - large_batch"]
    assert (off.batch_size, off.lr, off.schedule, off.logit_scale) == (256, 0.2, "cosine", 1 / 9)
    row = {"variant": "full", "model": "cifarnet", "epochs": 3, "test acc %": 90.0,
           "flip TTA %": 90.5, "multicrop TTA %": 91.0, "train min": 1.0,
           "recipe": v["full"].key()}
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"cpu": "X", "precision": "fp32", "rows": [row]}))
    out = recipe_bench.table([path])
    assert "| cifarnet | full | 3 | 1.5 / 0.85 / 1024 | 90 |" in out and "X, fp32" in out
