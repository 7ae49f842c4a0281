import pytest
import torch

from edgelib import cost, models


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
