"""Batched simulation core shared by the single env, the native vector env and the benchmarks.

``PreferenceShiftConfig`` validates the ``make`` kwargs and tabulates the model once; ``UserBatch`` holds the state
of ``n`` users as arrays and advances all of them with one gather + inverse-CDF draw per random quantity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from numba import njit

from recsim_envs.preference.model import (
    BETA_C_PRESETS,
    beta_c_profile,
    beta_c_two_bumps,
    choice_probabilities,
    expected_engagement,
    preference_transition,
)
from recsim_envs.preference.oracle import (
    ORACLE_JOINT_FROM_HORIZON,
    NHMMOracle,
    backward_first_table,
    natural_shift_powers,
    oracle_beliefs_backward,
    oracle_beliefs_joint,
)
from recsim_envs.preference.render import preference_heatmap
from recsim_envs.preference.world import (
    COS,
    N_BINS,
    SLATE_KERNELS,
    action_slates,
    flat_slate,
    initial_preference_distribution,
)
from recsim_envs.utils import rng as crng
from recsim_envs.utils.shell import ModelBase
from recsim_envs.utils.validation import Array, Choice, Int, Maybe, OneOf, Real, check_discrete_actions, check_params

OBS_MODES = ("history", "oracle_beliefs")
ACTION_SETS = ("six", "fine")
OBJECTIVE_NAMES = ("engagement", "engagement_initial", "engagement_natural")

# counter-based stream ids (recsim_envs.utils.rng)
_STREAM_CHOICE, _STREAM_SHIFT, _STREAM_INITIAL = 0, 1, 2

#: an empty table argument of the compiled kernels (the table is not built)
_NO_TABLE = np.zeros((0, 0, 0, 0))

#: largest precomputed expected-natural-engagement table (entries); see PreferenceShiftConfig._tabulate
EXPNAT_MAX_ENTRIES = 1 << 22

#: calibrated defaults (see PreferenceShiftEnv docstring and recsim_envs.preference.calibration)
DEFAULT_BETA_D = 50.0
DEFAULT_BETA_C_WIDTH = 2.0


#: the ``make`` kwargs of the PreferenceShift ids and their documented ranges (validation and the registry-wide
#: property test both read this table)
PARAMS: dict = {
    "horizon": Int(1, 1000),
    "flexibility": Real(0.0, 1.0),
    "beta_d": Real(0.0, 1e4),
    "beta_c": OneOf(Choice(BETA_C_PRESETS), Array((N_BINS,), 0.0, 1e3)),
    "beta_c_width": Real(0.0, 100.0, low_inclusive=False),
    "beta_c_width_270": Maybe(Real(0.0, 100.0, low_inclusive=False)),
    "beta_c_floor": Real(0.0, 1.0),
    "feed_exponent": Real(0.0, 20.0, low_inclusive=False),
    "initial_mean_deg": Real(0.0, 360.0, high_inclusive=False),
    "initial_std_deg": Real(0.0, 360.0, low_inclusive=False),
    "slate_std_deg": Real(1.0, 360.0),
    "slate_kernel": Choice(SLATE_KERNELS),
    "action_set": Choice(ACTION_SETS),
    "obs_mode": Choice(OBS_MODES),
    "nu_initial": Real(-1e3, 1e3),
    "nu_natural": Real(-1e3, 1e3),
}


@dataclass
class SlateConfig:
    """What the ground-truth and the learned users' configs share: the slate and observation kwargs, the paper's
    penalty weights, the derived tables, the observation width and the reward weights."""

    slate_std_deg: float = 60.0
    slate_kernel: str = "clipped_normal"
    action_set: str = "six"
    obs_mode: str = "history"
    nu_initial: float = 0.0
    nu_natural: float = 0.0
    #: weights given as ``reward_weights=`` (None: the paper's aliases, (1, nu_initial, nu_natural))
    weights_override: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    # derived tables (filled by the subclass's __post_init__)
    tables: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def n_actions(self) -> int:
        return int(self.tables["slates"].shape[0])

    @property
    def obs_dim(self) -> int:
        # history (36 + 36 + 1), then three 36-bin beliefs ("oracle_beliefs" / "model_beliefs")
        return 2 * N_BINS + 1 + (3 * N_BINS if self.obs_mode != "history" else 0)

    def reward_weights(self) -> np.ndarray:
        if self.weights_override is not None:
            return self.weights_override
        return np.array([1.0, self.nu_initial, self.nu_natural])


@dataclass
class PreferenceShiftConfig(SlateConfig):
    horizon: int = 10
    flexibility: float = 0.9
    beta_d: float = DEFAULT_BETA_D
    beta_c: object = "two_bumps"
    beta_c_width: float = DEFAULT_BETA_C_WIDTH
    beta_c_width_270: float | None = None  # sharpness of the 270° bump (None: ``beta_c_width``)
    beta_c_floor: float = 0.0  # the two-bump profile's floor between the bumps
    feed_exponent: float = 3.0  # the user's feed belief b ∝ s^k
    initial_mean_deg: float = 130.0
    initial_std_deg: float = 20.0

    def __post_init__(self):
        for name, value in check_params(vars(self), PARAMS).items():
            setattr(self, name, value)
        self._tabulate()

    def _beta_c(self) -> np.ndarray:
        shaped = self.beta_c_width_270 is not None or self.beta_c_floor != 0.0
        if isinstance(self.beta_c, str) and self.beta_c == "two_bumps" and shaped:
            w270 = self.beta_c_width if self.beta_c_width_270 is None else self.beta_c_width_270
            return beta_c_two_bumps(self.beta_c_width, w270, self.beta_c_floor)
        if shaped:
            raise ValueError("beta_c_width_270 and beta_c_floor shape the 'two_bumps' profile only")
        return beta_c_profile(self.beta_c, self.beta_c_width)

    def _tabulate(self):
        bc = self._beta_c()
        # the tables are built from log-slates: narrow slates underflow far from their mean (issue 12)
        log_slates, means, stds = action_slates(self.action_set, self.slate_std_deg, self.slate_kernel, log=True)
        slates = np.exp(log_slates)
        emission = choice_probabilities(slates, bc, log_slates=log_slates)  # [A, u, x]
        # feed belief b ∝ s^k: the transition's belief is b ∝ s'^3, so pass log s' = (k / 3) log s
        log_feed = log_slates if self.feed_exponent == 3.0 else (self.feed_exponent / 3.0) * log_slates
        transition = preference_transition(np.exp(log_feed), bc, self.beta_d, self.flexibility, log_slates=log_feed)
        t_nat = preference_transition(flat_slate(), bc, self.beta_d, self.flexibility)
        powers = natural_shift_powers(t_nat, self.horizon)  # [H+1, u0, u]
        prior = initial_preference_distribution(self.initial_mean_deg, self.initial_std_deg)
        self.tables = dict(
            beta_c=bc,
            slates=slates,
            slate_means=means,
            slate_stds=stds,
            emission=emission,
            emission_by_choice=np.ascontiguousarray(emission.transpose(0, 2, 1)),  # [a, x, u] for the oracle kernels
            emission_cdf=np.cumsum(emission, axis=-1).reshape(-1, N_BINS),  # row a * 36 + u
            transition=transition,
            transition_cdf=np.cumsum(transition, axis=-1).reshape(-1, N_BINS),  # row a * 36 + u
            # engagement of the natural-shift expectation: NAT_COS[t, u0, x] = x ᵀ E[u_t^rnd | u0]
            natural_cos=powers @ COS,
            natural_powers=powers,
            natural_powers_t=np.ascontiguousarray(powers.transpose(0, 2, 1)),  # [t, u, u0] for the oracle kernels
            transition_t=np.ascontiguousarray(transition.transpose(0, 2, 1)),  # [a, u', u] for the oracle kernels
            # choice-marginalised engagement EXP[a, u, y] = Σ_x P(x | s_a, u) x ᵀ y
            expected_cos=expected_engagement(emission),
            prior=prior,
            prior_cdf=np.cumsum(prior),
        )
        # the oracle's first backward products, looked up (recsim_envs.preference.oracle.backward_first_table)
        self.tables["backward_first"] = backward_first_table(self.tables["emission_by_choice"], transition)
        # choice-marginalised natural-shift engagement EXPNAT[t, a, u, u0] = Σ_x P(x | s_a, u) NAT_COS[t, u0, x]:
        # a gather per step when the table is small; beyond EXPNAT_MAX_ENTRIES (long horizons with the 72 fine
        # slates: 93 M entries, ~20 s to build) the step takes the 36-term dot product per user instead
        n_entries = (self.horizon + 1) * emission.shape[0] * N_BINS * N_BINS
        if n_entries <= EXPNAT_MAX_ENTRIES:
            self.tables["expected_natural_cos"] = np.einsum("aux,tvx->tauv", emission, self.tables["natural_cos"])
        # observation rows for every (last slate, last choice) pair, index (slate + 1) * 37 + (choice + 1);
        # slate = choice = −1 before the first step. One gather builds the history block of all users.
        n_a = slates.shape[0]
        # Rows are full observation width so np.take writes one contiguous block (much faster than filling a
        # strided slice).
        pair = np.zeros((n_a + 1, N_BINS + 1, self.obs_dim), dtype=np.float32)
        pair[1:, :, :N_BINS] = slates[:, None, :]
        pair[:, 1:, N_BINS : 2 * N_BINS] = np.eye(N_BINS, dtype=np.float32)[None]
        self.tables["obs_pairs"] = pair.reshape(-1, self.obs_dim)
        self.oracle = NHMMOracle(
            slates, bc, self.beta_d, self.flexibility, prior, self.feed_exponent, tables=(emission, transition)
        )


def draw_rows(cdf_table: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: for each user, the number of entries of row ``rows[i]`` of ``cdf_table`` [R, 36] that
    are ≤ ``u[i]`` × (row total), capped at the last bin (for a cumulative row: the first bin whose mass exceeds
    it). Compiled: one pass per user over its row, no gathered [n, 36] block."""
    return _draw_rows(np.ascontiguousarray(cdf_table, dtype=np.float64), np.asarray(rows, dtype=np.int64),
                      np.asarray(u, dtype=np.float64))  # fmt: skip


