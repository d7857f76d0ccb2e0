"""Batched simulation core of the harm-exposure env, shared by the single env, the vector env and benchmarks.

``HarmConfig`` validates the ``make`` kwargs and loads the catalogue once; ``HarmUserBatch`` holds ``n`` users'
state as arrays and advances all of them with one choice draw each (counter-based streams, so user i of a batch
equals a single env seeded ``seed + i``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from recsim_envs.harm.data import UNSET, Catalogue, as_catalogue, get_catalogue
from recsim_envs.harm.model import (
    HarmParams,
    SamplingClickModel,
    attraction_step,
    organic_choice,
    scores,
    slate_choice,
)
from recsim_envs.harm.render import trajectory_image
from recsim_envs.utils import rng as crng
from recsim_envs.utils.shell import ModelBase
from recsim_envs.utils.validation import Bool, Choice, Int, Maybe, Real, check_params

ACTION_TYPES = ("items", "probabilities", "logits")
#: above this many (profile, item) pairs the exact bound on s_Ω is replaced by the bounding-box bound (O(n·d))
_EXACT_BOUND_PAIRS = 20_000_000
OBJECTIVE_NAMES = ("click", "harm")
#: ``"logits"`` actions a ∈ [-1, 1]^n_rec (a normalised Box, as SB3 and gymnasium's checker ask) are logits
#: x = LOGIT_SCALE · a; the decoder accepts any real or ±inf a
LOGIT_SCALE = 5.0

_STREAM_USER, _STREAM_CHOICE, _STREAM_INCLUDE = 0, 1, 2

#: default outside-option weight for the synthetic catalogue, k = 1 (calibrated, see HarmMitigationEnv docstring)
DEFAULT_C = 6.0


#: ``make`` kwargs of the HarmMitigation ids with a fixed documented range (validation and the registry-wide
#: property test read this table); ``k`` is also bounded by the number of recommendable items, and
#: max(alpha_harmful, alpha_benign) + beta ≤ 1. ``dataset``, ``genre``, ``parental_guide``, ``labels``: see
#: ``get_catalogue``.
PARAMS: dict = {
    "n_items": Maybe(Int(2, 100_000)),
    "n_users": Maybe(Int(1, 1_000_000)),
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
    genre: str | None = UNSET  # type: ignore[assignment]
    n_items: int | None = None
    n_users: int | None = None
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
    catalogue: Catalogue | dict | str | os.PathLike | None = field(default=None, repr=False)
    #: weights given as ``reward_weights=`` (None: the paper's alias, (1, lam))
    weights_override: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.dataset, str) or not (self.dataset == "synthetic" or os.path.isdir(self.dataset)):
            raise ValueError(f"dataset must be 'synthetic' or an existing MovieLens directory, got {self.dataset!r}")
        if self.genre is not UNSET and self.genre is not None and not isinstance(self.genre, str):
            raise ValueError(f"genre must be a MovieLens genre name or None, got {self.genre!r}")
        for name, value in check_params(vars(self), {n: v for n, v in PARAMS.items() if n != "k"}).items():
            setattr(self, name, value)
        a_max = max(self.alpha_harmful, self.alpha_benign)
        if a_max + self.beta > 1.0:
            raise ValueError(
                f"alpha_harmful, alpha_benign and beta must satisfy max(alpha) + beta <= 1, got "
                f"max(alpha)={a_max} + beta={self.beta} = {a_max + self.beta}"
            )
        if self.catalogue is None and self.dataset == "synthetic":
            for name in ("genre", "parental_guide", "labels"):
                if getattr(self, name) not in (None, UNSET):
                    raise ValueError(
                        f"{name}={getattr(self, name)!r} applies to a MovieLens dataset only; the synthetic catalogue "
                        f"has no genres or real labels (pass dataset=<MovieLens directory> or drop {name})"
                    )
            self.genre = None
        elif self.catalogue is None and self.genre is UNSET:
            self.genre = "Sci-Fi"
        if self.catalogue is None:
            self.catalogue = get_catalogue(
                self.dataset,
                self.genre,
                100 if self.n_items is None else self.n_items,
                100 if self.n_users is None else self.n_users,
                self.parental_guide,
                self.labels,
                self.catalogue_seed,
            )
        else:
            given = {
                k: getattr(self, k)
                for k in ("genre", "parental_guide", "labels")
                if getattr(self, k) not in (None, UNSET)
            }
            if self.dataset != "synthetic":
                given["dataset"] = self.dataset
            if given:
                raise ValueError(
                    f"catalogue= supplies the items, users and harm flags; {sorted(given)} cannot be combined with it"
                )
            supplied = as_catalogue(self.catalogue)
            self.catalogue = supplied
            for name, have in (("n_items", supplied.n_items), ("n_users", supplied.n_users)):
                want = getattr(self, name)
                if want is not None and want != have:
                    raise ValueError(f"{name}={want} contradicts the supplied catalogue, which has {name}={have}")
        cat = self.cat
        self.n_items, self.n_users = cat.n_items, cat.n_users
        if self.genre is UNSET:
            self.genre = None
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
        self.s_bound = _score_sum_bound(pts, cat.V, self.obs_low, self.obs_high)
        self.sampling = SamplingClickModel(self.c, self.k, s_bound=self.s_bound)
        self.harm_direction = (
            cat.V[cat.harmful].mean(0) - cat.V[~cat.harmful].mean(0) if cat.harmful.any() else (np.zeros(cat.dim))
        )

    @property
    def cat(self) -> Catalogue:
        """The catalogue in use: ``catalogue`` as resolved by ``__post_init__`` (built, loaded or checked)."""
        return cast(Catalogue, self.catalogue)

    @property
    def dim(self) -> int:
        return self.cat.dim

    @property
    def n_candidates(self) -> int:
        return int(self.candidates.size)

    @property
    def obs_dim(self) -> int:
        return 2 * self.dim + 1

    def reward_weights(self) -> np.ndarray:
        """Scalar reward = objectives · weights, objectives = (click, −harm): weights (1, λ)."""
        if self.weights_override is not None:
            return self.weights_override
        return np.array([1.0, self.lam])

    # -- action decoding (shared by single and vector envs) -----------------------------------------------------
    def decode(self, actions: npt.ArrayLike, m: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """A batch of ``m`` actions → (items [m, k], None) for ``"items"`` or (None, q [m, n]) otherwise."""
        if self.action_type == "items":
            return self.decode_items(actions, m), None
        if self.action_type == "logits":
            return None, self.decode_logits(actions, m)
        return None, self.decode_probabilities(actions, m)

    def decode_items(self, actions: npt.ArrayLike, m: int | None = None) -> np.ndarray:
        """[m, k] (or [m] when k = 1) candidate indices → [m, k] catalogue items.

        Out-of-range or non-integer entries raise ``ValueError``. Repeated entries (k > 1) are resolved, so every
        point of ``MultiDiscrete([n_rec] * k)`` is a valid slate: reading the action left to right, an entry that
        repeats an earlier one is replaced by the lowest-numbered recommendable index the action does not name.
        """
        a = np.asarray(actions)
        m = a.shape[0] if (m is None and a.ndim) else m
        if self.k == 1 and a.shape == (m,):
            a = a[:, None]
        if a.shape != (m, self.k):
            want = f"an integer index in [0, {self.n_candidates - 1}]" if self.k == 1 else f"k={self.k} item indices"
            raise ValueError(f"action must be {want} per user (batch shape ({m}, {self.k})), got shape {a.shape}")
        if not (
            np.issubdtype(a.dtype, np.integer)
            or (np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and np.all(a == a // 1))
        ):
            raise ValueError(f"action must be integer item indices in [0, {self.n_candidates - 1}], got {actions!r}")
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= self.n_candidates):
            raise ValueError(
                f"action item indices must be in [0, {self.n_candidates - 1}] (index into the recommendable items), "
                f"got min {a.min()}, max {a.max()}"
            )
        if self.k > 1:
            a = resolve_duplicates(a, self.n_candidates)
        return self.candidates[a]

    def _float_action(self, actions, m: int, what: str) -> np.ndarray:
        try:
            a = np.asarray(actions, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"action must hold {self.n_candidates} {what} per user, got {actions!r}") from exc
        if a.shape != (m, self.n_candidates):
            raise ValueError(
                f"action must hold {self.n_candidates} {what} per user (batch shape ({m}, {self.n_candidates})), "
                f"got shape {a.shape}"
            )
        return a

    def decode_probabilities(self, actions: npt.ArrayLike, m: int | None = None) -> np.ndarray:
        """[m, n_rec] weights in [0, 1] → [m, n] inclusion probabilities q = a·min(1, k/Σa) (Σq ≤ k)."""
        m = np.shape(actions)[0] if m is None else m
        a = self._float_action(actions, m, "inclusion probabilities")
        if not np.all(np.isfinite(a)) or a.min() < 0.0 or a.max() > 1.0:
            raise ValueError(f"inclusion probabilities must be finite and in [0, 1], got min {a.min()}, max {a.max()}")
        return self._scaled_q(a)

    def decode_logits(self, actions: npt.ArrayLike, m: int | None = None) -> np.ndarray:
        """[m, n_rec] actions a → logits x = LOGIT_SCALE · a → q_v = min(1, k · softmax(x)_v) over the catalogue
        (0 ≤ q ≤ 1, Σq ≤ k).

        Any real logit and ±inf are accepted: −inf excludes an item (q = 0; all −inf: nothing is recommended),
        +inf entries share the whole softmax mass equally. NaN raises ``ValueError``."""
        m = np.shape(actions)[0] if m is None else m
        x = self._float_action(actions, m, "logits")
        if np.isnan(x).any():
            raise ValueError("action logits must not be NaN (±inf are allowed: −inf excludes an item)")
        x = LOGIT_SCALE * x
        top = x.max(1, keepdims=True)
        with np.errstate(invalid="ignore"):
            e = np.exp(x - top)  # NaN only where top is ±inf: handled below
        pos = np.isposinf(top[:, 0])
        e[pos] = np.isposinf(x[pos])
        e[np.isneginf(top[:, 0])] = 0.0
        total = e.sum(1, keepdims=True)
        p = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
        q = np.zeros((m, self.cat.n_items))
        q[:, self.candidates] = np.minimum(1.0, self.k * p)
        return q

    def encode_logits(self, q: npt.ArrayLike) -> np.ndarray:
        """Inverse of :meth:`decode_logits` on its range: [.., n_rec] inclusion probabilities with Σq ≤ k → logits
        that decode to exactly q (log q for q < 1, −inf at 0; the items at q = 1 share the remaining mass)."""
        q = np.asarray(q, dtype=np.float64)
        if not (np.all(q >= 0.0) and np.all(q <= 1.0)) or np.any(q.sum(-1) > self.k * (1 + 1e-9)):
            raise ValueError(f"inclusion probabilities must be in [0, 1] with sum <= k={self.k}")
        full = q >= 1.0
        rest = np.where(full, 0.0, q)
        n_full = full.sum(-1, keepdims=True)
        share = (self.k - rest.sum(-1, keepdims=True)) / np.maximum(n_full, 1)  # ≥ 1 since Σq ≤ k
        with np.errstate(divide="ignore"):
            return np.log(np.where(full, np.maximum(share, 1.0), rest)) / LOGIT_SCALE

    def _scaled_q(self, a: np.ndarray) -> np.ndarray:
        total = a.sum(1, keepdims=True)
        scale = np.minimum(1.0, self.k / np.maximum(total, 1e-300))
        q = np.zeros((a.shape[0], self.cat.n_items))
        q[:, self.candidates] = np.minimum(a * scale, 1.0)
        return q


def resolve_duplicates(a: np.ndarray, n: int) -> np.ndarray:
    """[m, k] indices in [0, n) → distinct indices: each repeat of an earlier entry (left to right) becomes the
    lowest index in [0, n) the row does not name; the j-th repeat of a row takes its j-th lowest free index."""
    order = np.argsort(a, axis=1, kind="stable")
    srt = np.take_along_axis(a, order, 1)
    rep_sorted = np.zeros(a.shape, dtype=bool)
    rep_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
    if not rep_sorted.any():
        return a
    rep = np.zeros_like(rep_sorted)
    np.put_along_axis(rep, order, rep_sorted, 1)  # stable sort: the first occurrence is never marked
    rows = np.flatnonzero(rep.any(1))
    sub, r = a[rows], rep[rows]
    named = np.zeros((rows.size, n), dtype=bool)
    named[np.arange(rows.size)[:, None], sub] = True
    free = np.argsort(named, axis=1, kind="stable")  # unnamed indices first, ascending
    rank = np.cumsum(r, 1) - 1
    ri, ci = np.nonzero(r)
    out = a.copy()
    sub = sub.copy()
    sub[ri, ci] = free[ri, rank[ri, ci]]
    out[rows] = sub
    return out


def _score_sum_bound(pts: np.ndarray, V: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """An upper bound on s_Ω(u) = Σ_v exp⟨u, v⟩ over the convex hull of ``pts`` (where profiles stay).

    s_Ω is convex in u, so its maximum over the hull is at a vertex: computed exactly, in row chunks of bounded
    memory, when there are at most ``_EXACT_BOUND_PAIRS`` (point, item) pairs. Larger problems use the hull's
    bounding box [low, high] instead, Σ_v exp(max over the box of ⟨u, v⟩), which costs O(n·d) (the bound only
    sets the range of the sampling quadrature's nodes, so a looser bound costs a few nodes, not accuracy).
    """
    n = V.shape[0]
    if pts.shape[0] * n > _EXACT_BOUND_PAIRS:
        return float(np.exp(np.maximum(V * low, V * high).sum(1)).sum())
    rows = max(1, 4_000_000 // n)
    return max(float(scores(pts[i : i + rows], V).sum(-1).max()) for i in range(0, pts.shape[0], rows))


class HarmUserBatch(ModelBase):
    """State of ``n`` users; every method is one array operation over users.

    Implements :class:`recsim_envs.utils.shell.FamilyModel` (the env interface at the end of the class)."""

    objective_names = OBJECTIVE_NAMES
    _trace: list[tuple[float, float, float]] | tuple = ()  # render history: (pH, pCLK, σ_H) per step
    _last: dict[str, Any] | None = None  # the single env's last step (ansi render)

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
        n_users = cfg.cat.n_users
        user = np.minimum((crng.uniforms(keys, 0, _STREAM_USER) * n_users).astype(np.int64), n_users - 1)
        self.user[mask] = user
        self.U0[mask] = cfg.cat.U0[user]
        self.U[mask] = self.U0[mask]
        self.t[mask] = 0

    def observations(self) -> np.ndarray:
        obs = np.empty((self.n, self.cfg.obs_dim), dtype=np.float32)
        d = self.cfg.dim
        obs[:, :d] = self.U
        obs[:, d : 2 * d] = self.U0
        obs[:, 2 * d] = self.t / self.cfg.horizon
        return obs

    def step(self, actions: npt.ArrayLike) -> dict[str, np.ndarray]:
        """One step for every user: recommendation → click or organic choice → attraction update."""
        cfg = self.cfg
        cat = cfg.cat
        n_items = cat.n_items
        m = self.n
        rows = np.arange(m)
        s = scores(self.U, cat.V)
        sig = organic_choice(s)
        items, q = cfg.decode(actions, m)
        if q is None:
            in_E = np.zeros((m, n_items), dtype=bool)
            in_E[rows[:, None], items] = True
        else:
            cnt = self.t[:, None] * np.uint64(n_items) + np.arange(n_items, dtype=np.uint64)[None, :]
            draws = crng.uniforms(self.keys[:, None], cnt.astype(np.uint64), _STREAM_INCLUDE)
            in_E = draws < q
        p_click, o_E = slate_choice(np.where(in_E, s, 0.0), cfg.c)
        p_org = o_E[:, None] * sig
        u = crng.uniforms(self.keys, self.t, _STREAM_CHOICE)
        idx = crng.categorical(np.concatenate([p_click, p_org], axis=1), u)
        click = idx < n_items
        item = np.where(click, idx, idx - n_items)
        harm = cat.harmful[item]
        # analytic pCLK / pH of this step's action at the profile it met
        if q is None:
            pclk = 1.0 - o_E
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
        self.U = attraction_step(prev, self.U0, cat.V, item, cfg.alpha[item], cfg.beta)
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

    # -- env interface (recsim_envs.utils.shell.FamilyModel) -----------------------------------------------
    @property
    def config(self) -> HarmConfig:
        return self.cfg

    def observation_space(self) -> spaces.Box:
        cfg = self.cfg
        low = np.concatenate([cfg.obs_low, cfg.obs_low, [0.0]]).astype(np.float32)
        high = np.concatenate([cfg.obs_high, cfg.obs_high, [1.0]]).astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32)

    def action_space(self) -> spaces.Space:
        cfg = self.cfg
        if cfg.action_type == "items":
            if cfg.k == 1:
                return spaces.Discrete(cfg.n_candidates)
            return spaces.MultiDiscrete(np.full(cfg.k, cfg.n_candidates, dtype=np.int64))
        if cfg.action_type == "logits":
            return spaces.Box(-1.0, 1.0, (cfg.n_candidates,), dtype=np.float64)
        return spaces.Box(0.0, 1.0, (cfg.n_candidates,), dtype=np.float64)

    def reward_space(self) -> spaces.Box:
        return spaces.Box(np.array([0.0, -1.0], dtype=np.float32), np.array([1.0, 0.0], dtype=np.float32))

    def set_reward_weights(self, weights: np.ndarray) -> None:
        self.cfg.weights_override = weights

    def batch_actions(self, actions: Any, single: bool) -> np.ndarray:
        """The batch ``step`` decodes (and validates, ``HarmConfig.decode``): one action gets a leading axis."""
        a = np.asarray(actions)
        if single:
            return a[None]
        if a.ndim == 0 or a.shape[0] != self.n:
            raise ValueError(f"actions must have a leading axis of num_envs={self.n}, got shape {a.shape}")
        return a

    def reset_info(self) -> dict[str, np.ndarray]:
        return {"user": self.user.copy(), "profile": self.U.copy(), "t": self.t.copy()}

    def next_info(self) -> dict[str, np.ndarray]:
        # the user each returned observation belongs to (a vector env's finished users: after their autoreset)
        return {"next_user": self.user.copy()}

    def render_reset(self) -> None:
        self._trace = []
        self._last = None

    def render_record(self, out: dict[str, Any], single: bool) -> None:
        nan = np.full(1, np.nan)
        ph, pclk, share = out.get("ph", nan), out.get("pclk", nan), out["harm_share"]
        if single:
            self._last = {k: out[k][0] for k in ("item", "click", "harm", "harm_share")}
            self._last.update(ph=float(ph[0]), pclk=float(pclk[0]))
            self._trace.append((float(ph[0]), float(pclk[0]), float(share[0])))  # type: ignore[union-attr]
        else:
            self._trace.append((float(ph.mean()), float(pclk.mean()), float(share.mean())))  # type: ignore[union-attr]

    def render(self, mode: str, single: bool) -> str | np.ndarray:
        if mode == "ansi":
            if not single:
                return f"{self.n} users, t={int(self.t.max())}/{self.cfg.horizon}"
            last = self._last
            tail = (
                ""
                if last is None
                else f" item={last['item']} click={int(last['click'])} harm={int(last['harm'])} "
                f"pCLK={last['pclk']:.3f} pH={last['ph']:.4f} sigma_H={last['harm_share']:.4f}"
            )
            return f"t={int(self.t[0])}/{self.cfg.horizon} user={int(self.user[0])}{tail}"
        tr = np.array(self._trace) if len(self._trace) else np.zeros((1, 3))
        # red: pH, blue: pCLK, orange: organic harm share σ_H (analytic, along the realised trajectory)
        return trajectory_image([tr[:, 0], tr[:, 1], tr[:, 2]])
