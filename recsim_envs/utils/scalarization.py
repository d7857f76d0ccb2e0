"""Linear scalarisation of the multi-objective (``...MO-v0``) ids: scalar reward ``weights · vector_reward``.

SB3 (``check_env``, ``Monitor``) and rl-zoo3 need a float reward. ``gymnasium.make(mo_id, weights=w)`` and
``gymnasium.make_vec(mo_id, ..., weights=w)`` apply these wrappers (see :mod:`recsim_envs.registration`); the
vector reward stays in ``info["vector_reward"]`` (MO-Gymnasium's ``LinearReward`` convention), so any weighting —
not only the registered scalar ids — can be trained.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from recsim_envs.utils.validation import check_array
from recsim_envs.utils.vector import _Forwarding


def _check_weights(env: Any, weights: Any) -> np.ndarray:
    dim = getattr(env.unwrapped, "reward_dim", None)
    if dim is None:
        raise ValueError(f"weights apply only to an env with a vector reward (reward_dim attribute), got {env!r}")
    return check_array("weights", weights, shape=(int(dim),))


class LinearScalarization(gym.Wrapper):
    """Scalar reward ``weights @ vector_reward`` for an env with ``reward_dim`` objectives."""

    def __init__(self, env: gym.Env, weights: Any):
        super().__init__(env)
        self.weights = _check_weights(env, weights)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        vector = np.asarray(reward, dtype=np.float64)
        info = dict(info)
        info["vector_reward"] = vector
        return obs, float(vector @ self.weights), terminated, truncated, info


class LinearVectorScalarization(_Forwarding):
    """Scalar reward ``vector_reward @ weights`` for a multi-objective vector env (``reward_dim`` objectives);
    the vector stays in ``info["vector_reward"]`` (MO-Gymnasium's ``LinearReward`` convention)."""

    def __init__(self, env: VectorEnv, weights: Any):
        super().__init__(env)
        self.weights = _check_weights(env, weights)

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        vector = np.asarray(reward, dtype=np.float64)
        info["vector_reward"] = vector
        return obs, vector @ self.weights, terminated, truncated, info


__all__ = ["LinearScalarization", "LinearVectorScalarization"]
