"""Native vector env for PreferenceShiftLearned: all simulated users advance with one network pass per step."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from recsim_envs.preference.learned.core import OBJECTIVE_NAMES, PARAMS, LearnedShiftConfig, LearnedUserBatch
from recsim_envs.preference.render import preference_heatmap
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_discrete_actions, check_num_envs, check_render_mode
from recsim_envs.utils.vector import same_step_autoreset

_INFO_KEYS = (
    "choice_bin",
    "slate",
    "t",
    "engagement",
    "engagement_initial",
    "engagement_natural",
    "expected_engagement",
    "belief_mean_deg",
    "initial_belief_mean_deg",
    "objectives",
)


class PreferenceShiftLearnedVectorEnv(VectorEnv):
    """``num_envs`` users simulated from the learned model (see ``PreferenceShiftLearnedEnv``).

    User ``i`` after ``reset(seed=s)`` reproduces ``PreferenceShiftLearnedEnv`` reset with ``seed=s + i``.
    Autoreset is ``SAME_STEP`` (``info["final_obs"]`` / ``info["final_info"]`` hold a finished user's last
    step). ``multi_objective=True`` returns the [num_envs, 3] objective vectors as the reward.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}
    PARAMS = PARAMS

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, multi_objective: bool = False, **kwargs: Any):
        check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.config = LearnedShiftConfig(**kwargs)
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
        self._batch = LearnedUserBatch(self.config, self.num_envs)
        self._keys: np.ndarray | None = None
        self._started = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=crng.generator_seed(seed))
        n = self.num_envs
        self._keys = crng.episode_keys(seed, n, self.np_random, self._keys)
        self._batch.reset(np.ones(n, dtype=bool), self._keys)
        self._started = True
        return self._batch.observations(), {"t": self._batch.t.copy()}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = check_discrete_actions("actions", actions, self.config.n_actions, (self.num_envs,), what="slate index")
        b = self._batch
        out = b.step(a)
        info: dict[str, Any] = {k: out[k] for k in _INFO_KEYS}
        info["rewards"] = {name: out[name] for name in OBJECTIVE_NAMES}
        terminated = out["terminated"]
        truncated = np.zeros(self.num_envs, dtype=bool)
        obs = b.observations()
        if terminated.any():
            obs, self._keys = same_step_autoreset(info, obs, terminated, self._keys, b.reset, b.observations)
        reward = out["objectives"].copy() if self.multi_objective else out["reward"]
        return obs, reward, terminated, truncated, info

    def render(self):
        if self.render_mode is None:
            return None
        b = self._batch
        t = int(b.t.max())
        if self.render_mode == "ansi":
            mode = b.belief.argmax(1).mean() * 10
            return f"{self.num_envs} simulated users, t={t}/{self.config.horizon}, mean belief mode={mode:.0f}°"
        # population average of the learned beliefs P̂_f(u_t | history) over time
        return preference_heatmap(b.belief_hist[:, : t + 1].mean(axis=0))
