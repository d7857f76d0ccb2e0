"""``recsim_envs/PreferenceShift-v0``: ground-truth users whose preferences shift with what they are shown."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recsim_envs.preference.core import OBJECTIVE_NAMES, PARAMS, PreferenceShiftConfig, UserBatch
from recsim_envs.preference.render import preference_heatmap
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_discrete_actions, check_render_mode


def _check_action(action: Any, n_actions: int) -> int:
    return int(check_discrete_actions("action", action, n_actions, what="slate index"))


class PreferenceShiftEnv(gym.Env):
    """Users whose preferences drift with the slates they are shown (Carroll et al., ICML 2022, App. H).

    ## Description
    A recommender shows one user a *slate* (a distribution over 36 item bins on a circle) each step. The user
    picks an item with P(x | s, u) ∝ s(x) exp(β_c(u) xᵀu) (β_c profile: local maxima ≈1 at 80° and ≈4 at 270°,
    users near 270° are the most predictable), then adopts a new preference by the chosen-preference rule
    P(u' | u, b) ∝ exp(β_d V(u')), V(u') = Σ_x P(x | b, u')[λ xᵀu + (1 − λ) xᵀu'] with feed belief b ∝ s³.
    Engagement rewards policies that steer users toward predictable preferences; the safe-shift metrics score
    the same choices by the user's initial preference u_0 and by the natural shifts E[u_t^rnd] that the flat
    slate would have induced.

    ## Observation Space
    ``obs_mode="history"``: ``Box(0, 1, (73,), float32)`` = last slate shown (36 probabilities; zeros at t=0),
    last choice one-hot (36), t / horizon. ``obs_mode="oracle_beliefs"``: ``Box(0, 1, (181,))`` adds the exact
    NHMM beliefs (36 each): predictive belief over u_t, smoothed belief over u_0, natural-shift belief over
    u_t^rnd — what the paper's PPO was given. They are updated once per step by compiled exact kernels
    (``recsim_envs.preference.oracle``): an O(36²) filtering step, and the u_0 posterior by a backward pass over
    the stored steps (horizon < 36) or a 36 × 36 joint (longer horizons), so memory per user stays O(36²).

    ## Action Space
    ``action_set="six"``: ``Discrete(6)``, slate means 0°, 60°, …, 300°, std ``slate_std_deg``.
    ``action_set="fine"``: ``Discrete(72)``; a ↦ μ = 10°·(a mod 36), σ = 30° for a < 36 else 60°.

    ## Reward
    r_t = x_tᵀu_t + ν_initial · x_tᵀu_0 + ν_natural · x_tᵀE[u_t^rnd | u_0]. Named components in
    ``info["rewards"]`` (``engagement``, ``engagement_initial``, ``engagement_natural``, unweighted);
    ``info["objectives"]`` is the float32 vector of the three. ``PreferenceShiftMO-v0`` returns that vector as
    the reward. Choice-marginalised (expected) versions are in ``info["expected_*"]``.

    ## Dynamics
    Per step: slate a_t shown → choice x_t ~ P(· | s_{a_t}, u_t) → preference u_{t+1} ~ T[a_t][u_t, ·]. The
    transition depends on the slate only. All draws use the env's counter-based stream (``reset(seed)`` fixes
    everything; vector-env user i equals a single env seeded ``seed + i``).

    ## Starting State
    u_0 ~ N(``initial_mean_deg``, ``initial_std_deg``) on the 36-bin grid (circular distance), default 130°, 20°.

    ## Episode End
    Terminated after ``horizon`` steps (t is part of the observation). No truncation.

    ## Arguments
    ``horizon`` (int ≥ 1, 10), ``flexibility`` λ ∈ [0, 1] (0.9), ``beta_d`` ≥ 0 (50, calibrated),
    ``beta_c`` ("two_bumps" | "constant" | 36 floats ≥ 0), ``beta_c_width`` > 0 (2; sharpness of both bumps, or
    of the 80° bump when ``beta_c_width_270`` is given), ``beta_c_width_270`` > 0 (None), ``beta_c_floor`` ∈
    [0, 1] (0; the two-bump profile's floor, ``model.beta_c_two_bumps``), ``feed_exponent`` k > 0 (3; feed
    belief b ∝ s^k), ``initial_mean_deg``
    ∈ [0, 360) (130), ``initial_std_deg`` > 0 (20), ``slate_std_deg`` ∈ [1, 360] (60), ``slate_kernel``
    ("clipped_normal" | "von_mises"), ``action_set`` ("six" | "fine"), ``obs_mode`` ("history" |
    "oracle_beliefs"), ``nu_initial``, ``nu_natural`` (penalty weights, 0), ``render_mode``.

    ## Calibration of β_d and the β_c bump width (unpublished in the paper)
    Exact cohort propagation (``recsim_envs.preference.calibration``, table by
    ``python -m benchmarks.calibrate_preference``), λ = 0.9, σ_slate = 60°, 10 steps, u_0 ~ N(130°, 20°):

    | β_c width, β_d | natural mean u_10 | P(u_10 within 30° of 80°) | greedy myopic (cohort) | best constant 240–270° |
    |---|---|---|---|---|
    | 2, 5   | 273° | 0.13 | 5.93 | 4.34 (no incentive) |
    | 2, 20  | 73°  | 0.72 | 6.69 | 6.82 @ 270° |
    | 2, 30  | 76°  | 0.79 | 6.73 | 7.11 @ 260° |
    | **2, 50** | **76°** | **0.80** | **6.82** | **7.32 @ 250°** |

    (The myopic column is the policy that, each step, shows the slate maximising the cohort's expected
    immediate engagement; a myopic policy that knows u_t exactly earns 7.49 at the default, and the exact
    long-horizon optimum with known u_t is 7.84, so a manipulation incentive remains even with full
    information.) Reasoning: with β_d ≲ 10 preference moves are nearly random and the cohort is pulled to the
    predictable 270° region regardless of the slate, so natural shifts do not reach 80° and no slate earns by
    steering. From β_d ≈ 20 the flat slate sends the cohort to the 80° mode while constant slates near
    240–270° beat greedy myopic engagement; we take β_d = 50, the top of that band, where the manipulation
    incentive (+0.50 over 10 steps) is largest and half the cohort ends within 30° of 270° under the best
    constant slate.

    ## Closer to the paper's Table 1: an option, not the default
    A calibration study against Table 1 (``python -m benchmarks.calibrate_preference --table1``, results in
    ``benchmarks/RESULTS.md``) found that a sharper 270° bump and a smaller β_d — ``beta_c_width_270=8,
    beta_d=20`` — bring training-free proxies of the 16 Table 1 cells from a mean absolute difference of 1.38 to
    0.57, but no point searched also reaches the paper's manipulation gain (RL − myopic engagement ≥ +1.0 with
    the cells that close); the ids therefore keep the defaults above. Pass those kwargs to ``gym.make`` to use
    the closer calibration.

    ## Registered Configurations
    ``recsim_envs/PreferenceShift-v0`` (defaults), ``recsim_envs/PreferenceShiftOracle-v0``
    (``obs_mode="oracle_beliefs"``), ``recsim_envs/PreferenceShiftPenalized-v0`` (oracle beliefs,
    ν_initial = ν_natural = 1, the paper's penalised reward), ``recsim_envs/PreferenceShiftMO-v0`` (vector
    reward).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 2}
    #: documented ``make`` kwargs and ranges (read by the registry-wide property test)
    PARAMS = PARAMS

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        self.config = PreferenceShiftConfig(**kwargs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.config.n_actions)
        self.observation_space = spaces.Box(0.0, 1.0, (self.config.obs_dim,), dtype=np.float32)
        self._batch = UserBatch(self.config, 1)
        self._key: np.ndarray | None = None
        self._started = False
        self._cohort: list[np.ndarray] = []

    # -- gymnasium API ----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._key = crng.episode_keys(seed, 1, self.np_random, self._key)
        self._batch.reset(np.ones(1, dtype=bool), self._key)
        self._started = True
        self._cohort = [self.config.tables["prior"].copy()]
        info = {
            "preference_bin": int(self._batch.u[0]),
            "initial_preference_bin": int(self._batch.u0[0]),
            "t": 0,
        }
        return self._batch.observations()[0], info

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = _check_action(action, self.config.n_actions)
        out = self._batch.step(np.array([a], dtype=np.int64))
        tb = self.config.tables
        self._cohort.append(self._cohort[-1] @ tb["transition"][a])
        info = scalar_info(out, 0)
        reward = float(out["reward"][0])
        terminated = bool(out["terminated"][0])
        if terminated:
            self._started = False
        return self._batch.observations()[0], reward, terminated, False, info

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
            return f"t={t}/{self.config.horizon} u={10 * b.u[0]}° u0={10 * b.u0[0]}° slate={slate} choice={choice}"
        dists = np.stack(self._cohort) if self._cohort else self.config.tables["prior"][None]
        return preference_heatmap(dists, b.pref_hist[0, : len(dists)])

    def close(self):
        pass


