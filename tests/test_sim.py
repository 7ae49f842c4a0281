"""The simulator on hand-made workloads (exact arithmetic), and against the real system."""

import numpy as np
import pytest

from edgelib import recall
from edgelib.system import policies, sim

TH = recall.Thresholds(t_l_max=0.7, t_l_min=0.2, p_max=2, t_h=None)


def _work(probs, head=10.0, tail=5.0, fm_bytes=12_500):
    n = len(probs)
    return sim.Workload(probs=np.array(probs, float), labels=np.array([[0] * n, [5] * n]),
                        confidence=np.array([[0.9] * n, [0.8] * n]),
                        head_ms=np.full(n, head), tail_ms=np.full(n, tail),
                        fm_bytes=fm_bytes, small_bytes=0)


CAL = sim.Calibration({"encoder": np.array([3.0]), "tail": np.array([4.0])}, rpc_ms=0.5,
                      forward_ms=1.0)
PLACE = policies.Placement({0: [0], 1: [1]})


def _system(bps=None, overlap=True, **kw):
    return sim.System(2, PLACE, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], TH, bps, overlap=overlap,
                      **kw)


def test_one_local_query_adds_up():
    r = _system().run(_work([[0.9, 0.1]]), CAL, [{"local": 0, "inputs": [0]}])
    assert r[0].total_ms == pytest.approx(10 + 5 + 0.5 + 3)  # head, tail, rpc, service
    assert (r[0].label, r[0].queried, r[0].servers) == (0, (0,), (0,))


def test_forwarded_query_pays_forwarding():
    r = _system().run(_work([[0.9, 0.1]]), CAL, [{"local": 1, "inputs": [0]}])
    assert r[0].total_ms == pytest.approx(10 + 5 + 0.5 + 1.0 + 3)
    assert r[0].servers == (0,)


def test_upload_overlaps_the_tail_only_when_asked():
    work = _work([[0.9, 0.1]])  # 12 500 B at 10 Mbit/s = 10 ms of upload
    on = _system(10e6).run(work, CAL, [{"local": 0, "inputs": [0]}])[0].total_ms
    off = _system(10e6, overlap=False).run(work, CAL, [{"local": 0, "inputs": [0]}])[0].total_ms
    assert on == pytest.approx(10 + 10 + 0.5 + 3)  # the 5 ms tail hidden under the upload
    assert off == pytest.approx(10 + 5 + 10 + 0.5 + 3)


def test_recall_queries_in_parallel_and_keeps_the_most_confident():
    r = _system().run(_work([[0.5, 0.5]]), CAL, [{"local": 0, "inputs": [0]}])[0]
    assert r.queried == (0, 1) and r.label == 0  # 0.9 beats 0.8
    assert r.total_ms == pytest.approx(10 + 5 + 0.5 + max(3, 1.0 + 3))


def test_queueing_on_one_executor():
    r = _system().run(_work([[0.9, 0.1]] * 2), CAL, [{"local": 0, "inputs": [0]},
                                                     {"local": 0, "inputs": [1]}])
    assert sorted(x.total_ms for x in r) == pytest.approx([18.5, 21.5])  # the second waits 3 ms


def test_partitioned_offloads_to_the_shortest_wait():
    work = _work([[0.9, 0.1]] * 3)
    work.head_ms = np.array([10.0, 11.0, 12.0])
    r = _system().run(work, CAL, [{"local": 0, "inputs": [i]} for i in range(3)],
                      architecture="partitioned")
    # t=10: both idle, the local 0; t=11: 0 has 3.5 ms left -> 1; t=12: 0 (2.5) beats 1 (3.5)
    assert [x.servers[0] for x in sorted(r, key=lambda x: x.index)] == [0, 1, 0]
    assert [x.total_ms for x in sorted(r, key=lambda x: x.index)] == pytest.approx(
        [14.5, 15.5, 12 + 0.5 + 2.0 + 4])  # the third waits 2 ms for server 0
    # asked at the same instant, every device sees the same waits and picks the same server
    same = _system().run(_work([[0.9, 0.1]] * 3), CAL,
                         [{"local": 0, "inputs": [i]} for i in range(3)], "partitioned")
    assert {x.servers[0] for x in same} == {0}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="architecture"):
        _system().run(_work([[0.9, 0.1]]), CAL, [{"local": 0, "inputs": [0]}], "split")
    with pytest.raises(ValueError, match="topology"):
        _system(topology="mesh").run(_work([[0.9, 0.1]]), CAL, [{"local": 0, "inputs": [0]}])
