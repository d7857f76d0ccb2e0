"""The one rollout engine: run a policy on a registered id for N first episodes, with a per-step metrics hook.

Every evaluation path (``agents.evaluation``, the coop rollouts of ``agents.coop_rl``, the benchmark scripts and
the long-run Monte-Carlo checks) is this loop plus a hook that accumulates what it needs.

Two ways to run the episodes, with the same seeding rule (episode ``i`` is the user seeded ``seed + i``):

- ``mode="vector"``: the id's native vector env, ``chunk`` users at a time (env ``i`` of a chunk starting at
  ``start`` is seeded ``seed + start + i``); the policy receives stacked observations. Each user's first episode
  is recorded; what the vector env does after that user finished (autoreset) is ignored.
- ``mode="single"``: one ``gymnasium.make`` env, episodes one after the other, reset with ``seed + i``.

A policy with ``bind(env)`` is bound to each env the engine creates before its reset.
``policy.reset(policy_seed + start)`` is called (when the policy has ``reset``) at the start of each chunk (each
episode in single mode); ``policy_seed=None`` leaves the policy's own generator alone.

The hook is called once per step with a :class:`Step`: the observation and info the policy acted on, the action,
the reward, ``step_info`` (this step's info; for users that finished at this step, the values of their last
step, read from ``final_info`` before the autoreset replaced them), ``done`` and ``active`` (users still in their
first episode when the step was taken). In single mode arrays have one row and ``obs`` / ``info`` /
``step_info`` are the single env's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401  (registers the ids, so callers need not import it first)
from baselines.protocol import reset_policy

MODES = ("vector", "single")


@dataclass(frozen=True)
class Step:
    """One step of a rollout (see the module docstring); ``rows`` are the users' global indices ``0 .. N-1``."""

    t: int
    rows: np.ndarray
    obs: Any
    info: dict[str, Any]
    action: Any
    reward: np.ndarray
    step_info: dict[str, Any]
    done: np.ndarray
    active: np.ndarray


Hook = Callable[[Step], None]


@dataclass(frozen=True)
class Rollout:
    """Per-user results: ``returns`` (the reward summed over the first episode; ``[N, k]`` for vector rewards),
    ``lengths`` (steps of the first episode; in ``steps`` mode, the steps taken)."""

    returns: np.ndarray
    lengths: np.ndarray


