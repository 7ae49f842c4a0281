"""Device and edge-server processes over loopback sockets: protocol, shaping, exact splits."""

import numpy as np
import pytest
import torch

from edgelib import platforms
from edgelib.models.branchy_alexnet import BranchyAlexNet
from edgelib.system import device, protocol
from edgelib.system.link import Link, TokenBucket, wifi

FAST = platforms.Platform("fast", threads=1, slowdown=1.0, memory_mb=10, stands_for="test",
                          calibration="none")


def test_protocol_round_trips_tensors_without_pickle():
    for t in (torch.randn(3, 4, 5), torch.randint(0, 255, (1, 3, 8, 8), dtype=torch.uint8)):
        frames = protocol.pack({"op": "run"}, t)
        assert frames[0].startswith(b"{")  # a JSON header, not a pickle
        header, back = protocol.unpack(frames)
        assert header["op"] == "run" and back.dtype == t.dtype and torch.equal(back, t)
    assert protocol.unpack(protocol.pack({"op": "ping"}, None)) == ({"op": "ping"}, None)
    with pytest.raises(ValueError, match="cannot send dtype"):
        protocol.pack({}, torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="bad message header"):
        protocol.unpack([b"\x80\x04not json"])


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
    with device.EdgeProcess(weights, width=8, platform="edge-server") as edge:
        yield model, edge


@pytest.mark.parametrize("orientation", ["edge-first", "device-first"])
def test_split_inference_across_processes_gives_the_local_answer(served, orientation):
    model, edge = served
    images = torch.randint(0, 256, (4, 1, 3, 32, 32), dtype=torch.uint8)
    from edgelib import data
    for image in images:
        want = int(model(data.normalize(image))[2].argmax(1)[0])
        for p in (0, 5, 20):
            r = device.run_split(model, edge, image, 3, p, orientation, wifi(50.0), FAST)
            assert r["prediction"] == want, (orientation, p)


def test_shaped_link_slows_the_transfer_as_configured(served):
    model, edge = served
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    # device-first at p = 1 uploads conv1's output: 8×32×32 fp32 = 32 kB
    slow = device.run_split(model, edge, image, 3, 1, "device-first", Link("slow", 2e5), FAST)
    assert slow["sent_bytes"] > 32_000
    assert slow["measured_ms"] >= 1e3 * 32_768 / 2e5  # at least the shaped transfer time


def test_bad_partition_point_and_edge_errors_are_clear(served):
    model, edge = served
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match="outside 0…20"):
        device.run_split(model, edge, image, 3, 21, "device-first", wifi(1), FAST)
    with pytest.raises(RuntimeError, match="edge server: .*exit must be"):
        edge.request({"op": "run", "exit": 7, "start": 0}, image, None)
    assert np.isfinite(edge.request({"op": "ping"}, None, None)[0] == {"op": "pong"})