class PreferenceShiftMOEnv(PreferenceShiftEnv):
    """Multi-objective twin: the reward is the vector (engagement, engagement_initial, engagement_natural).

    Follows MO-Gymnasium: ``reward_space`` is ``Box(-1, 1, (3,))`` and ``reward_dim = 3``; the scalar env's
    reward equals ``objectives @ [1, nu_initial, nu_natural]``.
    """

    def __init__(self, render_mode: str | None = None, multi_objective: bool = True, **kwargs: Any):
        if not check_bool("multi_objective", multi_objective):
            raise ValueError(f"multi_objective must be True for PreferenceShiftMOEnv, got {multi_objective!r}")
        super().__init__(render_mode=render_mode, **kwargs)
        self.reward_dim = len(OBJECTIVE_NAMES)
        self.reward_space = spaces.Box(-1.0, 1.0, (self.reward_dim,), dtype=np.float32)

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, info["objectives"].copy(), terminated, truncated, info


_INT_KEYS = ("preference_bin", "next_preference_bin", "initial_preference_bin", "choice_bin", "slate", "t")
_FLOAT_KEYS = (
    "engagement",
    "engagement_initial",
    "engagement_natural",
    "expected_engagement",
    "expected_engagement_initial",
    "expected_engagement_natural",
)


def scalar_info(out: dict, i: int, int_keys=_INT_KEYS, float_keys=_FLOAT_KEYS) -> dict:
    """User ``i``'s step info as Python scalars, from the batched step output (shared with the learned env)."""
    info: dict[str, Any] = {k: int(out[k][i]) for k in int_keys}
    info.update({k: float(out[k][i]) for k in float_keys})
    info["rewards"] = {name: info[name] for name in OBJECTIVE_NAMES}
    info["objectives"] = out["objectives"][i].copy()
    return info