@njit(cache=True, inline="always")
def _draw_row(cdf_table, row, u):
    """The draw of :func:`draw_rows` for one user."""
    nb = cdf_table.shape[1]
    thr = u * cdf_table[row, nb - 1]
    k = 0
    for v in range(nb):
        k += cdf_table[row, v] <= thr
    return min(k, nb - 1)


@njit(cache=True)
def _draw_rows(cdf_table, rows, u):
    out = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):
        out[i] = _draw_row(cdf_table, rows[i], u[i])
    return out


@njit(cache=True)
def _respond_users(keys, t, a, u, u0, emission_cdf, transition_cdf, cos, natural_cos, expected_cos,
                   expected_natural_cos):  # fmt: skip
    """The ground-truth response of every user in one pass (:meth:`UserBatch._respond`): the choice and the next
    preference drawn from the counter-based streams (``crng.uniforms(keys, t, stream)`` and :func:`draw_rows`,
    the same numbers), the three realised engagements and the three choice-marginalised ones (the last only when
    ``expected_natural_cos`` is tabulated, i.e. not empty)."""
    n = a.shape[0]
    nb = cos.shape[0]
    choice = np.empty(n, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    objectives = np.empty((n, 3))
    expected = np.empty((3, n))
    has_expnat = expected_natural_cos.shape[0] > 0
    for i in range(n):
        ti, ui, u0i, ai = t[i], u[i], u0[i], a[i]
        if ti < 0 or ti >= natural_cos.shape[0]:
            raise IndexError("step t beyond the tabulated horizon (reset the users first)")
        c = np.uint64(ti) * crng.N_STREAMS
        row = ai * nb + ui
        x = choice[i] = _draw_row(emission_cdf, row, crng.uniform_scalar(keys[i], c, _STREAM_CHOICE))
        nxt[i] = _draw_row(transition_cdf, row, crng.uniform_scalar(keys[i], c, _STREAM_SHIFT))
        objectives[i, 0] = cos[ui, x]
        objectives[i, 1] = cos[u0i, x]
        objectives[i, 2] = natural_cos[ti, u0i, x]
        expected[0, i] = expected_cos[ai, ui, ui]
        expected[1, i] = expected_cos[ai, ui, u0i]
        if has_expnat:
            expected[2, i] = expected_natural_cos[ti, ai, ui, u0i]
    return choice, nxt, objectives, expected


_NO_BELIEFS = np.zeros((0, 0))


@njit(cache=True)
def _observations(pairs, last_slate, last_choice, t, horizon, beliefs):
    """A fresh float32 [n, obs_dim] observation block: the history part from the (last slate, last choice) row of
    ``pairs`` (``tables["obs_pairs"]``), t / horizon, then the flattened oracle beliefs when ``beliefs`` is not
    empty. One pass per user."""
    n = last_slate.shape[0]
    n_hist = 2 * N_BINS
    obs = np.empty((n, pairs.shape[1]), dtype=np.float32)
    with_beliefs = beliefs.shape[0] > 0
    for i in range(n):
        row = (last_slate[i] + 1) * (N_BINS + 1) + last_choice[i] + 1
        for c in range(n_hist):
            obs[i, c] = pairs[row, c]
        obs[i, n_hist] = np.float32(t[i] / horizon)
        if with_beliefs:
            for c in range(beliefs.shape[1]):
                obs[i, n_hist + 1 + c] = np.float32(beliefs[i, c])
    return obs


class SlateUsers(ModelBase):
    """The env interface (:class:`recsim_envs.utils.shell.FamilyModel`) shared by the ground-truth users and the
    users simulated from the learned model: slate indices in, the history (+ beliefs) observation out."""

    objective_names = OBJECTIVE_NAMES
    cfg: Any  # PreferenceShiftConfig | LearnedShiftConfig
    n: int
    # per-user state every slate-user model keeps (set by the subclass's __init__)
    t: np.ndarray  # [n] steps taken this episode
    slate_hist: np.ndarray  # [n, horizon] slates shown
    choice_hist: np.ndarray  # [n, horizon] items chosen
    last_slate: np.ndarray  # [n] the last slate (−1 before the first step)
    last_choice: np.ndarray  # [n] the last choice (−1 before the first step)

    @property
    def config(self) -> Any:
        return self.cfg

    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.cfg.obs_dim,), dtype=np.float32)

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.cfg.n_actions)

    def reward_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (len(OBJECTIVE_NAMES),), dtype=np.float32)

    def set_reward_weights(self, weights: np.ndarray) -> None:
        self.cfg.weights_override = weights

    def batch_actions(self, actions: Any, single: bool) -> np.ndarray:
        """Slate indices as an int64 [n] batch: one action (``single``) or ``n`` of them."""
        name, shape = ("action", ()) if single else ("actions", (self.n,))
        a = check_discrete_actions(name, actions, self.cfg.n_actions, shape, what="slate index")
        return a.reshape(self.n)

    # -- one step: the user model answers (_respond), the shared bookkeeping, then the model advances (_advance)
    def step(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        """One step of every user: the user model draws each user's choice from the slate shown and scores it
        (:meth:`_respond`: the three objectives and the model's own info entries); the slate/choice history, the
        clock and the last slate and choice are kept here; then the model's state moves on (:meth:`_advance`)."""
        a, t = actions, self.t
        choice, objectives, before, after = self._respond(a, t)
        out = {
            **before,
            "choice_bin": choice,
            "slate": a.copy(),
            "t": t.copy(),
            "engagement": objectives[:, 0],
            "engagement_initial": objectives[:, 1],
            "engagement_natural": objectives[:, 2],
            **after,
            "objectives": objectives.astype(np.float32),
            "reward": objectives @ self.cfg.reward_weights(),
        }
        rows = np.arange(self.n)
        tc = np.minimum(t, self.cfg.horizon - 1)
        self.slate_hist[rows, tc] = a
        self.choice_hist[rows, tc] = choice
        # fresh state arrays: the ones in ``out`` must not alias state that a later reset edits in place
        self.t = t + 1
        self.last_slate = a.copy()
        self.last_choice = choice.copy()
        self._advance(a, choice, out)
        out["terminated"] = self.t >= self.cfg.horizon
        return out

    def _respond(
        self, a: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(choices [n], objectives [n, 3], info entries listed before and after the common ones)."""
        raise NotImplementedError

    def _advance(self, a: np.ndarray, choice: np.ndarray, out: dict[str, np.ndarray]) -> None:
        """Move the user model's own state on, after ``t``, the history and the last slate/choice were updated."""
        raise NotImplementedError


def last_step_text(tables: dict, slate: int, choice: int) -> str:
    """``slate=… choice=…`` of the ansi render ("-" before the first step)."""
    shown = "-" if slate < 0 else f"{tables['slate_means'][slate]:.0f}°"
    chosen = "-" if choice < 0 else f"{10 * choice}°"
    return f"slate={shown} choice={chosen}"


class UserBatch(SlateUsers):
    """State of ``n`` ground-truth users; every method is one array operation over users.

    Implements :class:`recsim_envs.utils.shell.FamilyModel` (``SlateUsers`` and the end of the class)."""

    _cohort: list[np.ndarray] | tuple = ()  # render history of a single env (see render_record)

    def __init__(self, config: PreferenceShiftConfig, n: int):
        self.cfg = config
        self.n = n
        h = config.horizon
        self.keys = np.zeros(n, dtype=np.uint64)
        self.t = np.zeros(n, dtype=np.int64)
        self.u = np.zeros(n, dtype=np.int64)
        self.u0 = np.zeros(n, dtype=np.int64)
        self.last_slate = np.full(n, -1, dtype=np.int64)
        self.last_choice = np.full(n, -1, dtype=np.int64)
        self.slate_hist = np.zeros((n, h), dtype=np.int64)
        self.choice_hist = np.zeros((n, h), dtype=np.int64)
        self.pref_hist = np.zeros((n, h + 1), dtype=np.int64)
        # oracle beliefs [n, 3, 36], kept current by reset/step (see recsim_envs.preference.oracle for the two
        # exact update rules and when each is used)
        self.beliefs = self.filt = self.joint = None
        if config.obs_mode == "oracle_beliefs":
            self.beliefs = np.zeros((n, 3, N_BINS))
            if h >= ORACLE_JOINT_FROM_HORIZON:
                self.joint = np.zeros((n, N_BINS, N_BINS))
            else:  # the predictive belief is kept in place in beliefs[:, 0]
                self.filt = self.beliefs[:, 0]

    # -- episode start -----------------------------------------------------------------------------------
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        """Start new episodes for users in ``mask`` with the given stream keys."""
        tb = self.cfg.tables
        self.keys[mask] = keys
        u = np.minimum(
            (tb["prior_cdf"][None, :] <= crng.uniforms(keys, 0, _STREAM_INITIAL)[:, None]).sum(axis=1), N_BINS - 1
        )
        self.u[mask] = u
        self.u0[mask] = u
        self.t[mask] = 0
        self.last_slate[mask] = -1
        self.last_choice[mask] = -1
        self.pref_hist[mask, 0] = u
        if self.beliefs is not None:
            prior = tb["prior"]
            self.beliefs[mask] = prior  # (the backward rule's predictive belief self.filt is beliefs[:, 0])
            if self.joint is not None:
                self.joint[mask] = np.diag(prior)

    # -- one step for every user -----------------------------------------------------------------------
    def _respond(
        self, a: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        tb = self.cfg.tables
        u, u0 = self.u, self.u0
        # every metric is a scalar gather from a precomputed table (no per-user [36]-vector work), all users in
        # one compiled pass with the two draws
        expnat = tb.get("expected_natural_cos", _NO_TABLE)
        choice, nxt, objectives, expected = _respond_users(
            self.keys, t, a, u, u0, tb["emission_cdf"], tb["transition_cdf"], COS, tb["natural_cos"],
            tb["expected_cos"], expnat,
        )  # fmt: skip
        before = dict(preference_bin=u.copy(), next_preference_bin=nxt, initial_preference_bin=u0.copy())
        after = dict(
            expected_engagement=expected[0],
            expected_engagement_initial=expected[1],
            expected_engagement_natural=(
                expected[2]
                if expnat.shape[0]
                else np.einsum("nx,nx->n", tb["emission"][a, u], tb["natural_cos"][t, u0])
            ),
        )
        return choice, objectives, before, after

    def _advance(self, a: np.ndarray, choice: np.ndarray, out: dict[str, np.ndarray]) -> None:
        nxt = out["next_preference_bin"]
        self.u = nxt.copy()
        self.pref_hist[np.arange(self.n), np.minimum(self.t, self.cfg.horizon)] = nxt
        if self.beliefs is not None:
            self._advance_beliefs(a, choice)

    def _advance_beliefs(self, a: np.ndarray, choice: np.ndarray) -> None:
        tb = self.cfg.tables
        if self.beliefs is None:
            return
        idx = np.flatnonzero(self.t <= self.cfg.horizon)  # (stepping past the horizon leaves beliefs as they are)
        if self.joint is not None:
            oracle_beliefs_joint(
                idx, self.t, self.joint, a, choice, tb["emission_by_choice"], tb["transition_t"],
                tb["natural_powers_t"], self.beliefs,
            )  # fmt: skip
        elif self.filt is not None:
            oracle_beliefs_backward(
                idx, self.t, self.slate_hist, self.choice_hist, tb["emission_by_choice"],
                tb["transition"], tb["transition_t"], tb["prior"], tb["natural_powers_t"], self.beliefs,
                tb["backward_first"],
            )  # fmt: skip

    # -- observations ----------------------------------------------------------------------------------
    def observations(self) -> np.ndarray:
        beliefs = _NO_BELIEFS if self.beliefs is None else self.beliefs.reshape(self.n, 3 * N_BINS)
        return _observations(self.cfg.tables["obs_pairs"], self.last_slate, self.last_choice, self.t,
                             self.cfg.horizon, beliefs)  # fmt: skip

    def oracle_beliefs(self) -> np.ndarray:
        """[n, 3, 36]: NHMM predictive belief over u_t, smoothed belief over u_0, natural-shift belief over
        u_t^rnd, all given the choices x_0..x_{t−1} (exact; updated once per step, not recomputed here)."""
        if self.beliefs is None:
            raise ValueError("oracle beliefs need obs_mode='oracle_beliefs'")
        return self.beliefs.copy()

    # -- env interface (recsim_envs.utils.shell.FamilyModel; the rest in SlateUsers) ------------------------
    def reset_info(self) -> dict[str, np.ndarray]:
        return {"preference_bin": self.u.copy(), "initial_preference_bin": self.u0.copy(), "t": self.t.copy()}

    def next_info(self) -> dict[str, np.ndarray]:
        # the preference the next slate will meet (a vector env's finished users: after their autoreset)
        return {"next_preference_bin": self.u.copy()}

    def render_reset(self) -> None:
        self._cohort = [self.cfg.tables["prior"].copy()]

    def render_record(self, out: dict[str, Any], single: bool) -> None:
        if single:  # the cohort's distribution under the slates shown to user 0 (the single env's heatmap)
            self._cohort.append(self._cohort[-1] @ self.cfg.tables["transition"][int(out["slate"][0])])  # type: ignore[union-attr]

    def render(self, mode: str, single: bool) -> str | np.ndarray:
        tb = self.cfg.tables
        if not single:
            if mode == "ansi":
                return f"{self.n} users, t={int(self.t.max())}/{self.cfg.horizon}, mean u={self.u.mean() * 10:.0f}°"
            # population histogram of true preferences at each step (the paper's Fig. 1 heatmap)
            hist = self.pref_hist[:, : int(self.t.max()) + 1]
            dists = np.stack([np.bincount(hist[:, t], minlength=36) / self.n for t in range(hist.shape[1])])
            return preference_heatmap(dists)
        if mode == "ansi":
            return (
                f"t={int(self.t[0])}/{self.cfg.horizon} u={10 * self.u[0]}° u0={10 * self.u0[0]}° "
                f"{last_step_text(tb, self.last_slate[0], self.last_choice[0])}"
            )
        dists = np.stack(self._cohort) if len(self._cohort) else tb["prior"][None]
        return preference_heatmap(dists, self.pref_hist[0, : len(dists)])
