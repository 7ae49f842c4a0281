"""Adaptive serving (issue 13): the latency-bounded dispatcher, the client's resolution
controller, MobileNet variants as hosted models, and the two over a real server."""

from __future__ import annotations

import asyncio
import math
import warnings

import numpy as np
import pytest
import torch

from edgelib import serving
from edgelib.models import mobilenet as mb
from edgelib.system import client, config, hosted, processes


# ------------------------------------------------------------------ dispatcher (pure)
def test_dispatch_takes_the_most_accurate_queue_under_the_bound():
    assert serving.dispatch([5.0, 3.0, 1.0], 10.0) == 0
    assert serving.dispatch([12.0, 9.0, 1.0], 10.0) == 1
    assert serving.dispatch([12.0, 11.0, 9.99], 10.0) == 2
    assert serving.dispatch([10.0, 4.0], 10.0) == 1  # strictly below the bound


def test_dispatch_falls_through_to_the_last_queue():
    assert serving.dispatch([50.0, 40.0, 30.0], 10.0) == 2
    assert serving.dispatch([50.0], 10.0) == 0


@pytest.mark.parametrize("bound", [0, -1.0, math.nan, math.inf, "10", True])
def test_dispatch_refuses_a_bad_bound(bound):
    with pytest.raises(ValueError, match="latency bound"):
        serving.dispatch([1.0], bound)
    with pytest.raises(ValueError, match="latency bound"):
        serving.latency_bounded(["a"], bound)


def test_dispatch_refuses_an_empty_model_list():
    with pytest.raises(ValueError, match="at least one model"):
        serving.dispatch([], 10.0)
    with pytest.raises(ValueError, match="at least one model"):
        serving.Ladder(())


def test_ladder_checks_its_order_and_duplicates():
    serving.Ladder(("a", "b", "c"), (0.9, 0.8, 0.8))
    with pytest.raises(ValueError, match="most to the least accurate.*'b' is more accurate"):
        serving.Ladder(("a", "b"), (0.7, 0.9))
    with pytest.raises(ValueError, match="twice"):
        serving.Ladder(("a", "a"))
    with pytest.raises(ValueError, match="2 models but 1"):
        serving.Ladder(("a", "b"), (0.9,))


def test_moving_average_update():
    assert serving.moving_average(None, 4.0, 0.2) == 4.0
    assert serving.moving_average(4.0, 9.0, 0.2) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        serving.moving_average(1.0, 2.0, 0.0)


class _Queue:
    def __init__(self, average_ms, backlog_ms):
        self.average_s = None if average_ms is None else average_ms / 1e3
        self._backlog = backlog_ms / 1e3

    def waiting_s(self):
        return self._backlog


def test_latency_bounded_policy_reads_the_queues():
    policy = serving.latency_bounded(["big", "mid", "small"], bound_ms=10.0)
    idle = {"big": _Queue(8.0, 0.0), "mid": _Queue(4.0, 0.0), "small": _Queue(1.0, 0.0)}
    assert policy("small", idle) == "big"  # any ladder model asked: the dispatcher decides
    busy = {n: _Queue(q.average_s * 1e3, 5.0) for n, q in idle.items()}
    assert policy("big", busy) == "mid"  # 5 + 8 ≥ 10, 5 + 4 < 10
    jammed = {n: _Queue(q.average_s * 1e3, 50.0) for n, q in idle.items()}
    assert policy("big", jammed) == "small"  # fall-through
    assert policy("other", {**idle, "other": _Queue(1.0, 0.0)}) == "other"
    untimed = {"big": _Queue(None, 3.0), "small": _Queue(1.0, 3.0)}
    assert policy("big", untimed) == "big"  # never timed: tried first


# ------------------------------------------------------------------ client controller
def _controller(**kw):
    args = dict(resolutions=(32, 24, 16), upper_ms=100.0, lower_ms=40.0, hold_off=2)
    return serving.ResolutionController(**{**args, **kw})


def test_controller_steps_down_and_up_with_hysteresis():
    c = _controller(hold_off=1)
    assert c.observe(150.0, 32) == 24  # above TC_upper: lower resolution
    assert c.observe(70.0, 24) == 24  # between the thresholds: stay
    assert c.observe(150.0, 24) == 16
    assert c.observe(150.0, 16) == 16  # already R_k
    assert c.observe(10.0, 16) == 24  # below TC_lower: raise
    assert c.observe(10.0, 24) == 32
    assert c.observe(10.0, 32) == 32  # already R_1
    assert [r for _, r in c.changes] == [24, 16, 24, 32]


