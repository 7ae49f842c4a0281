import pytest
import torch

from edgelib import cost, flop_conventions, models


def test_resnet18_flops_match_table1():
    f = cost.flops(models.build("resnet18"))
    assert f["macs"] / 1e9 == pytest.approx(0.557, abs=0.003)  # paper: 0.558 G
    assert sum(f["per_stage_flops"].values()) == f["flops"]
    assert f["per_stage_flops"]["stem"] == 2 * 3 * 64 * 9 * 32 * 32


def test_flops_of_a_linear_layer_by_hand():
    f = cost.flops(torch.nn.Linear(20, 7), input_shape=(3, 20))
    assert f["flops"] == 2 * 3 * 20 * 7 and f["per_stage_flops"] == {}


def test_summary_and_latency():
    net = models.build("resnet20", width=8)
    s = cost.summary(net)
    assert s["params_M"] == pytest.approx(cost.parameters(net) / 1e6)
    lat = cost.latency(net, warmup=1, repeats=3, threads=1)
    assert lat["repeats"] == 3 and 0 < lat["min_ms"] <= lat["median_ms"] and lat["threads"] == 1
    with pytest.raises(ValueError, match="repeats"):
        cost.latency(net, repeats=0)


class _Tiny(torch.nn.Module):
    """conv(+bias) → BN → ReLU → residual add of a plain BN → avg pool → global pool → linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.plain = torch.nn.BatchNorm2d(4, affine=False)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x):
        y = torch.nn.functional.relu(self.bn(self.conv(x)))  # 4×8×8
        y = y + self.plain(y)                                 # residual addition
        y = self.pool(y)                                      # → 4×4×4
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)  # → 4
        return self.fc(y)


def test_ops_by_kind_by_hand():
    net = _Tiny().train()
    n = 2  # batch of two: every count doubles
    counts = cost.ops_by_kind(net, input_shape=(n, 3, 8, 8))
    assert net.training  # the mode is restored
    assert counts == {
        "conv": n * 4 * 64 * 3 * 9, "conv_bias": n * 4 * 64,
        "linear": n * 4 * 5, "linear_bias": n * 5,
        "bn": n * 2 * 4 * 64, "bn_affine": n * 4 * 64,
        "relu": n * 4 * 64, "add": n * 4 * 64,
        "pool_in": n * 4 * 64, "pool_out": n * 4 * 16,
        "global_pool_in": n * 4 * 16, "global_pool_out": n * 4,
    }
    assert counts["conv"] + counts["linear"] == cost.flops(net, (n, 3, 8, 8))["macs"]
    assert cost.macs_under(counts, "conv+linear") == n * (4 * 64 * 27 + 20)
    # fvcore, training mode: BN 5 per element if affine, 4 if not; adaptive pool 1 per input
    assert cost.macs_under(counts, "fvcore_train") == n * (4 * 64 * 27 + 20 + 5 * 256 + 4 * 256
                                                           + 64)
    # ptflops: conv + bias, BN 2 (affine) / 1, ReLU, pooling per input element, linear + bias
    assert cost.macs_under(counts, "ptflops") == n * (4 * 64 * 28 + 25 + 2 * 256 + 256 + 256
                                                      + 256 + 64)
    assert cost.macs_under(counts, {"bn": 0.5}) == n * 256
    with pytest.raises(ValueError, match="unknown op kinds"):
        cost.macs_under(counts, {"softmax": 1})


def test_ops_by_stage_adds_up():
    net = models.build("resnet18")
    per_stage = cost.ops_by_stage(net)
    whole = cost.ops_by_kind(net)
    assert list(per_stage) == net.stage_names
    assert {k: sum(s[k] for s in per_stage.values()) for k in cost.OP_KINDS} == whole
    # ResNet-18 at 32×32: 20 batch norms, 8 residual additions
    assert whole["bn"] == 614_400 and whole["add"] == 245_760 and whole["relu"] == 557_056


def test_table1_convention():
    """conv + linear + 5 per batch-norm element (fvcore in training mode), 10-class heads,
    prints as every FLOPs[G] of Table 1; our conv+linear count is 0.5–2.8 % below."""
    rows = {r["model"]: r for r in flop_conventions.table1("+bn5", 10)}
    assert all(r["prints_as_paper"] for r in rows.values())
    assert max(abs(r["convention_gap_pct"]) for r in rows.values()) < 0.1
    assert rows["resnet50"]["ours_gap_pct"] == pytest.approx(-1.306, abs=1e-3)
    assert rows["densenet201"]["ours_gap_pct"] == pytest.approx(-2.788, abs=1e-3)
    # the parameter column is the 10-class one too (100 classes: 11.22 M for ResNet-18)
    assert all(round(r["params_M"], 2) == round(r["paper_params_M"], 2) for r in rows.values())
    # only ~5 per batch-norm element works for all 8 rows; with 100 classes no weight does
    lo, hi = flop_conventions.bn_weight_interval(10)
    assert lo < 5 < hi and hi - lo < 0.01
    assert flop_conventions.bn_weight_interval(100) is None
    best = flop_conventions.rank_conventions()
    assert (best[0]["convention"], best[0]["num_classes"], best[0]["rows_matching"]) == (
        "+bn5", 10, 8)
    score = {(r["convention"], r["num_classes"]): r["rows_matching"] for r in best}
    # fvcore_train also counts the global pool's 8192 inputs: ResNet-18 0.5585029 → prints 0.559
    assert score["fvcore_train", 10] == 7
    assert score["thop", 10] <= 1 and score["ptflops", 10] == 0 and score["conv+linear", 10] == 0
