"""Partitioned inference over the runtime: links, shaping, exact splits across processes."""

import pytest
import torch

from edgelib import data, platforms
from edgelib.models.branchy_alexnet import BranchyAlexNet
from edgelib.system import split
from edgelib.system.link import Link, TokenBucket, wifi

FAST = platforms.Platform("fast", threads=1, slowdown=1.0, memory_mb=10, stands_for="test",
                          calibration="none")

pytestmark = pytest.mark.timeout(120)  # no test here may hang CI


def test_token_bucket_paces_at_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=1000.0, burst=100, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    bucket.tokens = 0.0
    bucket.consume(1000)
    assert now[0] == pytest.approx(1.0)


def test_links_reject_bad_numbers():
    assert wifi(2.0).bandwidth == 2e6 and Link("x", 1e6, 0.01).transfer_s(1e6) == pytest.approx(1.01)
    with pytest.raises(ValueError, match="positive"):
        Link("bad", -1.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    torch.manual_seed(0)
    model = BranchyAlexNet(10, width=8).eval()
    weights = tmp_path_factory.mktemp("w") / "weights.pt"
    torch.save(model.state_dict(), weights)
    lengths = [len(model.branch(e)) for e in (1, 2, 3)]
    with split.SplitRuntime(weights, 8, lengths, shaping="token-bucket") as runtime:
        runtime.set_link(wifi(50.0))
        yield model, runtime


@pytest.mark.parametrize("orientation", ["edge-first", "device-first"])
def test_split_inference_across_processes_gives_the_local_answer(served, orientation):
    model, runtime = served
    images = torch.randint(0, 256, (3, 1, 3, 32, 32), dtype=torch.uint8)
    for image in images:
        want = int(model(data.normalize(image))[2].argmax(1)[0])
        for p in (0, 5, 20):
            r = runtime.run(model, image, 3, p, orientation, FAST)
            assert r["prediction"] == want, (orientation, p)
            assert r["shaping"] == "token-bucket"


def test_shaped_link_slows_the_transfer_as_configured(served):
    model, runtime = served
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    runtime.set_link(Link("slow", 2e5))
    try:  # device-first at p = 1 uploads conv1's output: 8×32×32 fp32 = 32 kB
        slow = runtime.run(model, image, 3, 1, "device-first", FAST)
    finally:
        runtime.set_link(wifi(50.0))
    assert slow["sent_bytes"] > 32_768
    assert slow["measured_ms"] >= 1e3 * 32_768 / 2e5  # at least the shaped transfer time


def test_bad_partition_points_are_clear(served):
    model, runtime = served
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match="outside 0…20"):
        runtime.run(model, image, 3, 21, "device-first", FAST)
    with pytest.raises(ValueError, match="orientation"):
        runtime.run(model, image, 3, 2, "sideways", FAST)
