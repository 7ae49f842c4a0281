"""The branchy AlexNet: exits, layer enumeration, split execution, early exit, joint training."""

import pytest
import torch

from edgelib import branchy, data, train
from edgelib.models.branchy_alexnet import EXIT_LAYERS, LAYER_TYPES, BranchyAlexNet, early_exit
from edgelib.profiles import Recipe


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return BranchyAlexNet(10, width=16).eval()


def test_exits_have_the_papers_layer_counts_and_shapes(net):
    assert tuple(len(net.branch(e)) for e in (1, 2, 3)) == EXIT_LAYERS == (9, 12, 20)
    assert {layer.type for e in (1, 2, 3) for layer in net.branch(e)} == set(LAYER_TYPES)
    outs = net(torch.randn(4, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(4, 10)] * 3
    # the trunk is shared: exit 2 and 3 start with the same module objects
    assert all(a.module is b.module for a, b in zip(net.branch(2)[:8], net.branch(3)[:8]))


@pytest.mark.parametrize("exit", [1, 2, 3])
def test_split_execution_equals_full_forward_at_every_partition_point(net, exit):
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        full = net.run(x, exit)
        assert torch.equal(full, net(x)[exit - 1])
        for p in range(len(net.branch(exit)) + 1):
            assert torch.equal(net.run(net.run(x, exit, 0, p), exit, p), full), p


def test_bad_exit_or_partition_point_is_a_clear_error(net):
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="exit must be 1…3"):
        net.run(x, 4)
    with pytest.raises(ValueError, match="outside 0…9"):
        net.run(x, 1, 0, 10)


def test_early_exit_takes_the_first_confident_exit():
    confident = torch.tensor([[10.0, 0.0], [0.0, 0.0]])  # row 0 sure, row 1 uniform
    unsure = torch.zeros(2, 2)
    taken = early_exit([confident, unsure, unsure], [0.1, 0.1])
    assert taken.tolist() == [0, 2]
    assert early_exit([confident, confident, unsure], [0.0, 0.0]).tolist() == [2, 2]
    with pytest.raises(ValueError, match="thresholds"):
        early_exit([confident, unsure, unsure], [0.1])


def test_entropy_sweep_spans_main_exit_to_first_exit():
    torch.manual_seed(0)
    logits = [torch.randn(50, 10) for _ in range(3)]
    labels = torch.randint(0, 10, (50,))
    sweep = branchy.entropy_sweep(logits, labels, macs=[1.0, 2.0, 3.0], points=5)
    assert sweep.iloc[0].exit3_share == 1 and sweep.iloc[0].macs_per_input == 3.0
    assert sweep.iloc[-1].exit1_share == 1 and sweep.iloc[-1].macs_per_input == 1.0
    main_acc = (logits[2].argmax(1) == labels).float().mean().item()
    assert sweep.iloc[0].accuracy == pytest.approx(main_acc)


def test_exit_macs_grow_and_count_the_trunk_once(net):
    macs = branchy.exit_macs(net)
    assert macs[0] < macs[1] < macs[2]


def test_joint_training_lowers_every_exit_loss():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (128, 3, 32, 32), dtype=torch.uint8)
    y = (x.float().mean((1, 2, 3)) > 127.5).long()  # a learnable rule: bright vs dark
    split = data.Split(x, y)
    model = BranchyAlexNet(2, width=8)
    loss = train.multi_exit_loss((1.0, 1.0, 1.0))
    before = [torch.nn.functional.cross_entropy(z, y).item()
              for z in train.logits(model, split, all_exits=True)]
    train.fit(model, data.Loader(split, 32, train=True), Recipe(epochs=3, batch_size=32, lr=0.02),
              loss_fn=loss, progress=False)
    after = [torch.nn.functional.cross_entropy(z, y).item()
             for z in train.logits(model, split, all_exits=True)]
    assert all(a < b for a, b in zip(after, before)), (before, after)
    with pytest.raises(ValueError, match="3 exits but 2"):
        train.multi_exit_loss((1.0, 1.0))([torch.zeros(1, 2)] * 3, torch.zeros(1).long(), None)
