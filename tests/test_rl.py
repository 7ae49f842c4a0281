"""The co-inference environment, its reward, the oracle and short seeded agent training."""

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from edgelib import agents, rl
from edgelib.coinference import Instance


def tiny_instance(layers=(2, 3), bits=(4, 8), exit_accuracy=(0.7, 0.8)) -> Instance:
    rng = np.random.default_rng(0)
    k = len(bits)
    return Instance(
        device_ms=[rng.uniform(2, 10, n) for n in layers],
        edge_ms=[rng.uniform(0.1, 1, n) for n in layers],
        input_bits=[np.full(n, 8e4) for n in layers],
        fp32_bytes=[rng.uniform(1e3, 5e4, n) for n in layers],
        upload_bytes=[np.vstack([np.zeros(k), rng.uniform(1e2, 5e3, (n - 1, k)), np.zeros(k)])
                      for n in layers],
        accuracy=[np.vstack([np.zeros(k), rng.uniform(0.6, 0.8, (n - 1, k)), np.zeros(k)])
                  for n in layers],
        exit_accuracy=np.array(exit_accuracy), bits=bits)


@pytest.fixture(scope="module")
def setup():
    inst = tiny_instance()
    params = rl.reward_params(inst)
    traces = rl.random_walk_traces(4, 30, seed=0)
    return inst, params, traces


def test_environment_passes_gymnasiums_checker(setup):
    inst, params, traces = setup
    env = rl.CoInferenceEnv(inst, params, traces)
    check_env(env, skip_render_check=True)
    assert env.action_space.n == (3 + 4) * 2  # points 0…N per exit × bits


def test_reward_by_hand_including_the_energy_cut_off():
    p = rl.RewardParams(bandwidth_max=10e6, energy_budget_j=0.5, latency_min_ms=2.0,
                        latency_max_ms=20.0, accuracy_min=0.5, accuracy_max=0.8, s=1e6)
    a = math.log(1 + 4e6 / 1e6) / math.log(1 + 10e6 / 1e6)
    acc, speed = (0.6 - 0.5) / 0.3, (1 / 8 - 1 / 20) / (1 / 2 - 1 / 20)
    assert p.reward(8.0, 0.1, 0.6, 4e6) == pytest.approx(a * acc + (1 - a) * speed)
    assert p.reward(40.0, 0.1, 0.9, 10e6) == pytest.approx(1.0)  # both terms clipped to [0, 1]
    assert p.reward(8.0, 0.6, 0.6, 4e6) == 0.0  # over the energy budget (eq. 14)
    assert p.weights(0.0) == (0.0, 1.0) and p.weights(10e6)[0] == pytest.approx(1.0)
    assert p.reward(float("inf"), 0.1, 0.6, 0.0) == 0.0


def test_instance_evaluate_by_hand(setup):
    inst = setup[0]
    t, e, acc = inst.evaluate(2, 1, 8, 1e6)
    want = inst.device_ms[1][:1].sum() + 1e3 * inst.upload_bytes[1][1, 1] / 1e6 + inst.edge_ms[1][1:].sum()
    assert t == pytest.approx(want) and acc == inst.accuracy[1][1, 1] and e > 0
    t_dev, _, acc_dev = inst.evaluate(2, 3, None, 0.0)  # all on the device needs no network
    assert t_dev == pytest.approx(inst.device_ms[1].sum()) and acc_dev == 0.8
    assert inst.evaluate(2, 1, 8, 0.0)[0] == float("inf")


def test_oracle_equals_brute_force(setup):
    inst, params, _ = setup
    oracle = rl.Oracle(inst, params)
    for b in (0.0, 3e5, 2e6, 9e6):
        best = max(params.reward(*inst.evaluate(e, p, c, b), b) for e, p, c in inst.actions)
        assert oracle.rewards(b)[oracle.act(b)] == pytest.approx(best)


def test_bad_input_is_a_clear_error(setup):
    inst, params, traces = setup
    env = rl.CoInferenceEnv(inst, params, traces)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside"):
        env.step(env.action_space.n)
    with pytest.raises(ValueError, match="non-negative"):
        rl.CoInferenceEnv(inst, params, [[1e6, -5.0]])
    with pytest.raises(ValueError, match="bandwidth must be non-negative"):
        inst.evaluate(1, 0, 4, -1.0)
    with pytest.raises(ValueError, match="partition point 9 outside"):
        inst.evaluate(1, 9, 4, 1e6)


@pytest.mark.parametrize("kind", agents.AGENTS)
def test_short_seeded_training_beats_random(setup, kind):
    inst, params, traces = setup
    held_out = rl.random_walk_traces(2, 40, seed=99)
    knobs = agents.AgentKnobs(hidden=(32, 32, 32, 32), epochs=2, steps_per_epoch=300,
                              start_steps=200, buffer=5000)
    algorithm = agents.train_agent(kind, lambda: rl.CoInferenceEnv(inst, params, traces), knobs,
                                   seed=0)
    env = rl.CoInferenceEnv(inst, params, held_out)
    rng = np.random.default_rng(0)
    trained = np.mean([rl.greedy_rollout(env, agents.greedy_actor(algorithm), i)["reward"]
                       for i in range(2)])
    rand = np.mean([rl.greedy_rollout(env, lambda o, b: int(rng.integers(env.action_space.n)), i)
                    ["reward"] for i in range(2)])
    oracle = rl.Oracle(inst, params)
    best = np.mean([rl.greedy_rollout(env, lambda o, b: oracle.act(b), i)["reward"] for i in range(2)])
    assert trained > rand + 0.5 * (best - rand), (trained, rand, best)
