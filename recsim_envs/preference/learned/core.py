"""Batched simulation of users drawn from the learned model (Algorithm 3), shared by the single and vector envs.

``LearnedShiftConfig`` validates the ``make`` kwargs and loads the checkpoint once per process (cached by path
and modification time); ``LearnedUserBatch`` advances ``n`` simulated users with one *incremental* network step
per estimator per step (the keys and values of earlier steps are cached, ``network.IncrementalEncoder``), so a
step costs the same at t = 9 as at t = 0. Nothing here needs torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange

from recsim_envs.preference.core import _STREAM_CHOICE, SlateConfig, SlateUsers, last_step_text
from recsim_envs.preference.core import PARAMS as GROUND_TRUTH_PARAMS
from recsim_envs.preference.learned.algorithms import natural_shift_table
from recsim_envs.preference.learned.network import (
    DEFAULT_CHECKPOINT,
    LearnedUserModel,
    correct_row,
    rows_times_tables,
    start_tokens,
)
from recsim_envs.preference.model import expected_engagement
from recsim_envs.preference.render import preference_heatmap
from recsim_envs.preference.world import COS, N_BINS, THETA, VECTORS, action_slates
from recsim_envs.utils import rng as crng
from recsim_envs.utils.kernels import CHUNK, run_chunked
from recsim_envs.utils.validation import Choice, Device, Int, check_int, check_params
from recsim_envs.utils.validation import Path as PathSpec

OBS_MODES = ("history", "model_beliefs")

#: the ``make`` kwargs of the PreferenceShiftLearned ids and their documented ranges (validation and the
#: registry-wide property test read this table); ``horizon`` is also bounded by the checkpoint's horizon
PARAMS: dict = {
    "checkpoint": PathSpec("file", optional=True),
    "horizon": Int(1, None, high_ref="checkpoint_horizon"),
    **{k: GROUND_TRUTH_PARAMS[k] for k in ("slate_std_deg", "slate_kernel", "action_set", "nu_initial", "nu_natural")},
    "obs_mode": Choice(OBS_MODES),
    # None: the network runs in NumPy and compiled kernels; a torch device ("cuda", "cpu"): in torch there
    "device": Device(),
}

_MODEL_CACHE: dict[tuple[str, float], LearnedUserModel] = {}


def load_model(checkpoint: str | None) -> LearnedUserModel:
    """The checkpoint at ``checkpoint`` (``None``: the shipped default), loaded once per process."""
    checkpoint = PARAMS["checkpoint"].check("checkpoint", checkpoint)
    path = DEFAULT_CHECKPOINT if checkpoint is None else Path(checkpoint)
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _MODEL_CACHE:
        model = LearnedUserModel.load(path)
        if model.natural_table is None:
            model.natural_table = natural_shift_table(model)
        _MODEL_CACHE[key] = model
    return _MODEL_CACHE[key]


@dataclass
class LearnedShiftConfig(SlateConfig):
    checkpoint: str | None = None
    horizon: int = 10
    device: str | None = None
    model: LearnedUserModel = field(init=False, repr=False)

    def __post_init__(self):
        self.model = load_model(self.checkpoint)
        values = {**vars(self), "checkpoint_horizon": self.model.horizon}
        for name, value in check_params(values, {k: v for k, v in PARAMS.items() if k != "checkpoint"}).items():
            setattr(self, name, value)
        slates, means, stds = action_slates(self.action_set, self.slate_std_deg, self.slate_kernel)
        emission = self.model.emission(slates)  # [A, u, x] under the model's (known) choice model
        empty = np.zeros((1, 0), dtype=np.int64)
        prior = self.model.future_belief_at(np.zeros((1, 0, N_BINS)), empty, np.zeros(1, dtype=np.int64))[0]
        self.tables = dict(
            slates=slates,
            slate_means=means,
            slate_stds=stds,
            emission=emission,
            # [A, u]: Σ_x P(x | s_a, u) xᵀu, the engagement under the current preference
            expected_cos=np.diagonal(expected_engagement(emission), axis1=-2, axis2=-1).copy(),
            prior=prior,
        )


def mean_angle_deg(dist: np.ndarray) -> np.ndarray:
    """Circular mean (degrees in [0, 360)) of distributions over the bins [..., 36]."""
    dist = np.asarray(dist, dtype=np.float64)
    flat = np.ascontiguousarray(dist.reshape(-1, dist.shape[-1]))
    out = np.empty(flat.shape[0])
    _mean_angle_rows(flat, VECTORS, out)
    return out.reshape(dist.shape[:-1])


@njit(cache=True, fastmath=True, nogil=True)
def mean_angle_row(dist, vectors):
    """:func:`mean_angle_deg` of one distribution (the formula's one place; compiled callers use it too)."""
    c = s = 0.0
    for u in range(dist.shape[0]):
        c += dist[u] * vectors[u, 0]
        s += dist[u] * vectors[u, 1]
    return np.rad2deg(np.arctan2(s, c)) % 360.0


@njit(cache=True, nogil=True)
def _mean_angle_rows(dist, vectors, out):
    for i in range(dist.shape[0]):
        out[i] = mean_angle_row(dist[i], vectors)


@njit(cache=True, fastmath=True, nogil=True)
def _chosen_rows(lo, hi, belief, emission, expected_cos, a, choice, t, cos, lik_x0, objectives, expected):
    """The step's scores before the network, users ``lo..hi``: the engagement of the chosen item under the
    belief updated by the choice, Σ_u p̂(u) P(x | s, u) xᵀu / Σ_u p̂(u) P(x | s, u); the choice-marginalised
    engagement Σ_u p̂(u) expected_cos[a, u]; and P(x_0 | s_0, u) kept for the App. E.2 correction at t = 0."""
    nb = belief.shape[1]
    for i in range(lo, hi):
        ai, c = a[i], choice[i]
        num = den = ex = 0.0
        for u in range(nb):
            pl = belief[i, u] * emission[ai, u, c]
            den += pl
            num += pl * cos[u, c]
            ex += belief[i, u] * expected_cos[ai, u]
        objectives[i, 0] = num / den
        expected[i] = ex
        if t[i] == 0:
            for u in range(nb):
                lik_x0[i, u] = emission[ai, u, c]


@njit(cache=True, fastmath=True, nogil=True)
def _scored_rows(lo, hi, raw, lik_x0, natural_table, t, choice, cos, vectors, belief_t, init_out, objectives,
                 mean_t, mean_init):  # fmt: skip
    """The step's scores after the network, users ``lo..hi``: P̂_i(u_0 | x_0..x_t) (``correct_row`` of the raw
    read-out), the natural shift P̂(u_t^rnd) = Σ_{u0} P̂_i(u0) table[t, u0], the engagement of the chosen item
    under each, and the circular means of the belief before the step and of P̂_i."""
    nb = raw.shape[1]
    nat = np.empty(nb)
    for i in range(lo, hi):
        c, init = choice[i], init_out[i]
        correct_row(raw[i], lik_x0[i], init)
        table = natural_table[t[i]]
        for v in range(nb):
            nat[v] = 0.0
        e1 = 0.0
        for u in range(nb):
            e1 += init[u] * cos[u, c]
            w = init[u]
            for v in range(nb):
                nat[v] += w * table[u, v]
        e2 = 0.0
        for v in range(nb):
            e2 += nat[v] * cos[v, c]
        objectives[i, 1] = e1
        objectives[i, 2] = e2
        mean_t[i] = mean_angle_row(belief_t[i], vectors)
        mean_init[i] = mean_angle_row(init, vectors)


@njit(cache=True, nogil=True, parallel=True)
def _chosen_parallel(belief, emission, expected_cos, a, choice, t, cos, lik_x0, objectives, expected):
    m = belief.shape[0]
    for c in prange((m + CHUNK - 1) // CHUNK):
        _chosen_rows(c * CHUNK, min(m, (c + 1) * CHUNK), belief, emission, expected_cos, a, choice, t, cos, lik_x0,
                     objectives, expected)  # fmt: skip


@njit(cache=True, nogil=True, parallel=True)
def _scored_parallel(raw, lik_x0, natural_table, t, choice, cos, vectors, belief_t, init_out, objectives, mean_t,
                     mean_init):  # fmt: skip
    m = raw.shape[0]
    for c in prange((m + CHUNK - 1) // CHUNK):
        _scored_rows(c * CHUNK, min(m, (c + 1) * CHUNK), raw, lik_x0, natural_table, t, choice, cos, vectors,
                     belief_t, init_out, objectives, mean_t, mean_init)  # fmt: skip


class LearnedUserBatch(SlateUsers):
    """``n`` users simulated from the learned model: beliefs, histories and the penalised reward (Algorithm 3).

    Per step: belief p̂_t = P̂_f(u_t | history); choice x_t ~ Σ_u p̂_t(u) P(x | s_t, u); estimated components
    r̂_t = Σ_u p̂_t(u | x_t) x_tᵀu (the belief updated by the choice; its mean over x_t is the choice-marginalised
    ``expected_engagement`` Σ_u p̂_t(u) Σ_x P(x | s_t, u) xᵀu), r̂_t(u_0) = x_tᵀ E[u_0] with
    u_0 ~ P̂_i(u_0 | history incl. x_t) (E.2-corrected), and
    r̂_t(u_t^rnd) = x_tᵀ E[u_t^rnd] with P̂(u_t^rnd) = Σ_{u0} P̂_i(u0) table[t, u0] (Algorithm 2).

    Implements :class:`recsim_envs.utils.shell.FamilyModel` (``SlateUsers`` and the end of the class).
    """

    #: batches from this many users on score their steps on numba's threads (the passes are light: below this,
    #: waking the thread pool costs more than it saves — measured at 1,024 users on a 16-core machine)
    PARALLEL_FROM = 8192

    def __init__(self, config: LearnedShiftConfig, n: int):
        self.cfg = config
        self.n = n
        model = config.model
        h = model.horizon
        # P̂_f and P̂_i run as one stack (one compiled pass per step for both); the slate part of each action's
        # step token is embedded once ([2, A, d], ``IncrementalEncoder.embed_steps``)
        self.encoders = model.encoder(("future", "initial"), n, config.device)
        self.slate_rows = self.encoders.slate_embedding(config.tables["slates"])
        self.keys = np.zeros(n, dtype=np.uint64)
        self.t = np.zeros(n, dtype=np.int64)
        self.slate_hist = np.zeros((n, h), dtype=np.int64)
        self.choice_hist = np.zeros((n, h), dtype=np.int64)
        self.last_slate = np.full(n, -1, dtype=np.int64)
        self.last_choice = np.full(n, -1, dtype=np.int64)
        self.lik_x0 = np.ones((n, N_BINS))  # P(x_0 | s_0, u): the App. E.2 factor of P̂_i
        self.belief = np.zeros((n, N_BINS))
        self.init_belief = np.zeros((n, N_BINS))
        self.belief_hist = np.zeros((n, h + 1, N_BINS))

    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        rows = np.flatnonzero(mask)
        self.encoders.restart(rows)
        # token 0 of both: P̂_f's read-out is the learned population prior P̂_f(u_0); P̂_i's is unused (no step seen)
        _, beliefs = self.encoders.append_embedded(self.encoders.embed(start_tokens(rows.size)), rows, beliefs=True)
        prior = beliefs[0]
        self.keys[rows] = keys
        self.t[rows] = 0
        self.slate_hist[rows] = 0
        self.choice_hist[rows] = 0
        self.last_slate[rows] = -1
        self.last_choice[rows] = -1
        self.lik_x0[rows] = 1.0
        self.belief[rows] = prior
        self.init_belief[rows] = prior
        self.belief_hist[rows] = 0.0
        self.belief_hist[rows, 0] = prior

    def _respond(
        self, a: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        cfg, tb = self.cfg, self.cfg.tables
        n = self.n
        q = rows_times_tables(self.belief, tb["emission"], a)  # [n, x]: Σ_u p̂_t(u) P(x | s_t, u)
        choice = crng.categorical(q, crng.uniforms(self.keys, t, _STREAM_CHOICE))
        objectives = np.empty((n, 3))
        expected = np.empty(n)
        args: tuple[Any, ...] = (self.belief, tb["emission"], tb["expected_cos"], a, choice, t, COS, self.lik_x0,
                                 objectives, expected)  # fmt: skip
        run_chunked(_chosen_rows, _chosen_parallel, n, *args, parallel_from=self.PARALLEL_FROM)
        belief_t = self.belief
        first = t == 0
        hidden = np.stack([np.zeros_like(first), first])  # P̂_i never sees x_0
        x = self.encoders.embed_steps(self.slate_rows[:, a], choice, hidden)
        _, (self.belief, raw) = self.encoders.append_embedded(x, beliefs=True)
        self.init_belief = np.empty((n, N_BINS))
        means = np.empty((2, n))
        args = (raw, self.lik_x0, cfg.model.natural_table, t, choice, COS, VECTORS, belief_t, self.init_belief,
                objectives, means[0], means[1])  # fmt: skip
        run_chunked(_scored_rows, _scored_parallel, n, *args, parallel_from=self.PARALLEL_FROM)
        after = dict(expected_engagement=expected, belief_mean_deg=means[0], initial_belief_mean_deg=means[1])
        return choice, objectives, {}, after

    def _advance(self, a: np.ndarray, choice: np.ndarray, out: dict[str, np.ndarray]) -> None:
        self.belief_hist[np.arange(self.n), self.t] = self.belief

    def observations(self) -> np.ndarray:
        cfg = self.cfg
        n = self.n
        obs = np.zeros((n, cfg.obs_dim), dtype=np.float32)
        shown = self.last_slate >= 0
        obs[shown, :N_BINS] = cfg.tables["slates"][self.last_slate[shown]]
        obs[shown, N_BINS + self.last_choice[shown]] = 1.0
        obs[:, 2 * N_BINS] = self.t / cfg.horizon
        if cfg.obs_mode == "model_beliefs":
            obs[:, 2 * N_BINS + 1 :] = self.model_beliefs().reshape(n, 3 * N_BINS)
        return obs

    def model_beliefs(self) -> np.ndarray:
        """[n, 3, 36]: P̂_f(u_t | history), P̂_i(u_0 | history), P̂(u_t^rnd) — the learned twins of the oracle beliefs."""
        natural = self.cfg.model.natural_shift(self.init_belief, np.minimum(self.t, self.cfg.model.horizon))
        return np.stack([self.belief, self.init_belief, natural], axis=1)

    # -- env interface (recsim_envs.utils.shell.FamilyModel; the rest in SlateUsers) ------------------------
    def reset_info(self) -> dict[str, np.ndarray]:
        return {"t": self.t.copy()}

    def render(self, mode: str, single: bool) -> str | np.ndarray:
        if not single:
            t = int(self.t.max())
            if mode == "ansi":
                mode_deg = self.belief.argmax(1).mean() * 10
                return f"{self.n} simulated users, t={t}/{self.cfg.horizon}, mean belief mode={mode_deg:.0f}°"
            # population average of the learned beliefs P̂_f(u_t | history) over time
            return preference_heatmap(self.belief_hist[:, : t + 1].mean(axis=0))
        t = int(self.t[0])
        if mode == "ansi":
            return (
                f"t={t}/{self.cfg.horizon} belief mode={10 * int(self.belief[0].argmax())}° "
                f"{last_step_text(self.cfg.tables, self.last_slate[0], self.last_choice[0])}"
            )
        return preference_heatmap(self.belief_hist[0, : t + 1])


def generate_penalised_trajectories(
    policy: Callable[[np.ndarray, dict], np.ndarray],
    n_users: int,
    seed: int = 0,
    **env_kwargs: Any,
) -> dict[str, np.ndarray]:
    """Algorithm 3: ``n_users`` simulated episodes of the learned-simulator env under ``policy``.

    ``policy(obs [n, d], info) -> slate indices [n]`` (the baselines' batched ``act``); ``env_kwargs`` are
    ``PreferenceShiftLearned-v0`` kwargs (checkpoint, ν weights, action set, …). Returns per-step arrays
    [n, T] of ``slates``, ``choices``, ``reward`` and the three estimated components, plus the final
    initial-preference beliefs [n, 36].
    """
    cfg = LearnedShiftConfig(**env_kwargs)
    batch = LearnedUserBatch(cfg, check_int("n_users", n_users, 1, 10_000_000))
    keys = crng.seed_to_key(np.arange(n_users) + check_int("seed", seed, 0, 2**62))
    batch.reset(np.ones(n_users, dtype=bool), keys)
    names = ("reward", "engagement", "engagement_initial", "engagement_natural", "expected_engagement")
    out: dict[str, list] = {k: [] for k in (*names, "slates", "choices")}
    info: dict = {}
    for _ in range(cfg.horizon):
        step = batch.step(np.asarray(policy(batch.observations(), info), dtype=np.int64))
        info = step
        for k in names:
            out[k].append(step[k])
        out["slates"].append(step["slate"])
        out["choices"].append(step["choice_bin"])
    res = {k: np.stack(v, axis=1) for k, v in out.items()}
    res["initial_belief"] = batch.init_belief.copy()
    return res


__all__ = ["LearnedShiftConfig", "LearnedUserBatch", "generate_penalised_trajectories", "load_model", "THETA"]
