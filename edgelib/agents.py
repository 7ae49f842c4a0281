"""Discrete Soft Actor-Critic (SAC-d) and DQN on the co-inference environment, from tianshou.

SAC-d's settings: five-layer fully connected networks (four hidden layers + output), discount
γ = 0.99, learning rate 1e-3. Training is seeded; ``on_epoch`` is called after every epoch with
the greedy policy so that learning curves are measured on held-out traces.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tianshou.algorithm import DQN, DiscreteSAC
from tianshou.algorithm.modelfree.discrete_sac import DiscreteSACPolicy
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.modelfree.sac import AutoAlpha
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.data import Batch, Collector, CollectStats, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.trainer import OffPolicyTrainerParams
from tianshou.utils.net.common import Net
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

AGENTS = ("sac-d", "dqn")
TARGET_ENTROPY_SHARE = 0.3  # of ln |A|: keeps discrete SAC exploring


@dataclass(frozen=True)
class AgentKnobs:
    hidden: tuple[int, ...] = (128, 128, 128, 128)  # + the output layer = five layers
    gamma: float = 0.99
    lr: float = 1e-3
    epochs: int = 10
    steps_per_epoch: int = 2000
    batch_size: int = 64
    buffer: int = 20000
    updates_per_step: float = 0.5
    start_steps: int = 500  # random actions first, to fill the replay buffer
    alpha: float | None = None  # SAC's entropy weight; None = tuned automatically (AutoAlpha)


def _build(kind: str, env, knobs: AgentKnobs):
    obs_dim = env.observation_space.shape[0]
    n_actions = int(env.action_space.n)
    if kind == "sac-d":
        actor = DiscreteActor(preprocess_net=Net(state_shape=obs_dim, hidden_sizes=knobs.hidden[:-1]),
                              action_shape=n_actions, hidden_sizes=knobs.hidden[-1:],
                              softmax_output=False)
        critics = [DiscreteCritic(preprocess_net=Net(state_shape=obs_dim,
                                                     hidden_sizes=knobs.hidden[:-1]),
                                  hidden_sizes=knobs.hidden[-1:], last_size=n_actions)
                   for _ in range(2)]
        alpha = knobs.alpha if knobs.alpha is not None else AutoAlpha(
            target_entropy=TARGET_ENTROPY_SHARE * np.log(n_actions), log_alpha=np.log(0.05),
            optim=AdamOptimizerFactory(lr=knobs.lr))
        policy = DiscreteSACPolicy(actor=actor, action_space=env.action_space)
        return DiscreteSAC(policy=policy, policy_optim=AdamOptimizerFactory(lr=knobs.lr),
                           critic=critics[0], critic_optim=AdamOptimizerFactory(lr=knobs.lr),
                           critic2=critics[1], critic2_optim=AdamOptimizerFactory(lr=knobs.lr),
                           gamma=knobs.gamma, alpha=alpha)
    if kind == "dqn":
        net = Net(state_shape=obs_dim, action_shape=n_actions, hidden_sizes=knobs.hidden)
        policy = DiscreteQLearningPolicy(model=net, action_space=env.action_space,
                                         eps_training=0.1, eps_inference=0.0)
        return DQN(policy=policy, optim=AdamOptimizerFactory(lr=knobs.lr), gamma=knobs.gamma,
                   target_update_freq=200)
    raise ValueError(f"unknown agent {kind!r}; have {', '.join(AGENTS)}")


def greedy_actor(algorithm) -> Callable[[np.ndarray, float], int]:
    """obs → the policy's greedy action (SAC-d: the mode of its distribution; DQN: argmax Q)."""
    policy = algorithm.policy

    def act(obs: np.ndarray, _bandwidth: float) -> int:
        with torch.no_grad():
            out = policy(Batch(obs=np.asarray(obs, np.float32)[None], info=Batch()))
        return int(np.asarray(out.act)[0])

    policy.eval()
    return act


def train_agent(kind: str, make_env: Callable[[], object], knobs: AgentKnobs, seed: int,
                on_epoch: Callable[[int, int, Callable], None] | None = None,
                validate: Callable[[Callable], float] | None = None, progress: bool = False):
    """Train one agent; returns the tianshou algorithm (its ``policy`` acts).

    ``validate(act) -> score`` (on validation traces, never the held-out ones) is called after
    every epoch; the policy of the best-scoring epoch is the one returned (``best_epoch``
    attribute), since discrete SAC can drift away from a good policy as it trains on.

    Runs on one thread: these small networks gain nothing from more, and two threads contend
    badly with anything else on a 2-core machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(kind, make_env, knobs, seed, on_epoch, validate, progress)
    finally:
        torch.set_num_threads(threads)


def _train(kind, make_env, knobs, seed, on_epoch, validate, progress):
    torch.manual_seed(seed)
    np.random.seed(seed)
    train_envs, test_envs = DummyVectorEnv([make_env]), DummyVectorEnv([make_env])
    train_envs.seed(seed)
    test_envs.seed(seed + 10_000)
    algorithm = _build(kind, train_envs.get_env_attr("unwrapped")[0], knobs)
    train_collector = Collector[CollectStats](algorithm, train_envs,
                                              VectorReplayBuffer(knobs.buffer, 1),
                                              exploration_noise=True)
    train_collector.reset()
    train_collector.collect(n_step=knobs.start_steps, random=True)
    test_collector = Collector[CollectStats](algorithm, test_envs)

    best = {"score": -np.inf, "state": None, "epoch": 0}

    def test_fn(epoch: int, env_step: int | None) -> None:
        if epoch == 0:
            return
        act = greedy_actor(algorithm)
        if validate is not None:
            score = validate(act)
            if score > best["score"]:
                best.update(score=score, epoch=epoch,
                            state=copy.deepcopy(algorithm.policy.state_dict()))
        if on_epoch is not None:
            on_epoch(epoch, env_step or 0, act)

    algorithm.run_training(OffPolicyTrainerParams(
        training_collector=train_collector, test_collector=test_collector,
        max_epochs=knobs.epochs, epoch_num_steps=knobs.steps_per_epoch,
        collection_step_num_env_steps=10, test_step_num_episodes=1,
        batch_size=knobs.batch_size, update_step_num_gradient_steps_per_sample=knobs.updates_per_step,
        test_fn=test_fn, test_in_training=False, verbose=False, show_progress=progress))
    if best["state"] is not None:
        algorithm.policy.load_state_dict(best["state"])
    algorithm.best_epoch = best["epoch"] or knobs.epochs
    return algorithm
