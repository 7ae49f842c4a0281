"""The two-level system's policies: Alg. 1 (model load), Alg. 2's waves and answers, shortest wait."""

import numpy as np
import pytest

from edgelib import recall
from edgelib.system import policies


def test_alg1_on_a_hand_made_instance():
    # 3 clusters, 4 encoders; every server has room for 2 under M > m (M = 2.5 m)
    shares = [[0.7, 0.1, 0.1, 0.1],   # cluster 0: mostly encoder 0
              [0.1, 0.6, 0.2, 0.1],   # cluster 1: encoder 1
              [0.2, 0.3, 0.4, 0.5]]   # cluster 2: encoders 2 and 3
    p = policies.model_load(shares, [2.5, 2.5, 2.5], 1.0)
    # pass 1: each encoder to its argmax cluster; then cluster 2 is at 0.5 m (≤ m): loop ends
    assert p.servers == {0: [0], 1: [1], 2: [2, 3]} and p.unplaced == []
    assert p.memory_left == [1.5, 1.5, 0.5]


def test_alg1_full_server_passes_the_encoder_to_its_next_cluster():
    shares = [[0.9, 0.8], [0.1, 0.2]]
    p = policies.model_load(shares, [2.0, 3.0], 1.0)  # cluster 0 holds one encoder only
    assert p.servers[0] == [0] and 1 in p.servers[1]


@pytest.mark.parametrize("seed", range(20))
def test_alg1_random_instances_respect_memory_and_place_everything_when_capacity_allows(seed):
    rng = np.random.default_rng(seed)
    clusters, encoders = rng.integers(1, 5), rng.integers(1, 8)
    shares = rng.dirichlet(np.ones(encoders), size=clusters)
    memory = rng.uniform(1.01, 6.0, clusters)
    room = policies.capacity(memory, 1.0)
    if room < encoders:
        with pytest.raises(ValueError, match="limitation"):
            policies.model_load(shares, memory, 1.0)
        p = policies.model_load(shares, memory, 1.0, on_short="skip")
        assert p.unplaced
    else:
        p = policies.model_load(shares, memory, 1.0)
        assert p.unplaced == []
    for c, encs in p.servers.items():
        assert len(encs) <= int(np.ceil(memory[c])) - 1  # the strict test M > m
        assert len(set(encs)) == len(encs)  # never two copies on one server
        assert p.memory_left[c] >= 0


def test_alg1_limitations_are_stated():
    with pytest.raises(ValueError, match="never runs"):
        policies.model_load([[1.0, 0.0]], [0.5], 1.0)
    with pytest.raises(ValueError, match="fewer than the 3"):
        policies.model_load([[0.5, 0.3, 0.2]], [2.5], 1.0)
    with pytest.raises(ValueError, match="clusters × encoders"):
        policies.model_load([[0.5, 0.5]], [2.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        policies.model_load([[np.nan, 0.5]], [2.0], 1.0)


def test_routing_prefers_the_local_holder_then_the_shortest_wait():
    p = policies.Placement({0: [0], 1: [1], 2: [1, 2]})
    assert policies.server_for(0, 0, p, {0: 9.0, 1: 0.0, 2: 0.0}) == 0
    assert policies.server_for(1, 0, p, {0: 0.0, 1: 5.0, 2: 2.0}) == 2
    assert policies.server_for(1, 2, p, {0: 0.0, 1: 0.0, 2: 9.0}) == 2  # local holds it
    assert policies.shortest_wait({0: 1.0, 1: 1.0, 2: 3.0}) == 0  # ties: the first
    with pytest.raises(ValueError, match="no server holds"):
        policies.server_for(3, 0, p, {0: 0.0})


@pytest.mark.parametrize("t_h", [None, 0.6, 0.9])
def test_parallel_waves_give_decides_answer_and_the_paper_rule_takes_the_most_confident(t_h):
    rng = np.random.default_rng(1)
    th = recall.Thresholds(t_l_max=0.8, t_l_min=0.15, p_max=3, t_h=t_h)
    for _ in range(300):
        probs = rng.dirichlet(np.ones(5) * 0.7)
        answers = {s: (int(rng.integers(100)), float(rng.uniform())) for s in range(5)}
        want = recall.decide(probs, lambda s: answers[s], th)
        _, confident = recall.plan(probs, th)
        results = []
        for wave in recall.waves(probs, th, "first-stop"):
            results += [(s, *answers[s]) for s in wave]  # one wave, sent in parallel
            if th.t_h is not None and any(r[2] >= th.t_h for r in results):
                break
        got = recall.choose(results, th, confident, "first-stop")
        assert (got.label, got.superclass, got.queried, got.recalled) == \
            (want.label, want.superclass, want.queried, want.recalled)
        paper = recall.waves(probs, th, "paper")
        assert len(paper) == 1 and len(paper[0]) <= th.p_max
        results = [(s, *answers[s]) for s in paper[0]]
        best = recall.choose(results, th, confident, "paper")
        assert best.confidence == max(r[2] for r in results)
    with pytest.raises(ValueError, match="rule must be"):
        recall.waves([0.5, 0.5], th, "fastest")
