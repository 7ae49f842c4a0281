import itertools
import json

import pytest
import torch
import torch.nn.functional as F

from edgelib import cache, data, profiles, train, tricks
from edgelib.profiles import Recipe


def toy_cifar(n_per_class=20, classes=4, seed=0) -> data.Cifar:
    """Images whose colour says their class: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        labels = torch.arange(classes).repeat_interleave(n)
        base = (labels * (200 // classes)).view(-1, 1, 1, 1).float()
        noise = torch.randint(0, 30, (len(labels), 3, 32, 32), generator=g).float()
        return data.Split((base + noise).clamp(0, 255).to(torch.uint8), labels)

    return data.Cifar("toy", split(n_per_class), split(5), tuple(f"c{i}" for i in range(classes)),
                      None, "toy colours")


TOY = profiles.override(profiles.get("smoke"),
                        backbones={"resnet20": profiles.Recipe(epochs=3, batch_size=16, width=4,
                                                               lr=0.05)})


def test_loss_falls_on_a_learnable_task():
    d = toy_cifar()
    torch.manual_seed(0)
    from edgelib import models

    net = models.build("resnet20", 4, width=4)
    history = train.fit(net, data.Loader(d.train, 16, train=True), TOY.backbones["resnet20"],
                        evaluate_on=d.test, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0] - 0.2
    assert history["train_images_per_second"] > 0


def test_distillation_loss_by_hand():
    s = torch.tensor([[1.0, 0.0, -1.0]])
    t = torch.tensor([[0.0, 2.0, 0.0]])
    y = torch.tensor([1])
    T, a = 2.0, 0.7
    p_t = F.softmax(t / T, 1)
    kl = (p_t * (p_t.log() - F.log_softmax(s / T, 1))).sum()
    expected = a * kl * T * T + (1 - a) * F.cross_entropy(s, y)
    assert train.distillation_loss(s, t, y, T, a).item() == pytest.approx(expected.item(), rel=1e-6)
    assert train.distillation_loss(s, t, y, T, 0.0).item() == pytest.approx(
        F.cross_entropy(s, y).item())
    assert train.distillation_loss(t, t, y, T, 1.0).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="temperature"):
        train.distillation_loss(s, t, y, temperature=0)


def test_learning_rate_schedule():
    lrs = [train.lr_at(s, 100, 10, 0.2) for s in range(101)]
    assert lrs[0] == pytest.approx(0.02) and lrs[9] == pytest.approx(0.2)
    assert max(lrs) == pytest.approx(0.2) and lrs[100] == pytest.approx(0.0, abs=1e-12)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(lrs[9:]))


def test_cache_hit_same_config_miss_changed_config(data_dir, monkeypatch):
    d = toy_cifar()
    _, first = train.train_backbone(TOY, "resnet20", d, progress=False)
    assert cache.is_complete(cache.entry("backbone", first["config"]))
    stored = json.loads((cache.entry("backbone", first["config"]) / "metrics.json").read_text())
    assert stored == first["metrics"]

    def must_not_train(*args, **kwargs):
        raise AssertionError("retrained although the config is unchanged")

    real_fit = train.fit
    monkeypatch.setattr(train, "fit", must_not_train)
    model, again = train.train_backbone(TOY, "resnet20", d, progress=False)
    assert again["folder"] == first["folder"]
    assert train.accuracy(model, d.test) == pytest.approx(first["metrics"]["test_acc"])

    changed = profiles.override(TOY, backbones={"resnet20": profiles.Recipe(
        epochs=2, batch_size=16, width=4, lr=0.05)})
    with pytest.raises(AssertionError, match="retrained"):
        train.train_backbone(changed, "resnet20", d, progress=False)
    monkeypatch.setattr(train, "fit", real_fit)
    _, other = train.train_backbone(changed, "resnet20", d, progress=False)
    assert other["folder"] != first["folder"]


def test_same_seed_same_metrics(tmp_path, monkeypatch):
    d = toy_cifar()
    results = []
    for run in ("a", "b"):
        monkeypatch.setenv("EDGELIB_DATA_DIR", str(tmp_path / run))
        results.append(train.train_backbone(TOY, "resnet20", d, progress=False)[1]["metrics"])
    assert results[0] == results[1]


def test_decoupled_hyperparameters_give_airbench_updates():
    """airbench94 at batch 1024: lr 11.5 and wd 0.0153 per 1024 examples, momentum 0.85 → a
    mean-loss step of 11.5 / (1 + 1/0.15) and the same per-step decay at any batch size."""
    h = tricks.decoupled(11.5, 0.0153, 0.85, 1024)
    assert h["lr"] == pytest.approx(11.5 / (1 + 1 / 0.15))
    per_step_decay = h["lr"] * h["weight_decay"]
    assert per_step_decay == pytest.approx(0.0153 / (1 + 1 / 0.15))
    quarter = tricks.decoupled(11.5, 0.0153, 0.85, 256)
    assert quarter["lr"] == pytest.approx(h["lr"] / 4)
    assert quarter["weight_decay"] == pytest.approx(h["weight_decay"])


def test_triangle_schedule_and_bias_scaler_groups():
    lrs = [tricks.triangle_lr(s, 100, 1.0) for s in range(101)]
    assert lrs[0] == pytest.approx(0.2) and lrs[-1] == pytest.approx(0.07)
    assert max(lrs) == pytest.approx(1.0, abs=0.04) and lrs.index(max(lrs)) in (22, 23)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4),
                                torch.nn.Flatten(), torch.nn.LazyLinear(2))
    model(torch.zeros(1, 3, 5, 5))
    plain = train._optimizer(model, Recipe(epochs=1))
    assert [g["lr_scale"] for g in plain.param_groups] == [1.0, 1.0]
    opt = train._optimizer(model, Recipe(epochs=1, bias_scaler=64.0, weight_decay=1e-3))
    fast = opt.param_groups[-1]
    assert fast["lr_scale"] == 64.0 and fast["params"] == [model[1].bias]
    assert fast["weight_decay"] * 64.0 == pytest.approx(1e-3)  # the same decay per step
    with pytest.raises(ValueError, match="schedule"):
        Recipe(epochs=1, schedule="step")
    with pytest.raises(ValueError, match="bias_scaler"):
        Recipe(epochs=1, bias_scaler=float("inf"))
