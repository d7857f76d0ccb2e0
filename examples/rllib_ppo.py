"""RLlib PPO with a recurrent (LSTM) policy on recsim_envs ids.

The preference-shift paper (Carroll et al. 2022) compares a *myopic* recommender (γ = 0) with a long-term-value
one (γ = 0.99), both recurrent over the episode's history. This trains both with RLlib's PPO on
``PreferenceShiftOracle-v0`` and one on ``HarmMitigation-v0`` (γ = 0.99), and compares each with a uniformly random
recommender on the same env (mean episode return over ``--eval-episodes`` episodes).

Needs the ``rllib`` extra (``pip install torch==2.13.0 && pip install -e ".[rllib]"``; ray[rllib] 2.60 pins
gymnasium 1.2.2, so use a separate virtualenv from the ``dev`` one)::

    python examples/rllib_ppo.py --iterations 20            # all three runs
    python examples/rllib_ppo.py --runs harm --iterations 5
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from recsim_envs.rllib import register_rllib_envs

RUNS = {
    "myopic": ("recsim_envs/PreferenceShiftOracle-v0", 0.0),
    "ltv": ("recsim_envs/PreferenceShiftOracle-v0", 0.99),
    "harm": ("recsim_envs/HarmMitigation-v0", 0.99),
}


def random_return(env_id: str, episodes: int, seed: int = 0) -> float:
    """Mean episode return of a uniformly random policy (independent of RLlib)."""
    env = gym.make(env_id, disable_env_checker=True)
    env.action_space.seed(seed)
    total = 0.0
    for i in range(episodes):
        env.reset(seed=seed + i)
        done = False
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            total += float(r)
            done = term or trunc
    return total / episodes


def ppo_config(env_id: str, gamma: float, seed: int = 0, batch: int = 1000, lstm_cells: int = 64):
    """PPO (new API stack) with an LSTM policy, one local env runner, CPU only."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    horizon = gym.make(env_id, disable_env_checker=True).unwrapped.config.horizon
    return (
        PPOConfig()
        .environment(env_id)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1, rollout_fragment_length="auto")
        .learners(num_learners=0)
        .training(
            gamma=gamma,
            lambda_=0.95,
            lr=1e-3,
            train_batch_size_per_learner=batch,
            minibatch_size=min(250, batch),
            num_epochs=5,
            entropy_coeff=0.0,
        )
        .rl_module(model_config=DefaultModelConfig(use_lstm=True, lstm_cell_size=lstm_cells, max_seq_len=horizon))
        .evaluation(evaluation_interval=None, evaluation_num_env_runners=0)
        .debugging(seed=seed)
    )


def train(env_id: str, gamma: float, iterations: int, eval_episodes: int = 100, seed: int = 0, batch: int = 1000):
    """Train PPO ``iterations`` iterations; return the per-iteration training return and the final evaluation."""
    register_rllib_envs([env_id])
    config = ppo_config(env_id, gamma, seed=seed, batch=batch)
    config.evaluation(evaluation_duration=eval_episodes, evaluation_duration_unit="episodes")
    algo = config.build_algo()
    try:
        history = []
        start = time.perf_counter()
        for _ in range(iterations):
            res = algo.train()
            history.append(float(res["env_runners"].get("episode_return_mean", np.nan)))
        train_seconds = time.perf_counter() - start
        ev = algo.evaluate()["env_runners"]
        return {
            "env_id": env_id,
            "gamma": gamma,
            "iterations": iterations,
            "train_return_per_iteration": history,
            "eval_return_mean": float(ev["episode_return_mean"]),
            "eval_episodes": int(ev.get("num_episodes", eval_episodes)),
            "eval_len_mean": float(ev["episode_len_mean"]),
            "train_seconds": round(train_seconds, 1),
        }
    finally:
        algo.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--batch", type=int, default=1000, help="env steps per training iteration")
    p.add_argument("--eval-episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for name in args.runs:
            env_id, gamma = RUNS[name]
            res = train(env_id, gamma, args.iterations, args.eval_episodes, args.seed, args.batch)
            res["random_return_mean"] = random_return(env_id, args.eval_episodes, seed=10**6)
            print(json.dumps({"run": name, **res}), flush=True)
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