def test_controller_holds_off_until_the_change_can_be_measured():
    c = _controller(hold_off=2)
    assert c.observe(150.0, 32) == 32  # first of two answers
    assert c.observe(150.0, 32) == 24  # the decision
    assert c.observe(500.0, 32) == 24  # sent before the change: ignored
    assert c.observe(150.0, 24) == 24  # one answer at the new resolution
    assert c.observe(150.0, 24) == 16  # two: decide again


def test_controller_requires_its_thresholds_above_the_bound():
    _controller(bound_ms=30.0)
    with pytest.raises(ValueError, match="TC_upper > T and TC_lower > T"):
        _controller(bound_ms=50.0)  # TC_lower 40 < T 50
    c = _controller(bound_ms=50.0, require_above_bound=False)  # allowed, to be measured
    assert c.resolution == 32


@pytest.mark.parametrize("kw,match", [
    ({"resolutions": ()}, "positive integers"), ({"resolutions": (16, 32)}, "fall strictly"),
    ({"lower_ms": 100.0}, "TC_lower < TC_upper"), ({"upper_ms": math.nan}, "TC_upper"),
    ({"hold_off": 0}, "hold_off"), ({"index": 3}, "index")])
def test_controller_refuses_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        _controller(**kw)


# ------------------------------------------------------------------ variants
def test_mobilenet_resize_and_quantize_round_trip(tmp_path):
    net = mb.mobilenet(10, 0.25).eval()
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert mb.resize(x, 16).shape == (2, 3, 16, 16) and mb.resize(x, 16).dtype == torch.uint8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = mb.quantize(net, torch.randn(8, 3, 32, 32))
        torch.save(q.state_dict(), tmp_path / "q.pt")
        back = mb.quantized_skeleton(10, 0.25)
        back.load_state_dict(torch.load(tmp_path / "q.pt", weights_only=True))
    f = torch.randn(2, 3, 24, 24)
    assert torch.equal(back(f), q(f))
    assert torch.allclose(mb.fused(net)(f), net(f), atol=1e-5)
    capped = mb.MultiResolution(net, (16,), cap=16).eval()
    big = torch.randn(1, 3, 32, 32)
    assert torch.equal(capped(big), net(mb.resize(big, 16)))  # downsized to the cap
    images = torch.randn(64, 3, 32, 32) * 3 + 1
    at16 = mb.recalibrate_bn(net, images, 16)
    bn = at16.features[0][1]
    first = at16.features[0][0](mb.resize(images, 16))
    assert torch.allclose(bn.running_mean, first.mean((0, 2, 3)), atol=1e-4)
    assert torch.equal(at16.features[0][0].weight, net.features[0][0].weight)
    by = mb.ByResolution({16: at16, 32: net}, cap=32).eval()
    assert torch.equal(by(mb.resize(big, 16)), at16(mb.resize(big, 16)))
    with pytest.raises(ValueError, match="no network for a 24"):
        by(torch.randn(1, 3, 24, 24))


def _variant_files(tmp_path):
    torch.manual_seed(0)
    net = mb.mobilenet(10, 0.25)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    common = {"kind": "mobilenet_variant", "width": 0.25, "resolutions": [16, 32]}
    return {"big": {**common, "cap": 32, "weights": {"16": "w.pt", "32": "w.pt"}},
            "small": {**common, "cap": 16, "weights": {"16": "w.pt"}}}


def test_hosted_variant_checks_the_resolution(tmp_path):
    models = _variant_files(tmp_path)
    both = {"16": str(tmp_path / "w.pt"), "32": str(tmp_path / "w.pt")}
    m = hosted.build("big", {**models["big"], "weights": both})
    assert m.sample_shapes == ((3, 16, 16), (3, 32, 32))
    assert m.run(np.zeros((1, 3, 16, 16), np.uint8)).shape == (1, 10)
    with pytest.raises(ValueError, match="bits 8 or 32"):
        hosted.build("bad", {**models["big"], "weights": both, "bits": 16})
    with pytest.raises(ValueError, match="one weights file per resolution"):
        hosted.build("bad", {**models["big"], "weights": {"16": both["16"]}})


def test_config_checks_the_dispatch_entry(tmp_path):
    models = {"a": {"kind": "echo"}, "b": {"kind": "echo"}}
    for bad, match in [({"ladder": ["a", "zz"], "bound_ms": 5}, "not in the repository"),
                       ({"ladder": [], "bound_ms": 5}, "at least one model"),
                       ({"ladder": ["a"], "bound_ms": -1}, "latency bound"),
                       ({"ladder": ["a"]}, "exactly")]:
        path = config.write(tmp_path / "c.json", {"s": {"dispatch": bad}}, models)
        with pytest.raises(ValueError, match=match):
            config.load(path)