def check_pos_int(name: str, value: Any) -> int:
    """``value`` as an int ≥ 1, else ``ValueError`` naming ``name`` and the range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer in [1, inf), got {value!r}")
    return int(value)


def final_step_info(info: dict[str, Any], done: np.ndarray) -> dict[str, Any]:
    """This step's info as it was before the autoreset: ``final_info`` (a copy of the whole step's info that the
    native vector envs write when a user finishes) over ``info``."""
    if done.any() and "final_info" in info:
        return {**info, **{k: v for k, v in info["final_info"].items() if not k.startswith("_")}}
    return info


_UNSET: Any = object()


def rollout(
    policy: Any,
    env_id: str | gym.Env | gym.vector.VectorEnv,
    n_episodes: int,
    seed: int = 0,
    *,
    env_kwargs: dict[str, Any] | None = None,
    hook: Hook | None = None,
    mode: str = "vector",
    chunk: int | None = 1000,
    max_steps: int = 100_000,
    steps: int | None = None,
    policy_seed: int | None = _UNSET,
) -> Rollout:
    """Run ``policy`` on users ``seed .. seed + n_episodes - 1`` of ``env_id`` (see the module docstring).

    Episodes end when every user of a chunk finished its first one (``RuntimeError`` if that takes more than
    ``max_steps`` steps); ``steps=T`` instead takes exactly ``T`` steps (long-run averages on ids whose episodes
    do not end). ``chunk=None`` runs all users in one vector env. ``policy_seed`` defaults to ``seed``.
    ``env_id`` may also be an env the caller built (a native vector env with ``num_envs == n_episodes``, or a
    single env): it is used as is and left open.
    """
    if not isinstance(env_id, str):
        return _rollout_given(policy, env_id, n_episodes, seed, hook, max_steps, steps, policy_seed)
    n_total = check_pos_int("n_episodes", n_episodes)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    max_steps = check_pos_int("max_steps", max_steps)
    if steps is not None:
        steps = check_pos_int("steps", steps)
        if mode != "vector":
            raise ValueError(f"steps is only for mode='vector' (long runs of a vector env), got mode={mode!r}")
    size = n_total if chunk is None else check_pos_int("chunk", chunk)
    if mode == "single":
        size = 1
    p_seed = int(seed) if policy_seed is _UNSET else policy_seed
    kwargs = dict(env_kwargs or {})
    returns: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    env = gym.make(env_id, **kwargs) if mode == "single" else None
    try:
        for start in range(0, n_total, size):
            n = min(size, n_total - start)
            if env is None:
                venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
                try:
                    ret, length = _run(venv, policy, n, start, int(seed), p_seed, hook, max_steps, steps, env_id, True)
                finally:
                    venv.close()
            else:
                ret, length = _run(env, policy, 1, start, int(seed), p_seed, hook, max_steps, steps, env_id, False)
            returns.append(ret)
            lengths.append(length)
    finally:
        if env is not None:
            env.close()
    return Rollout(np.concatenate(returns), np.concatenate(lengths))


def _rollout_given(
    policy: Any,
    env: Any,
    n_episodes: int,
    seed: int,
    hook: Hook | None,
    max_steps: int,
    steps: int | None,
    policy_seed: int | None,
) -> Rollout:
    """:func:`rollout` on an env built by the caller."""
    n = check_pos_int("n_episodes", n_episodes)
    max_steps = check_pos_int("max_steps", max_steps)
    batched = isinstance(env, gym.vector.VectorEnv)
    if steps is not None:
        steps = check_pos_int("steps", steps)
        if not batched:
            raise ValueError("steps is only for a vector env (long runs), got a single env")
    if (env.num_envs if batched else 1) != n:
        raise ValueError(f"n_episodes must equal the given env's num_envs ({env.num_envs if batched else 1}), got {n}")
    p_seed = int(seed) if policy_seed is _UNSET else policy_seed
    name = getattr(getattr(env, "spec", None), "id", type(env).__name__)
    ret, length = _run(env, policy, n, 0, int(seed), p_seed, hook, max_steps, steps, str(name), batched)
    return Rollout(ret, length)


def _run(
    env: Any,
    policy: Any,
    n: int,
    start: int,
    seed: int,
    policy_seed: int | None,
    hook: Hook | None,
    max_steps: int,
    steps: int | None,
    env_id: str,
    batched: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk: ``n`` users from ``start`` in a vector env (``batched``) or one user in a single env."""
    bind = getattr(policy, "bind", None)
    if callable(bind):  # policies that read the env's state (baselines.coop.RulePolicy: the kernel's rules)
        bind(env)
    obs, info = env.reset(seed=seed + start)
    reset_policy(policy, None if policy_seed is None else int(policy_seed) + start)
    rows = np.arange(start, start + n)
    returns: np.ndarray | None = None
    length = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    budget = steps if steps is not None else max_steps
    episode_started = getattr(policy, "episode_started", None)
    for t in range(budget):
        action = policy.act(obs, info)
        if batched:
            action = np.asarray(action)
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        done = np.logical_or(terminated, truncated).reshape(n)
        r = np.asarray(reward, dtype=float).reshape(n, -1)
        step_info = final_step_info(next_info, done) if batched else next_info
        if hook is not None:
            hook(Step(t, rows, obs, info, action, r if r.shape[1] > 1 else r[:, 0], step_info, done, active.copy()))
        if returns is None:
            returns = np.zeros_like(r)
        returns += np.where(active[:, None], r, 0.0)
        length += active
        if steps is None:
            active &= ~done
        if batched and callable(episode_started):
            episode_started(done)
        obs, info = next_obs, next_info
        if steps is None and not active.any():
            break
    else:
        if steps is None:
            raise RuntimeError(f"{env_id}: episodes did not end within max_steps={max_steps}")
    assert returns is not None
    return (returns if returns.shape[1] > 1 else returns[:, 0]), length


__all__ = ["MODES", "Hook", "Rollout", "Step", "check_pos_int", "final_step_info", "rollout"]
