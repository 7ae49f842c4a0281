import pytest
import torch

from edgelib import models


@pytest.mark.parametrize("name,params", [("resnet20", 269_722), ("resnet32", 464_154),
                                         ("resnet44", 658_586), ("resnet56", 853_018)])
def test_cifar_resnet_parameter_counts_match_he_et_al(name, params):
    net = models.build(name, 10)
    assert sum(p.numel() for p in net.parameters()) == params
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name,cut_shape", [("resnet20", (2, 32, 16, 16)),
                                            ("resnet18", (2, 128, 16, 16)),
                                            ("densenet121", (2, 256, 8, 8))])
def test_cut_then_rest_equals_full_forward(name, cut_shape):
    torch.manual_seed(0)
    net = models.build(name, 100).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feature = net.head_until(x)
        assert feature.shape == cut_shape
        assert torch.allclose(net.tail_from(feature), net(x), atol=1e-5)
        assert net(x).shape == (2, 100)
        assert net.penultimate(x).shape[0] == 2


def test_cifarnet_shapes_and_cut():
    net = models.build("cifarnet", 10, width=16).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert net.head_until(x).shape == (2, 64, 8, 8)
        assert torch.allclose(net.tail_from(net.head_until(x)), net(x), atol=1e-5)


def test_paper_cut_points():
    assert models.build("resnet50").cut == "conv3_x"
    assert models.build("densenet169").cut == "transition2"
    assert models.build("resnet110").cut == "stage2"
    assert models.build("resnet18").stage_names == ["stem", "conv2_x", "conv3_x", "conv4_x",
                                                     "conv5_x", "head"]


def test_resnet18_matches_table1_parameters():
    assert sum(p.numel() for p in models.build("resnet18").parameters()) == 11_173_962


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="known models are"):
        models.build("vgg16")
    with pytest.raises(ValueError, match="num_classes"):
        models.build("resnet20", 1)
    with pytest.raises(ValueError, match="only, not 'resnet18'"):
        models.build("resnet18", 10, width=8)
    with pytest.raises(ValueError, match="unknown stage"):
        models.build("resnet20").head_until(torch.zeros(1, 3, 32, 32), "conv9")


def test_narrow_width():
    net = models.build("resnet20", 10, width=8)
    assert net.head_until(torch.zeros(1, 3, 32, 32)).shape == (1, 16, 16, 16)
