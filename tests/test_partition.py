"""Edgent's search against brute force; baselines; bad input."""

import numpy as np
import pytest

from edgelib import partition
from edgelib.partition import ExitCosts, PartitionSearch


def random_exits(rng, feasible_sizes=(9, 12, 20)):
    accs = rng.permutation(np.linspace(0.7, 0.85, len(feasible_sizes)))
    return [ExitCosts(accuracy=float(a), edge_ms=rng.uniform(0, 2, n), device_ms=rng.uniform(0, 20, n),
                      out_bytes=rng.uniform(10, 3e5, n), input_bytes=12288.0)
            for a, n in zip(accs, feasible_sizes)]


@pytest.mark.parametrize("orientation", partition.ORIENTATIONS)
@pytest.mark.parametrize("rtt", [0.0, 5.0])
def test_search_equals_brute_force_on_random_instances(orientation, rtt):
    rng = np.random.default_rng(0)
    infeasible = 0
    for _ in range(150):
        exits = random_exits(rng)
        search = PartitionSearch(exits, orientation, rtt_ms=rtt)
        bandwidth = float(rng.choice([0.0, rng.uniform(1e4, 2e7)]))
        requirement = float(rng.uniform(1, 400))
        got = search.decide(bandwidth, requirement)
        want = partition.brute_force(exits, bandwidth, requirement, orientation, rtt)
        if want is None:
            infeasible += 1
            assert got is None
        else:
            assert (got.exit, got.accuracy) == (want.exit, want.accuracy)
            assert got.latency_ms == pytest.approx(want.latency_ms)
    assert 0 < infeasible < 150  # both cases exercised


def test_formula_by_hand_edge_first_and_device_first():
    e = ExitCosts(0.8, edge_ms=np.array([1.0, 2.0]), device_ms=np.array([10.0, 20.0]),
                  out_bytes=np.array([1000.0, 10.0]), input_bytes=500.0)
    B = 1e5  # bytes/s: 1000 bytes = 10 ms
    edge_first = PartitionSearch([e], "edge-first").latencies(B)[0]
    # p=0: device only 30; p=1: ES0 + ED1 + (500 + 1000)/B = 1 + 20 + 15; p=2: 3 + (500+10)/B
    assert edge_first.tolist() == pytest.approx([30.0, 36.0, 3.0 + 5.1])
    device_first = PartitionSearch([e], "device-first").latencies(B)[0]
    # p=0: 500/B + 3 = 8; p=1: 10 + 1000/B + 2 = 22; p=2: 30
    assert device_first.tolist() == pytest.approx([8.0, 22.0, 30.0])


def test_no_exit_meets_the_requirement_gives_none_and_baselines_still_answer():
    rng = np.random.default_rng(1)
    exits = random_exits(rng)
    search = PartitionSearch(exits)
    assert search.decide(1e6, 1e-6) is None
    best = max(exits, key=lambda e: e.accuracy)
    assert search.device_only(1e6).latency_ms == pytest.approx(best.device_ms.sum())
    assert search.neurosurgeon(1e6).latency_ms <= search.device_only(1e6).latency_ms
    assert search.neurosurgeon(1e6).latency_ms <= search.edge_only(1e6).latency_ms


def test_zero_bandwidth_keeps_everything_on_the_device():
    exits = random_exits(np.random.default_rng(2))
    d = PartitionSearch(exits).decide(0.0, 1e9)
    assert d.point == 0 and np.isfinite(d.latency_ms)


def test_bad_input_is_a_clear_error():
    exits = random_exits(np.random.default_rng(3))
    search = PartitionSearch(exits)
    with pytest.raises(ValueError, match="non-negative number"):
        search.decide(-1.0, 10)
    with pytest.raises(ValueError, match="requirement must be positive"):
        search.decide(1e6, 0)
    with pytest.raises(ValueError, match="orientation"):
        PartitionSearch(exits, "cloud-first")
    with pytest.raises(ValueError, match="one value per layer"):
        ExitCosts(0.5, np.ones(3), np.ones(2), np.ones(3), 1.0)
