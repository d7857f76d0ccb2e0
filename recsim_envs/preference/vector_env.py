"""Native vector env for PreferenceShift: all users advance in one array operation."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from recsim_envs.preference.core import OBJECTIVE_NAMES, PARAMS, PreferenceShiftConfig, UserBatch
from recsim_envs.preference.render import preference_heatmap
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_discrete_actions, check_num_envs, check_render_mode
from recsim_envs.utils.vector import same_step_autoreset

_INFO_KEYS = (
    "preference_bin",
    "next_preference_bin",
    "initial_preference_bin",
    "choice_bin",
    "slate",
    "t",
    "engagement",
    "engagement_initial",
    "engagement_natural",
    "expected_engagement",
    "expected_engagement_initial",
    "expected_engagement_natural",
    "objectives",
)


class PreferenceShiftVectorEnv(VectorEnv):
    """``num_envs`` independent PreferenceShift users stepped together (see ``PreferenceShiftEnv`` for the model).

    User ``i`` after ``reset(seed=s)`` reproduces ``PreferenceShiftEnv`` reset with ``seed=s + i`` exactly.
    Autoreset is ``SAME_STEP``: a finished user's returned observation is the first of its next episode, and
    ``info["final_obs"]``/``info["final_info"]`` hold the last ones. ``multi_objective=True`` (the MO id) returns
    the [num_envs, 3] objective vectors as the reward.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}
    PARAMS = PARAMS

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, multi_objective: bool = False, **kwargs: Any):
        check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.config = PreferenceShiftConfig(**kwargs)
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.multi_objective = check_bool("multi_objective", multi_objective)
        self.single_action_space = spaces.Discrete(self.config.n_actions)
        self.single_observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        if self.multi_objective:
            self.reward_dim = len(OBJECTIVE_NAMES)
            self.reward_space = spaces.Box(-1.0, 1.0, (self.reward_dim,), dtype=np.float32)
        self._batch = UserBatch(self.config, self.num_envs)
        self._keys: np.ndarray | None = None
        self._started = False
        self._cohort: list[np.ndarray] = []

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=crng.generator_seed(seed))
        n = self.num_envs
        self._keys = crng.episode_keys(seed, n, self.np_random, self._keys)
        self._batch.reset(np.ones(n, dtype=bool), self._keys)
        self._started = True
        self._cohort = [np.broadcast_to(self.config.tables["prior"], (n, 36)).copy()]
        b = self._batch
        info = {"preference_bin": b.u.copy(), "initial_preference_bin": b.u0.copy(), "t": b.t.copy()}
        return b.observations(), info

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = check_discrete_actions("actions", actions, self.config.n_actions, (self.num_envs,), what="slate index")
        b = self._batch
        out = b.step(a)
        if self.render_mode == "rgb_array":
            tr = self.config.tables["transition"]
            self._cohort.append(np.einsum("nu,nuv->nv", self._cohort[-1], tr[a]))
        info: dict[str, Any] = {k: out[k] for k in _INFO_KEYS}
        info["rewards"] = {name: out[name] for name in OBJECTIVE_NAMES}
        terminated = out["terminated"]
        truncated = np.zeros(self.num_envs, dtype=bool)
        obs = b.observations()
        if terminated.any():
            done = terminated
            obs, self._keys = same_step_autoreset(info, obs, done, self._keys, b.reset, b.observations)
            # the preference the next slate will meet (post-reset for finished users)
            info["next_preference_bin"] = b.u.copy()
            if done.all():
                self._cohort = [np.broadcast_to(self.config.tables["prior"], (self.num_envs, 36)).copy()]
        reward = out["objectives"].copy() if self.multi_objective else out["reward"]
        return obs, reward, terminated, truncated, info

    def render(self):
        if self.render_mode is None:
            return None
        b = self._batch
        if self.render_mode == "ansi":
            return f"{self.num_envs} users, t={int(b.t.max())}/{self.config.horizon}, mean u={b.u.mean() * 10:.0f}°"
        # population histogram of true preferences at each step (the paper's Fig. 1 heatmap)
        hist = b.pref_hist[:, : int(b.t.max()) + 1]
        dists = np.stack([np.bincount(hist[:, t], minlength=36) / self.num_envs for t in range(hist.shape[1])])
        return preference_heatmap(dists)
