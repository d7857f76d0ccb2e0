"""RLlib PPO (recurrent or feed-forward policy) on recsim_envs ids, scored against a uniformly random recommender.

The preference-shift paper (Carroll et al. 2022) compares a *myopic* recommender (γ = 0) with a long-term-value
one (γ = 0.99), both recurrent over the episode's history. This trains both with RLlib's PPO (LSTM policy) on
``PreferenceShiftOracle-v0``, and one on ``HarmMitigation-v0`` (γ = 0.99). Each trained policy is then scored
greedily (argmax action) on ``--eval-episodes`` fresh users, and the leaderboard's uniformly random recommender on
the *same* users (reset seeds from ``EVAL_SEED``, disjoint from the training seeds), both through the project's
rollout engine (``agents.evaluation``); printed as mean ± standard error of the episode return, with the paired
difference.

Speed (``benchmarks/speed_rllib.py``; figures in benchmarks/RESULTS.md, "RLlib"): RLlib's per-step cost
(connectors + one RLModule forward per env step) is several times our envs' step, so the sampler steps ``--envs``
copies of the env per env runner at once (RLlib's gymnasium vector env), ~3x faster per iteration than one env;
and torch runs on one thread (its default of one per core made an iteration ~6x slower on a loaded 2-core
machine). Sampling and learning run in the driver (``num_env_runners=0``, ``num_learners=0``): with 2 cores,
remote env runners only add actor start-up.

Needs the ``rllib`` extra (``pip install torch==2.13.0 && pip install -e ".[rllib]"``; ray[rllib] 2.60 pins
gymnasium 1.2.2, so use a separate virtualenv from the ``dev`` one)::

    python examples/rllib_ppo.py --runs myopic --iterations 20     # one run
    python examples/rllib_ppo.py --iterations 40                   # all three
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

#: reset seeds of the evaluation users start here (RLlib's training envs are seeded from ``--seed``)
EVAL_SEED = 10**6


def _horizon(env_id: str) -> int:
    return int(gym.make(env_id, disable_env_checker=True).unwrapped.config.horizon)


def ppo_config(
    env_id: str,
    gamma: float,
    seed: int = 0,
    batch: int = 1000,
    num_envs: int = 10,
    use_lstm: bool = True,
    lstm_cells: int = 64,
    lr: float = 1e-3,
):
    """PPO (new API stack), CPU only, sampling ``num_envs`` envs at once in the driver's env runner."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    model = (
        DefaultModelConfig(use_lstm=True, lstm_cell_size=lstm_cells, max_seq_len=_horizon(env_id))
        if use_lstm
        else DefaultModelConfig(fcnet_hiddens=[64, 64])
    )
    return (
        PPOConfig()
        .environment(env_id)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=num_envs, rollout_fragment_length="auto")
        .learners(num_learners=0)
        .training(
            gamma=gamma,
            lambda_=0.95,
            lr=lr,
            train_batch_size_per_learner=batch,
            minibatch_size=min(250, batch),
            num_epochs=5,
            entropy_coeff=0.0,
        )
        .rl_module(model_config=model)
        .debugging(seed=seed)
    )


class RLlibPolicy:
    """A trained RLlib RLModule as a batched :class:`baselines.protocol.Policy` acting greedily (argmax logits).

    A recurrent module's state is carried between calls, one row per user; ``reset()`` and
    ``episode_started(mask)`` (the rollout engine's autoreset notice) start those users from the initial state.
    """

    batched = True

    def __init__(self, module) -> None:
        self.module = module
        self._state: dict | None = None

    def reset(self, seed: int | None = None) -> None:
        self._state = None

    def episode_started(self, mask: np.ndarray) -> None:
        if self._state is not None and np.any(mask):
            rows = np.flatnonzero(mask)
            for key, init in self.module.get_initial_state().items():
                self._state[key][rows] = _tensor(init)

    def act(self, obs, info):
        import torch
        from ray.rllib.core.columns import Columns

        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        batch = {Columns.OBS: x}
        if self.module.is_stateful():
            if self._state is None or next(iter(self._state.values())).shape[0] != len(x):
                init = self.module.get_initial_state()
                self._state = {k: _tensor(v).expand(len(x), *np.shape(v)).clone() for k, v in init.items()}
            batch = {Columns.OBS: x[:, None], Columns.STATE_IN: self._state}  # one time step per call
        with torch.no_grad():
            out = self.module.forward_inference(batch)
        logits = out[Columns.ACTION_DIST_INPUTS]
        if self.module.is_stateful():
            self._state = out[Columns.STATE_OUT]
            logits = logits[:, 0]
        return logits.argmax(-1).numpy()


