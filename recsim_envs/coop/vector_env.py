"""Native vector envs: ``num_envs`` replicas advanced by one compiled kernel call per step."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from recsim_envs.coop import kernel as K
from recsim_envs.coop.render import draw_network
from recsim_envs.coop.task import COMPETITION_PARAMS, REWIRING_PARAMS, CoopTask, build_competition, build_rewiring
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_num_envs, check_render_mode
from recsim_envs.utils.vector import same_step_autoreset


class _CoopVectorEnvBase(VectorEnv):
    """Replica i after ``reset(seed=s)`` reproduces the single env reset with ``seed=s + i``. Autoreset is
    ``SAME_STEP``: a finished replica's observation is the first of its next episode; ``info["final_obs"]`` /
    ``info["final_info"]`` (masks ``_final_obs`` / ``_final_info``) hold the last ones."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}
    _builder = staticmethod(build_rewiring)
    PARAMS = REWIRING_PARAMS

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, multi_objective: bool = False, **kwargs):
        check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.config, self.options = self._builder(**kwargs)
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.multi_objective = check_bool("multi_objective", multi_objective)
        self.task = CoopTask(self.config, self.options, self.num_envs)
        self.single_observation_space = self.task.observation_space()
        self.single_action_space = self.task.action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        if self.multi_objective:
            self.reward_space = self.task.reward_space()
            self.reward_dim = self.reward_space.shape[0]
        self._keys: np.ndarray | None = None
        self._started = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=crng.generator_seed(seed))
        n = self.num_envs
        self._keys = crng.episode_keys(seed, n, self.np_random, self._keys)
        self.task.reset(self._keys, np.ones(n, dtype=bool))
        self._started = True
        return self.task.observations(), self.task.reset_info()

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        out = self.task.step(np.asarray(actions))
        terminated, truncated = out["terminated"], out["truncated"]
        info: dict[str, Any] = {k: v for k, v in out.items() if k not in ("reward", "terminated", "truncated")}
        reward = out["objectives"].copy() if self.multi_objective else out["reward"]
        obs = self.task.observations()
        done = terminated | truncated
        if done.any():
            obs, self._keys = same_step_autoreset(
                info, obs, done, self._keys, lambda m, k: self.task.reset(k, m), self.task.observations
            )
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """bool [num_envs, N] valid choices per replica."""
        return self.task.action_masks()

    def render(self):
        """Replica 0 (rgb: its graph; ansi: its one-line state)."""
        if self.render_mode is None:
            return None
        if self.render_mode == "ansi":
            return self.task.ansi(0)
        b = self.task.batch
        pending = b.cnt[0, K.C_STATUS] == K.PENDING
        return draw_network(
            b.adjacency(0),
            b.strat[0],
            recommender=b.rec[0] if self.options.competition else None,
            focus=(int(b.cnt[0, K.C_PA]), int(b.cnt[0, K.C_PB])) if pending else None,
        )


class CooperationRewiringVectorEnv(_CoopVectorEnvBase):
    """Native vector env of ``CooperationRewiring`` (see ``CooperationRewiringEnv``)."""


class RecommenderCompetitionVectorEnv(_CoopVectorEnvBase):
    """Native vector env of ``RecommenderCompetition`` (see ``RecommenderCompetitionEnv``)."""

    _builder = staticmethod(build_competition)
    PARAMS = COMPETITION_PARAMS