@pytest.mark.timeout(120)
def test_two_clients_two_variants_over_loopback(tmp_path):
    """End to end: a server with the dispatcher and two variants; two closed-loop clients
    with resolution control; every answer names a ladder variant."""
    models = _variant_files(tmp_path)
    path = config.write(tmp_path / "deploy.json", {"edge": {
        "platform": "edge-core", "load": ["big", "small"],
        "dispatch": {"ladder": ["big", "small"], "bound_ms": 1e-3}}}, models)
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)

    async def one_client(address):
        ctl = serving.ResolutionController((32, 16), upper_ms=1e-2, lower_ms=5e-3, hold_off=1,
                                           bound_ms=1e-3)
        served = []
        async with client.AsyncClient(address) as c:
            for i in range(6):
                r = ctl.resolution
                x = mb.resize(torch.from_numpy(images[i % 4:i % 4 + 1]), r).numpy()
                reply = await c.infer("big", x, timeout_s=30.0)
                assert reply.output.shape == (1, 10)
                served.append(reply.served_by)
                ctl.observe(reply.total_ms, r)
        return served, ctl

    with processes.ServerProcess(path, "edge") as server:
        async def both():
            return await asyncio.gather(one_client(server.address), one_client(server.address))
        results = asyncio.run(both())
    for served, ctl in results:
        assert set(served) == {"small"}  # T = 1 µs: no estimate is below it, the last queue
        assert ctl.resolution == 16  # every latency is above TC_upper: down to R_k


# ------------------------------------------------------------------ simulator
def _sim_job(policy, clients, **kw):
    return {"policy": policy, "ladder": ["big", "small"], "resolutions": [32, 16],
            "bound_ms": 20.0, "clients": clients, "add_every_s": 0.0, "hold_s": 2.0,
            "controller": {"upper_ms": 60.0, "lower_ms": 30.0, "hold_off": 2}, **kw}


def _calibration():
    from edgelib import serving_sim as ss
    service = {("big", 32): np.array([10.0]), ("big", 16): np.array([4.0]),
               ("small", 32): np.array([1.0]), ("small", 16): np.array([0.5])}
    acc = {("big", 32): 0.9, ("big", 16): 0.7, ("small", 32): 0.5, ("small", 16): 0.3}
    return ss.Calibration(service, acc, {32: 3100, 16: 800}, rpc_ms=np.array([0.5]))


def test_simulated_dispatcher_moves_down_the_ladder_under_load(monkeypatch):
    from edgelib import serving_sim as ss
    calls = []
    real = serving.dispatch
    monkeypatch.setattr(serving, "dispatch", lambda e, b: calls.append(1) or real(e, b))
    alone = ss.simulate(_sim_job("server", 1), _calibration())
    assert set(alone.served_by) == {"big"} and alone.latency_ms.max() == pytest.approx(10.5)
    assert len(calls) == len(alone)  # the simulator calls the dispatcher for every request
    crowd = ss.simulate(_sim_job("server", 30), _calibration())
    assert (crowd.served_by == "small").mean() > 0.8
    fixed = ss.simulate(_sim_job("most-accurate", 30), _calibration())
    assert set(fixed.served_by) == {"big"}
    assert fixed.latency_ms.median() > 5 * crowd.latency_ms.median()
    assert crowd.correct.mean() < alone.correct.mean()  # accuracy pays for the load


def test_simulated_clients_lower_their_resolution_when_slow():
    from edgelib import serving_sim as ss
    df = ss.simulate(_sim_job("client", 30), _calibration())
    late = df[df.sent_s > 1.0]
    assert (late.resolution == 16).mean() > 0.9  # 30 × 10 ms > TC_upper at R_1
    assert (df[df.sent_s < 0.01].resolution == 32).all()


def test_open_loop_arrivals_are_seeded_and_follow_the_rate():
    from edgelib.serving_run import arrivals
    a = arrivals(100.0, 10.0, 4.0, 4.0, 6.0, seed=1)
    assert np.array_equal(a, arrivals(100.0, 10.0, 4.0, 4.0, 6.0, seed=1))
    inside = ((a >= 4.0) & (a < 6.0)).sum()
    assert 600 < inside < 1000 and 650 < len(a) - inside < 950  # 800 and 800 expected
    with pytest.raises(ValueError):
        arrivals(0.0, 1.0, 1.0, 0.0, 0.0, seed=0)
