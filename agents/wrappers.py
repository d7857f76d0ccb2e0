"""Reward wrappers for training on the multi-objective (``...MO-v0``) ids with SB3, which needs a scalar reward.

The scalar ids already expose their penalty weights as ``make`` kwargs (ν_initial, ν_natural for PreferenceShift;
λ for HarmMitigation), so no wrapper is needed there. For the MO ids, :class:`LinearScalarization` turns the
vector reward r ∈ R^k into wᵀr and keeps the vector in ``info["vector_reward"]`` (MO-Gymnasium's
``LinearReward`` convention), so any weighting — not only the registered ones — can be trained.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from recsim_envs.utils.validation import check_array


class LinearScalarization(gym.Wrapper):
    """Scalar reward ``weights @ vector_reward`` for an env with ``reward_dim`` objectives."""

    def __init__(self, env: gym.Env, weights: Any):
        super().__init__(env)
        dim = getattr(env.unwrapped, "reward_dim", None)
        if dim is None:
            raise ValueError(f"env must have a vector reward (reward_dim attribute), got {env!r}")
        self.weights = check_array("weights", weights, shape=(int(dim),))

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        vector = np.asarray(reward, dtype=np.float64)
        info = dict(info)
        info["vector_reward"] = vector
        return obs, float(vector @ self.weights), terminated, truncated, info


__all__ = ["LinearScalarization"]