def _tensor(x):
    import torch

    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def policy_returns(module, env_id: str, episodes: int, seed: int = EVAL_SEED) -> np.ndarray:
    """Per-episode returns of a trained module acting greedily, users ``seed .. seed + episodes - 1`` stepped
    together in the id's native vector env (the project's rollout engine, ``agents.evaluation``)."""
    from agents.evaluation import evaluate_batched

    return evaluate_batched(RLlibPolicy(module), env_id, episodes, seed=seed)["return"]


def random_returns(env_id: str, episodes: int, seed: int = EVAL_SEED) -> np.ndarray:
    """Per-episode returns of the leaderboard's uniformly random recommender on the same users as
    :func:`policy_returns` (``seed + i``)."""
    from agents.evaluation import evaluate_single
    from benchmarks.leaderboard import RandomPolicy

    policy = RandomPolicy(gym.make(env_id, disable_env_checker=True), seed=seed)
    return evaluate_single(policy, env_id, episodes, seed=seed)["return"]


def _summary(x: np.ndarray) -> dict:
    return {"mean": float(x.mean()), "se": float(x.std(ddof=1) / np.sqrt(len(x))), "n": len(x)}


def train(
    env_id: str,
    gamma: float,
    iterations: int,
    eval_episodes: int = 100,
    seed: int = 0,
    batch: int = 1000,
    num_envs: int = 10,
    use_lstm: bool = True,
    lr: float = 1e-3,
    torch_threads: int = 1,
) -> dict:
    """Train PPO ``iterations`` iterations; score it and a random recommender on the same ``eval_episodes`` users.

    Sampling and learning run in this process; torch's intra-op thread count is set to ``torch_threads`` for the
    call (and restored after): its default, one thread per core, made an iteration ~6x slower on the loaded
    2-core machine (benchmarks/speed_rllib.py) for networks this small.
    """
    import torch

    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an integer in [1, inf), got {iterations!r}")
    if isinstance(eval_episodes, bool) or not isinstance(eval_episodes, int) or eval_episodes < 2:
        raise ValueError(f"eval_episodes must be an integer in [2, inf) (for a standard error), got {eval_episodes!r}")
    register_rllib_envs([env_id])
    config = ppo_config(env_id, gamma, seed=seed, batch=batch, num_envs=num_envs, use_lstm=use_lstm, lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        algo = config.build_algo()
        try:
            history = []
            steps = 0
            start = time.perf_counter()
            for _ in range(iterations):
                res = algo.train()
                history.append(round(float(res["env_runners"].get("episode_return_mean", np.nan)), 3))
                steps = int(res.get("num_env_steps_sampled_lifetime", steps))
            train_seconds = time.perf_counter() - start
            trained = policy_returns(algo.get_module(), env_id, eval_episodes)
        finally:
            algo.stop()
    finally:
        torch.set_num_threads(threads)
    rand = random_returns(env_id, eval_episodes)
    diff = trained - rand
    return {
        "env_id": env_id,
        "gamma": gamma,
        "lstm": use_lstm,
        "iterations": iterations,
        "env_steps": steps,
        "train_seconds": round(train_seconds, 1),
        "train_return_per_iteration": history,
        "trained": _summary(trained),
        "random": _summary(rand),
        "paired_difference": _summary(diff),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--batch", type=int, default=1000, help="env steps per training iteration")
    p.add_argument("--envs", type=int, default=10, help="envs stepped at once by the env runner")
    p.add_argument("--no-lstm", action="store_true", help="feed-forward policy (64, 64) instead of the LSTM")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for name in args.runs:
            env_id, gamma = RUNS[name]
            res = train(
                env_id,
                gamma,
                args.iterations,
                eval_episodes=args.eval_episodes,
                seed=args.seed,
                batch=args.batch,
                num_envs=args.envs,
                use_lstm=not args.no_lstm,
                lr=args.lr,
            )
            print(json.dumps({"run": name, **res}), flush=True)
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
