"""Native vector env for HarmMitigation: a batch of users advanced in one array operation."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from recsim_envs.harm.core import OBJECTIVE_NAMES, PARAMS, HarmConfig, HarmUserBatch
from recsim_envs.harm.env import action_space_for, observation_space_for
from recsim_envs.harm.render import trajectory_image
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_num_envs, check_render_mode
from recsim_envs.utils.vector import same_step_autoreset

_INFO_KEYS = (
    "click",
    "harm",
    "item",
    "recommended_mask",
    "profile",
    "previous_profile",
    "pclk",
    "ph",
    "harm_share",
    "user",
    "t",
    "objectives",
)


class HarmMitigationVectorEnv(VectorEnv):
    """``num_envs`` independent HarmMitigation users stepped together (model: ``HarmMitigationEnv``).

    User ``i`` after ``reset(seed=s)`` reproduces ``HarmMitigationEnv`` reset with ``seed=s + i`` exactly.
    Autoreset is ``SAME_STEP``. Actions: ``[num_envs]`` item indices (k = 1; ``[num_envs, 1]`` is accepted too),
    ``[num_envs, k]`` item indices (k > 1), or ``[num_envs, n_rec]`` logits / inclusion weights for
    ``action_type="logits"`` / ``"probabilities"``. ``multi_objective=True`` returns [num_envs, 2] (click, −harm).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}
    PARAMS = PARAMS

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, multi_objective: bool = False, **kwargs: Any):
        check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.config = HarmConfig(**kwargs)
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.multi_objective = check_bool("multi_objective", multi_objective)
        self.single_action_space = action_space_for(self.config)
        self.single_observation_space = observation_space_for(self.config)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        if self.multi_objective:
            self.reward_dim = len(OBJECTIVE_NAMES)
            self.reward_space = spaces.Box(
                np.array([0.0, -1.0], dtype=np.float32), np.array([1.0, 0.0], dtype=np.float32)
            )
        self._batch = HarmUserBatch(self.config, self.num_envs)
        self._keys: np.ndarray | None = None
        self._started = False
        self._trace: list[tuple[float, float, float]] = []

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=crng.generator_seed(seed))
        n = self.num_envs
        self._keys = crng.episode_keys(seed, n, self.np_random, self._keys)
        self._batch.reset(np.ones(n, dtype=bool), self._keys)
        self._started = True
        self._trace = []
        b = self._batch
        return b.observations(), {"user": b.user.copy(), "profile": b.U.copy(), "t": b.t.copy()}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions)
        if a.ndim == 0 or a.shape[0] != self.num_envs:
            raise ValueError(f"actions must have a leading axis of num_envs={self.num_envs}, got shape {a.shape}")
        b = self._batch
        out = b.step(a)
        info: dict[str, Any] = {k: out[k] for k in _INFO_KEYS if k in out}
        info["rewards"] = {"click": out["click"], "harm": out["harm"]}
        if self.render_mode == "rgb_array":
            ph, pc = out.get("ph", np.full(1, np.nan)), out.get("pclk", np.full(1, np.nan))
            self._trace.append((float(ph.mean()), float(pc.mean()), float(out["harm_share"].mean())))
        terminated = out["terminated"]
        truncated = np.zeros(self.num_envs, dtype=bool)
        obs = b.observations()
        if terminated.any():
            obs, self._keys = same_step_autoreset(info, obs, terminated, self._keys, b.reset, b.observations)
        info["next_user"] = b.user.copy()  # the user each returned observation belongs to
        reward = out["objectives"].copy() if self.multi_objective else out["reward"]
        return obs, reward, terminated, truncated, info

    def render(self):
        if self.render_mode is None:
            return None
        b = self._batch
        if self.render_mode == "ansi":
            return f"{self.num_envs} users, t={int(b.t.max())}/{self.config.horizon}"
        tr = np.array(self._trace) if self._trace else np.zeros((1, 3))
        return trajectory_image([tr[:, 0], tr[:, 1], tr[:, 2]])
