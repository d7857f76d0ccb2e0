"""Batched simulation core of the harm-exposure env, shared by the single env, the vector env and benchmarks.

``HarmConfig`` validates the ``make`` kwargs and loads the catalogue once; ``HarmUserBatch`` holds ``n`` users'
state as arrays and advances all of them with one choice draw each (counter-based streams, so user i of a batch
equals a single env seeded ``seed + i``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from recsim_envs.harm.data import Catalogue, get_catalogue
from recsim_envs.harm.model import HarmParams, SamplingPolicy, organic_choice, scores
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import Bool, Choice, Int, Real, check_params

ACTION_TYPES = ("items", "probabilities")
OBJECTIVE_NAMES = ("click", "harm")

_STREAM_USER, _STREAM_CHOICE, _STREAM_INCLUDE = 0, 1, 2

#: default outside-option weight for the synthetic catalogue, k = 1 (calibrated, see HarmMitigationEnv docstring)
DEFAULT_C = 6.0


#: ``make`` kwargs of the HarmMitigation ids with a fixed documented range (validation and the registry-wide
#: property test read this table); ``k`` is also bounded by the number of recommendable items, and
#: max(alpha_harmful, alpha_benign) + beta ≤ 1. ``dataset``, ``genre``, ``parental_guide``, ``labels``: see
#: ``get_catalogue``.
PARAMS: dict = {
    "n_items": Int(2, 100_000),
    "n_users": Int(1, 1_000_000),
    "k": Int(1, None, high_ref="n_candidates"),
    "c": Real(0.0, 1e9, low_inclusive=False),
    "lam": Real(0.0, 1e9),
    "alpha_harmful": Real(0.0, 1.0),
    "alpha_benign": Real(0.0, 1.0),
    "beta": Real(0.0, 1.0, low_inclusive=False),
    "horizon": Int(1, 10**9),
    "action_type": Choice(ACTION_TYPES),
    "allow_harmful": Bool(),
    "analytic_info": Bool(),
    "catalogue_seed": Int(0, 2**31 - 1),
}


@dataclass
class HarmConfig:
    dataset: str = "synthetic"
    genre: str | None = "Sci-Fi"
    n_items: int = 100
    n_users: int = 100
    k: int = 1
    c: float = DEFAULT_C
    lam: float = 100.0
    alpha_harmful: float = 0.5
    alpha_benign: float = 0.25
    beta: float = 0.2
    horizon: int = 100
    action_type: str = "items"
    allow_harmful: bool = False
    parental_guide: str | None = None
    labels: str | None = None
    catalogue_seed: int = 0
    analytic_info: bool = True
    catalogue: Catalogue = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.dataset, str) or not (self.dataset == "synthetic" or os.path.isdir(self.dataset)):
            raise ValueError(f"dataset must be 'synthetic' or an existing MovieLens directory, got {self.dataset!r}")
        if self.genre is not None and not isinstance(self.genre, str):
            raise ValueError(f"genre must be a MovieLens genre name or None, got {self.genre!r}")
        for name, value in check_params(vars(self), {n: v for n, v in PARAMS.items() if n != "k"}).items():
            setattr(self, name, value)
        a_max = max(self.alpha_harmful, self.alpha_benign)
        if a_max + self.beta > 1.0:
            raise ValueError(
                f"alpha_harmful, alpha_benign and beta must satisfy max(alpha) + beta <= 1, got "
                f"max(alpha)={a_max} + beta={self.beta} = {a_max + self.beta}"
            )
        if self.catalogue is None:
            self.catalogue = get_catalogue(
                self.dataset,
                self.genre,
                self.n_items,
                self.n_users,
                self.parental_guide,
                self.labels,
                self.catalogue_seed,
            )
        cat = self.catalogue
        self.candidates = np.arange(cat.n_items) if self.allow_harmful else np.flatnonzero(~cat.harmful)
        if self.candidates.size == 0:
            raise ValueError("allow_harmful=False leaves no recommendable item (every item is harmful)")
        self.k = PARAMS["k"].check("k", self.k, {"n_candidates": int(self.candidates.size)})
        self.params = HarmParams(self.lam, self.alpha_harmful, self.alpha_benign, self.beta)
        self.alpha = self.params.alphas(cat.harmful)
        # profiles stay in the convex hull of {u0} ∪ V: the observation box, and a bound on s_Ω for quadrature
        pts = np.concatenate([cat.U0, cat.V])
        span = pts.max(0) - pts.min(0)
        self.obs_low = pts.min(0) - 1e-3 * span - 1e-6
        self.obs_high = pts.max(0) + 1e-3 * span + 1e-6
        self.s_bound = float(scores(pts, cat.V).sum(-1).max())
        self.sampling = SamplingPolicy(self.c, self.k, s_bound=self.s_bound)
        self.harm_direction = (
            cat.V[cat.harmful].mean(0) - cat.V[~cat.harmful].mean(0) if cat.harmful.any() else (np.zeros(cat.dim))
        )

    @property
    def dim(self) -> int:
        return self.catalogue.dim

    @property
    def n_candidates(self) -> int:
        return int(self.candidates.size)

    @property
    def obs_dim(self) -> int:
        return 2 * self.dim + 1

    def reward_weights(self) -> np.ndarray:
        """Scalar reward = objectives · weights, objectives = (click, −harm): weights (1, λ)."""
        return np.array([1.0, self.lam])

    # -- action decoding (shared by single and vector envs) -----------------------------------------------------
    def decode_items(self, actions) -> np.ndarray:
        """[m, k] candidate indices → [m, k] catalogue items; ValueError on out-of-range or duplicate entries."""
        a = np.asarray(actions)
        m = a.shape[0]
        if a.ndim != 2 or a.shape[1] != self.k:
            raise ValueError(f"action must hold k={self.k} item indices, got shape {a.shape[1:]}")
        if not (np.issubdtype(a.dtype, np.integer) or (np.issubdtype(a.dtype, np.floating) and np.all(a == a // 1))):
            raise ValueError(f"action must be integer item indices in [0, {self.n_candidates - 1}], got {actions!r}")
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= self.n_candidates):
            raise ValueError(
                f"action item indices must be in [0, {self.n_candidates - 1}] (index into the recommendable items), "
                f"got min {a.min()}, max {a.max()}"
            )
        if self.k > 1:
            srt = np.sort(a, axis=1)
            dup = (srt[:, 1:] == srt[:, :-1]).any(1)
            if dup.any():
                raise ValueError(f"action must hold k={self.k} distinct items, got duplicates in {a[dup][0].tolist()}")
        return self.candidates[a].reshape(m, self.k)

    def decode_probabilities(self, actions) -> np.ndarray:
        """[m, n_candidates] weights in [0, 1] → [m, n] inclusion probabilities q = a·min(1, k/Σa) (Σq ≤ k)."""
        a = np.asarray(actions, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != self.n_candidates:
            raise ValueError(f"action must hold {self.n_candidates} inclusion probabilities, got shape {a.shape[1:]}")
        if not np.all(np.isfinite(a)) or a.min() < 0.0 or a.max() > 1.0:
            raise ValueError(f"inclusion probabilities must be finite and in [0, 1], got min {a.min()}, max {a.max()}")
        total = a.sum(1, keepdims=True)
        scale = np.minimum(1.0, self.k / np.maximum(total, 1e-300))
        q = np.zeros((a.shape[0], self.catalogue.n_items))
        q[:, self.candidates] = a * scale
        return q


class HarmUserBatch:
    """State of ``n`` users; every method is one array operation over users."""

    def __init__(self, config: HarmConfig, n: int):
        self.cfg = config
        self.n = n
        d = config.dim
        self.keys = np.zeros(n, dtype=np.uint64)
        self.user = np.zeros(n, dtype=np.int64)
        self.U = np.zeros((n, d))
        self.U0 = np.zeros((n, d))
        self.t = np.zeros(n, dtype=np.int64)

    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        cfg = self.cfg
        self.keys[mask] = keys
        user = np.minimum((crng.uniforms(keys, 0, _STREAM_USER) * cfg.n_users).astype(np.int64), cfg.n_users - 1)
        self.user[mask] = user
        self.U0[mask] = cfg.catalogue.U0[user]
        self.U[mask] = self.U0[mask]
        self.t[mask] = 0

    def observations(self) -> np.ndarray:
        obs = np.empty((self.n, self.cfg.obs_dim), dtype=np.float32)
        d = self.cfg.dim
        obs[:, :d] = self.U
        obs[:, d : 2 * d] = self.U0
        obs[:, 2 * d] = self.t / self.cfg.horizon
        return obs

    def step(self, actions) -> dict[str, np.ndarray]:
        """One step for every user: recommendation → click or organic choice → attraction update."""
        cfg = self.cfg
        cat = cfg.catalogue
        n_items = cat.n_items
        m = self.n
        rows = np.arange(m)
        s = scores(self.U, cat.V)
        sig = organic_choice(s)
        if cfg.action_type == "items":
            items = cfg.decode_items(actions)
            in_E = np.zeros((m, n_items), dtype=bool)
            in_E[rows[:, None], items] = True
            q = None
        else:
            q = cfg.decode_probabilities(actions)
            cnt = self.t[:, None] * np.uint64(n_items) + np.arange(n_items, dtype=np.uint64)[None, :]
            draws = crng.uniforms(self.keys[:, None], cnt.astype(np.uint64), _STREAM_INCLUDE)
            in_E = draws < q
        sE = (s * in_E).sum(1)
        den = sE + cfg.c
        p_click = np.where(in_E, s, 0.0) / den[:, None]
        p_org = (cfg.c / den)[:, None] * sig
        u = crng.uniforms(self.keys, self.t, _STREAM_CHOICE)
        idx = crng.categorical(np.concatenate([p_click, p_org], axis=1), u)
        click = idx < n_items
        item = np.where(click, idx, idx - n_items)
        harm = cat.harmful[item]
        # analytic pCLK / pH of this step's action at the profile it met
        if q is None:
            pclk = sE / den
            ph = (p_click + p_org)[:, cat.harmful].sum(1)
        elif not cfg.analytic_info:  # the exact sampling expectation costs [m, n, nodes]; opt-out for long runs
            pclk = ph = None
        elif not cfg.allow_harmful:  # q_H = 0: pH = o σ_H, and o alone is much cheaper than the full click model
            o = cfg.sampling.organic_probability(q, s)
            pclk = 1.0 - o
            ph = o * sig[:, cat.harmful].sum(1)
        else:
            cm = cfg.sampling.clicks(q, s)
            pclk = 1.0 - cm.o
            ph = (cm.r + cm.o[:, None] * sig)[:, cat.harmful].sum(1)
        objectives = np.stack([click.astype(np.float64), -harm.astype(np.float64)], 1)
        prev = self.U
        a = cfg.alpha[item][:, None]
        self.U = (1.0 - a - cfg.beta) * prev + a * cat.V[item] + cfg.beta * self.U0
        self.t = self.t + 1
        out = dict(
            click=click.astype(np.float64),
            harm=harm.astype(np.float64),
            item=item,
            recommended_mask=in_E,
            profile=self.U.copy(),
            previous_profile=prev,
            pclk=pclk,
            ph=ph,
            harm_share=sig[:, cat.harmful].sum(1),
            user=self.user.copy(),
            t=self.t.copy(),
            objectives=objectives.astype(np.float32),
            reward=objectives @ cfg.reward_weights(),
            terminated=self.t >= cfg.horizon,
        )
        if pclk is None:
            del out["pclk"], out["ph"]
        return out
