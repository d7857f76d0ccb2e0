"""Evaluating any policy on any registered id: per-episode totals of the return and every named metric.

Two paths that give the same numbers for the same seeds (both the rollout engine :mod:`agents.rollout` with the
:class:`MetricTotals` hook):

- :func:`evaluate_batched` runs ``n_episodes`` users at once in the id's native vector env (user ``i`` seeded
  ``seed + i``) and calls the policy on stacked observations — for policies that accept a batch (SB3 models
  through :class:`SB3Policy`, the analytic baselines).
- :func:`evaluate_single` runs ``n_episodes`` single envs one after the other, seeded ``seed + i`` — for any
  object following the :class:`baselines.protocol.Policy` protocol.

Per episode the result holds ``return`` (the scalar reward summed; for vector-reward ids the components), the
episode ``length``, and the sum of every named reward component (``info["rewards"]``) and of every
``expected_*`` entry the env reports (choice-marginalised, low-variance versions of the same metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import recsim_envs  # noqa: F401  (registers the ids, so callers need not import it first)
from agents.rollout import Step, check_pos_int, rollout


def _check_episodes(n_episodes: Any) -> int:
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer in [1, inf), got {n_episodes!r}")
    return int(n_episodes)


def _step_metrics(info: dict[str, Any], reward: Any, n: int) -> dict[str, np.ndarray]:
    """Per-env step metrics from a (batched) info: named reward components and ``expected_*`` entries."""
    out: dict[str, np.ndarray] = {}
    r = np.asarray(reward, dtype=float).reshape(n, -1)
    if r.shape[1] == 1:
        out["return"] = r[:, 0]
    else:
        for j in range(r.shape[1]):
            out[f"return_{j}"] = r[:, j]
    for name, value in (info.get("rewards") or {}).items():
        out[name] = np.asarray(value, dtype=float).reshape(n)
    for key, value in info.items():
        if key.startswith("expected_"):
            arr = np.asarray(value)
            if arr.size == n and np.issubdtype(arr.dtype, np.number):
                out[key] = arr.astype(float).reshape(n)
    return out


class SB3Policy:
    """An SB3 model as a :class:`baselines.protocol.Policy`; recurrent state is carried between calls.

    Works on one observation or a stacked batch. ``reset()`` clears the LSTM state; a reset info (no step
    happened yet) also starts a new episode, so the same object can be reused across episodes.
    """

    batched = True

    def __init__(self, model: Any, deterministic: bool = True) -> None:
        import inspect

        self.model = model
        self.deterministic = deterministic
        self._masked = "action_masks" in inspect.signature(model.predict).parameters
        self._state = None
        self._starts: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        self._state, self._starts = None, None
        if seed is not None:
            self.model.set_random_seed(seed)

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        space = self.model.observation_space
        if isinstance(obs, dict):  # Dict observation spaces (e.g. the coop graph envs)
            single = all(np.asarray(obs[k]).shape == space[k].shape for k in space.spaces)
            batch: Any = {k: np.asarray(v)[None] if single else np.asarray(v) for k, v in obs.items()}
            n = next(iter(batch.values())).shape[0]
        else:
            single = np.asarray(obs).shape == space.shape
            batch = np.asarray(obs)[None] if single else np.asarray(obs)
            n = batch.shape[0]
        if self._starts is None or self._starts.shape[0] != n:
            self._starts = np.ones(n, dtype=bool)
            self._state = None
        kwargs: dict[str, Any] = dict(deterministic=self.deterministic, state=self._state, episode_start=self._starts)
        if self._masked:  # MaskablePPO: never pick an action the env marks invalid
            mask = obs.get("action_mask") if isinstance(obs, dict) else None
            mask = info.get("action_mask") if mask is None else mask
            if mask is not None:
                kwargs["action_masks"] = np.asarray(mask, dtype=bool).reshape(n, -1)
        action, self._state = self.model.predict(batch, **kwargs)
        self._starts = np.zeros(n, dtype=bool)
        return action[0] if single else action

    def episode_started(self, mask: np.ndarray) -> None:
        """Mark envs whose next observation begins a new episode (batched evaluation with autoreset)."""
        if self._starts is not None:
            self._starts = self._starts | np.asarray(mask, dtype=bool)


class MetricTotals:
    """Rollout hook: per user, the sum over its first episode of every :func:`_step_metrics` entry."""

    def __init__(self, n_total: int) -> None:
        self.n_total = n_total
        self.totals: dict[str, np.ndarray] = {}

    def __call__(self, step: Step) -> None:
        for name, value in _step_metrics(step.step_info, step.reward, len(step.rows)).items():
            total = self.totals.setdefault(name, np.zeros(self.n_total))
            total[step.rows] += np.where(step.active, value, 0.0)


def _evaluate(
    policy: Any,
    env_id: str,
    n_episodes: int,
    seed: int,
    env_kwargs: dict[str, Any] | None,
    max_steps: int,
    mode: str,
    chunk: int = 1000,
) -> dict[str, np.ndarray]:
    n_total = _check_episodes(n_episodes)
    hook = MetricTotals(n_total)
    res = rollout(
        policy, env_id, n_total, seed, env_kwargs=env_kwargs, hook=hook, mode=mode, chunk=chunk, max_steps=max_steps
    )
    return {**hook.totals, "length": res.lengths.astype(float)}


def evaluate_batched(
    policy: Any,
    env_id: str,
    n_episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    max_steps: int = 100_000,
    chunk: int = 1000,
) -> dict[str, np.ndarray]:
    """Evaluate a batch-capable policy: one episode per user, users ``seed .. seed + n_episodes - 1``.

    Users are run in chunks of at most ``chunk`` (memory); each user's first episode is recorded and what the
    vector env does after that user finished (autoreset) is ignored. ``policy.reset(seed)`` is called at the
    start of each chunk (:func:`agents.rollout.rollout`, ``mode="vector"``).
    """
    return _evaluate(policy, env_id, n_episodes, seed, env_kwargs, max_steps, "vector", chunk)


def evaluate_single(
    policy: Any,
    env_id: str,
    n_episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    max_steps: int = 100_000,
) -> dict[str, np.ndarray]:
    """Evaluate any Policy-protocol object on single envs seeded ``seed + i``; ``reset(seed + i)`` per episode."""
    return _evaluate(policy, env_id, n_episodes, seed, env_kwargs, max_steps, "single")


class _LongRunSums:
    """Hook of :func:`long_run_averages`: sums of info entries over the steps after the burn-in."""

    def __init__(self, keys: tuple[str, ...], burn: int) -> None:
        self.keys, self.burn = keys, burn
        self.sums: dict[str, np.ndarray] = {}
        self.last: dict[str, Any] = {}

    def __call__(self, step: Step) -> None:
        self.last = step.step_info
        if step.t >= self.burn:
            for key in self.keys:
                value = np.asarray(step.step_info[key], dtype=float)
                self.sums[key] = self.sums[key] + value if key in self.sums else value.copy()


def long_run_averages(
    policy: Any,
    venv: Any,
    burn: int,
    steps: int,
    keys: tuple[str, ...],
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per-user time averages of the info entries ``keys`` over ``steps`` steps after ``burn`` burn-in steps of a
    native vector env whose episodes do not end (e.g. ``horizon=10**9``), reset with ``seed``; the policy keeps
    its own generator. Returns (averages, the last step's info)."""
    burn = int(burn)
    if burn < 0:
        raise ValueError(f"burn must be an integer in [0, inf), got {burn!r}")
    hook = _LongRunSums(tuple(keys), burn)
    rollout(policy, venv, venv.num_envs, seed, hook=hook, steps=burn + check_pos_int("steps", steps), policy_seed=None)
    return {k: v / steps for k, v in hook.sums.items()}, hook.last


def evaluate(
    policy: Any, env_id: str, n_episodes: int, seed: int = 0, env_kwargs: dict[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """Batched evaluation when the policy says it accepts batches (``policy.batched``), else one env at a time."""
    fn: Callable = evaluate_batched if getattr(policy, "batched", False) else evaluate_single
    return fn(policy, env_id, n_episodes, seed=seed, env_kwargs=env_kwargs)


__all__ = ["MetricTotals", "SB3Policy", "evaluate", "evaluate_batched", "evaluate_single", "long_run_averages"]
