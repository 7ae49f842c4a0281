import torch

from edgelib import selfsupervised as ssl


def test_nt_xent_rewards_matching_views():
    torch.manual_seed(0)
    z = torch.randn(8, 16)
    aligned = ssl.nt_xent(torch.cat([z, z + 0.01 * torch.randn(8, 16)]))
    shuffled = ssl.nt_xent(torch.cat([z, torch.randn(8, 16)]))
    assert aligned < shuffled


def test_two_views_shapes_range_and_determinism():
    x = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    v1 = ssl.two_views(x, torch.Generator().manual_seed(1))
    v2 = ssl.two_views(x, torch.Generator().manual_seed(1))
    assert v1.shape == (10, 3, 32, 32) and torch.equal(v1, v2)
    assert v1.min() >= 0 and v1.max() <= 255
    assert not torch.allclose(v1[:5], v1[5:])  # the two views differ


def test_full_scale_crop_is_the_identity():
    x = torch.rand(2, 3, 32, 32) * 255
    out = ssl.random_resized_crop(x, torch.Generator().manual_seed(0), scale=(1.0, 1.0),
                                  ratio=(1.0, 1.0))
    assert torch.allclose(out, x, atol=1e-3)


def test_knn_probe_on_separable_features():
    train = torch.cat([torch.randn(50, 4) + 10 * torch.eye(4)[c] for c in range(4)])
    labels = torch.arange(4).repeat_interleave(50)
    assert ssl.knn_accuracy(train, labels, train, labels, k=5) == 1.0
