"""Autoreset for the native vector envs (CONTRIBUTING.md, "Vector envs").

:func:`same_step_autoreset` is the ``SAME_STEP`` step every native vector env uses; :class:`NextStepAutoreset`
offers gymnasium's ``NEXT_STEP`` mode on top of it (``make_vec(..., autoreset_mode=AutoresetMode.NEXT_STEP)``),
(:mod:`recsim_envs.utils.scalarization` holds the ``weights=`` scalarisation of the multi-objective ids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from recsim_envs.utils import rng as crng


def _copy_tree(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _copy_tree(v) for k, v in tree.items()}
    return np.asarray(tree).copy()


def same_step_autoreset(
    info: dict[str, Any],
    obs: Any,
    done: np.ndarray,
    keys: np.ndarray,
    reset: Callable[[np.ndarray, np.ndarray], None],
    observe: Callable[[], Any],
) -> tuple[Any, np.ndarray]:
    """Finish the users in ``done`` and start their next episodes in place.

    Writes ``info["final_obs"]`` (array observations: zero rows for users still running; Dict observations:
    the whole batch) and ``info["final_info"]`` (a copy of this step's info) with their ``_`` masks, advances
    the finished users' stream keys (``next_key``), calls ``reset(done, new_keys_of_done)`` and returns the
    fresh observations and the updated keys.
    """
    if isinstance(obs, dict):
        info["final_obs"] = obs
    else:
        info["final_obs"] = np.where(done[:, None], obs, 0).astype(obs.dtype)
    info["_final_obs"] = done.copy()
    info["final_info"] = _copy_tree({k: v for k, v in info.items() if k not in ("final_obs", "_final_obs")})
    info["_final_info"] = done.copy()
    keys = np.where(done, crng.next_key(keys), keys)
    reset(done, keys[done])
    return observe(), keys


# -- wrappers applied by the registered vector entry points (recsim_envs.registration) -------------------------


def _rows(tree: Any, rows: np.ndarray) -> Any:
    if isinstance(tree, dict):
        return {k: _rows(v, rows) for k, v in tree.items()}
    return np.asarray(tree)[rows]


def _set_rows(tree: Any, rows: np.ndarray, values: Any) -> Any:
    """Copy of ``tree`` (array or dict of arrays, leading env axis) with ``rows`` replaced by ``values``."""
    if isinstance(tree, dict):
        return {k: _set_rows(tree[k], rows, values[k]) for k in tree}
    out = np.array(tree, copy=True)
    out[rows] = values
    return out


def _restart_hooks(venv: Any) -> tuple[Callable[[np.ndarray, np.ndarray], None], Callable[[], Any]]:
    """``(reset(mask, keys), observe())`` of a native vector env: the two callbacks its step hands to
    :func:`same_step_autoreset` (user batches: ``_batch``; cooperation replicas: ``task``)."""
    if hasattr(venv, "task"):
        task = venv.task
        return (lambda mask, keys: task.reset(keys, mask)), task.observations
    batch = venv._batch
    return batch.reset, batch.observations


class _Forwarding(VectorWrapper):
    """VectorWrapper that forwards public attributes (``action_masks``, ``reward_dim``, ...) to the wrapped env."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.env, name)


class NextStepAutoreset(_Forwarding):
    """gymnasium's ``AutoresetMode.NEXT_STEP`` on top of a native (``SAME_STEP``) vector env.

    When user ``i`` finishes, the step returns its last observation (not the next episode's first) and the
    info of that step (no ``final_obs``/``final_info``). The next ``step`` ignores ``i``'s action and returns
    the first observation of ``i``'s next episode with reward 0 and ``terminated = truncated = False`` — what
    gymnasium's ``SyncVectorEnv`` does and what counting wrappers written for it (MO-Gymnasium's
    ``MORecordEpisodeStatistics``, gymnasium's ``RecordEpisodeStatistics``) assume.

    The native env keeps stepping every user at once; for a user that is "between episodes" the wrapper
    restarts its episode from the same stream key after that step, so the episode it sees is exactly the one
    the ``SAME_STEP`` env would have served (same keys, same draws). Choice-masked envs (``action_masks()``)
    get a valid placeholder action for such users. Info entries of the placeholder step describe the discarded
    transition: read ``info["_reset_step"]`` to skip them.
    """

    def __init__(self, env: VectorEnv):
        super().__init__(env)
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self._pending = np.zeros(self.num_envs, dtype=bool)
        self._start_keys: np.ndarray | None = None

    def reset(self, *, seed: Any = None, options: dict | None = None):
        self._pending[:] = False
        return self.env.reset(seed=seed, options=options)

    def step(self, actions):
        pending = self._pending.copy()
        base = self.env.unwrapped
        if pending.any():
            actions = np.array(actions, copy=True)
            masks = getattr(base, "action_masks", None)
            if masks is not None:
                actions[pending] = np.argmax(np.asarray(masks())[pending], axis=1)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        reward = np.array(reward, copy=True)
        terminated, truncated = np.array(terminated, copy=True), np.array(truncated, copy=True)
        done = terminated | truncated
        if done.any():
            # hand back the finished step: last observation and that step's info for the finished users
            final_obs, final_info = info.pop("final_obs"), info.pop("final_info")
            info.pop("_final_obs", None)
            info.pop("_final_info", None)
            rows = np.flatnonzero(done)
            obs = _set_rows(obs, rows, _rows(final_obs, rows))
            for key, value in final_info.items():
                if key in info and not key.startswith("_"):
                    info[key] = _set_rows(info[key], rows, _rows(value, rows))
        if pending.any():
            # users between episodes: restart the episode the native env just began, from its start
            # (from the key it was started with: if the native env finished it again this step, that is undone)
            reset, observe = _restart_hooks(base)
            base._keys = np.where(pending, self._start_keys, base._keys)
            reset(pending, base._keys[pending])
            rows = np.flatnonzero(pending)
            obs = _set_rows(obs, rows, _rows(observe(), rows))
            reward[pending] = 0
            terminated[pending] = False
            truncated[pending] = False
        info["_reset_step"] = pending
        self._pending = done & ~pending
        self._start_keys = np.array(base._keys, copy=True)
        return obs, reward, terminated, truncated, info
