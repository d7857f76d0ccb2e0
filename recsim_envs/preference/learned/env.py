"""``recsim_envs/PreferenceShiftLearned-v0``: users simulated from the learned user model ("training in simulation")."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recsim_envs.preference.env import _check_action, scalar_info
from recsim_envs.preference.learned.core import OBJECTIVE_NAMES, PARAMS, LearnedShiftConfig, LearnedUserBatch
from recsim_envs.preference.render import preference_heatmap
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_render_mode


class PreferenceShiftLearnedEnv(gym.Env):
    """Recommendation to users simulated from a user model learned from interaction data (Carroll et al. 2022, §4–5).

    ## Description
    The ground-truth users of ``PreferenceShift-v0`` are replaced by the learned model of
    ``recsim_envs.preference.learned``: a small transformer trained only on logged slates and choices (the
    preferences are never observed) through the known choice model P(x | s, u) ∝ s(x) exp(β_c(u) xᵀu). Each step
    the future model gives the belief p̂_t = P̂_f(u_t | history) over the 36 preference bins, the user's choice is
    sampled from Σ_u p̂_t(u) P(x | s_t, u), and the safe-shift penalties are computed from the model too —
    the initial-preference model P̂_i (with the App. E.2 correction) and the counterfactual natural shifts of
    Algorithm 2. This is Algorithm 3: an RL recommender trained here never touches the ground truth, and its
    policy transfers unchanged to ``PreferenceShift-v0`` (same observation and action spaces).

    ## Observation Space
    ``obs_mode="history"``: ``Box(0, 1, (73,), float32)`` = last slate (36 probabilities; zeros at t = 0), last
    choice one-hot (36), t / horizon — identical to ``PreferenceShift-v0``. ``obs_mode="model_beliefs"``:
    ``Box(0, 1, (181,))`` adds the learned beliefs (36 each): P̂_f(u_t | history), P̂_i(u_0 | history) and the
    natural-shift belief P̂(u_t^rnd).

    ## Action Space
    ``action_set="six"``: ``Discrete(6)``, slate means 0°, 60°, …, 300°, std ``slate_std_deg``.
    ``action_set="fine"``: ``Discrete(72)``; a ↦ μ = 10°·(a mod 36), σ = 30° for a < 36 else 60°.

    ## Reward
    r_t = r̂_t + ν_initial r̂_t(u_0) + ν_natural r̂_t(u_t^rnd), estimated from the model:
    r̂_t = Σ_u p̂_t(u | x_t) x_tᵀu (belief after seeing the choice), r̂_t(u_0) = Σ_u P̂_i(u | x_0..x_t) x_tᵀu,
    r̂_t(u_t^rnd) = Σ_u P̂(u_t^rnd = u) x_tᵀu with P̂(u_t^rnd) = Σ_{u0} P̂_i(u0) table[t, u0] (Algorithm 2).
    Named components in ``info["rewards"]``; ``info["objectives"]`` is their float32 vector;
    ``PreferenceShiftLearnedMO-v0`` returns that vector as the reward.

    ## Dynamics
    Slate a_t → belief p̂_t → choice x_t ~ Σ_u p̂_t(u) P(x | s_{a_t}, u) → history grows by (s_t, x_t). The only
    random draw is the choice, from the env's counter-based stream (``reset(seed)`` fixes everything; user i of
    the vector env equals a single env seeded ``seed + i``).

    ## Starting State
    Empty history; the belief over u_0 is the model's learned population prior P̂_f(u_0).

    ## Episode End
    Terminated after ``horizon`` steps (at most the model's training horizon, 10). No truncation.

    ## Arguments
    ``checkpoint`` (path to a ``.npz`` from ``python -m recsim_envs.preference.learned.train``; ``None`` = the
    shipped default), ``horizon`` (int in [1, model horizon], 10), ``slate_std_deg`` ∈ [1, 360] (60),
    ``slate_kernel`` ("clipped_normal" | "von_mises"), ``action_set`` ("six" | "fine"), ``obs_mode`` ("history" |
    "model_beliefs"), ``nu_initial``, ``nu_natural`` (penalty weights, 0), ``render_mode``.

    ## Registered Configurations
    ``recsim_envs/PreferenceShiftLearned-v0`` (defaults), ``recsim_envs/PreferenceShiftLearnedPenalized-v0``
    (ν_initial = ν_natural = 1, the paper's penalised reward), ``recsim_envs/PreferenceShiftLearnedMO-v0``
    (vector reward).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 2}
    PARAMS = PARAMS

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        self.config = LearnedShiftConfig(**kwargs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.config.n_actions)
        self.observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), dtype=np.float32)
        self._batch = LearnedUserBatch(self.config, 1)
        self._key: np.ndarray | None = None
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._key = crng.episode_keys(seed, 1, self.np_random, self._key)
        self._batch.reset(np.ones(1, dtype=bool), self._key)
        self._started = True
        return self._batch.observations()[0], {"t": 0}

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = _check_action(action, self.config.n_actions)
        out = self._batch.step(np.array([a], dtype=np.int64))
        info = scalar_info(out, 0, _INT_KEYS, _FLOAT_KEYS)
        terminated = bool(out["terminated"][0])
        if terminated:
            self._started = False
        return self._batch.observations()[0], float(out["reward"][0]), terminated, False, info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        b = self._batch
        t = int(b.t[0])
        if self.render_mode == "ansi":
            s = b.last_slate[0]
            slate = "-" if s < 0 else f"{self.config.tables['slate_means'][s]:.0f}°"
            choice = "-" if b.last_choice[0] < 0 else f"{10 * b.last_choice[0]}°"
            mode = 10 * int(b.belief[0].argmax())
            return f"t={t}/{self.config.horizon} belief mode={mode}° slate={slate} choice={choice}"
        return preference_heatmap(b.belief_hist[0, : t + 1])

    def close(self):
        pass


class PreferenceShiftLearnedMOEnv(PreferenceShiftLearnedEnv):
    """Multi-objective twin: the reward is the vector of the three estimated components (MO-Gymnasium style)."""

    def __init__(self, render_mode: str | None = None, multi_objective: bool = True, **kwargs: Any):
        if not check_bool("multi_objective", multi_objective):
            raise ValueError(f"multi_objective must be True for PreferenceShiftLearnedMOEnv, got {multi_objective!r}")
        super().__init__(render_mode=render_mode, **kwargs)
        self.reward_dim = len(OBJECTIVE_NAMES)
        self.reward_space = spaces.Box(-1.0, 1.0, (self.reward_dim,), dtype=np.float32)

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, info["objectives"].copy(), terminated, truncated, info


_INT_KEYS = ("choice_bin", "slate", "t")
_FLOAT_KEYS = (
    "engagement",
    "engagement_initial",
    "engagement_natural",
    "expected_engagement",
    "belief_mean_deg",
    "initial_belief_mean_deg",
)
