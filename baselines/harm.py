"""Recommendation policies for the harm-exposure model (Chee et al., KDD 2024), batched over users.

Optimisers return a :class:`HarmSolution` (per-user policy parameters θ, the stationary profile ū(θ) and f, pCLK,
pH there); :class:`StationaryPolicy` turns any solution into a :class:`baselines.protocol.Policy` for the envs.

Policy classes (``recsim_envs.harm.model``):
* ``"cardinality"`` — bounded cardinality. k = 1: π is a distribution over items (``ItemPolicy``). k > 1: a
  distribution over a *sparse support* of k-sets per user (``SetPolicy``), grown by column generation: each round
  adds, for every user, the k-set with the largest IFT gradient coordinate. That set maximises a ratio
  (a + Σ_{v∈E} x_v) / (c + Σ_{v∈E} s_v), solved exactly by Dinkelbach's method whose inner step is a top-k, so
  C(n, k) sets are never enumerated.
* ``"sampling"`` — independent sampling: q ∈ [0, 1]^n, Σ q ≤ k, q_H = 0 (``SamplingPolicy``, exact expectation).

Methods: ``uniform``; ``top-k at u0`` (optimal when preferences are static); ``alternating`` optimisation
(stationary profile → top-k at it, 10 rounds; ``anchor="previous"`` anchors each round's fixed point at the previous
profile as the authors' bounded-cardinality code does, ``"u0"`` by default); ``ift`` — projected gradient ascent on
f(θ, ū(θ)) with the adjoint IFT gradient, batched across users with per-user backtracking step sizes, started from
uniform and from top-k(u0) (best of the two per user). Every method is evaluated at its own stationary profile
anchored at u0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsim_envs.harm.model import (
    HarmParams,
    ItemPolicy,
    SamplingPolicy,
    SetPolicy,
    StationaryProfile,
    ift_cotangents,
    objective_gradient,
    scores,
    stationary_profile,
)

POLICY_CLASSES = ("cardinality", "sampling")


@dataclass
class HarmProblem:
    """One optimisation problem: catalogue arrays, model constants, policy class and recommendable items."""

    V: np.ndarray
    harmful: np.ndarray
    U0: np.ndarray
    params: HarmParams
    c: float
    k: int = 1
    policy_class: str = "cardinality"
    allow_harmful: bool = False

    def __post_init__(self):
        if self.policy_class not in POLICY_CLASSES:
            raise ValueError(f"policy_class must be one of {list(POLICY_CLASSES)}, got {self.policy_class!r}")
        self.allowed = np.ones(self.V.shape[0], bool) if self.allow_harmful else ~np.asarray(self.harmful, bool)
        if not 1 <= self.k <= int(self.allowed.sum()):
            raise ValueError(f"k must be in [1, {int(self.allowed.sum())}], got {self.k!r}")

    @classmethod
    def from_env(cls, env, policy_class: str | None = None) -> HarmProblem:
        cfg = getattr(getattr(env, "unwrapped", env), "config", env)
        cat = cfg.catalogue
        pc = policy_class or ("cardinality" if cfg.action_type == "items" else "sampling")
        return cls(cat.V, cat.harmful, cat.U0, cfg.params, cfg.c, cfg.k, pc, cfg.allow_harmful)

    @property
    def m(self) -> int:
        return self.U0.shape[0]

    @property
    def n(self) -> int:
        return self.V.shape[0]

    def sampling_policy(self) -> SamplingPolicy:
        # fixed quadrature nodes for the whole problem (profiles stay in the hull of {u0} ∪ V, where s_Ω peaks at a
        # vertex): F is then one smooth function whatever subset of users a solver step touches
        pts = np.concatenate([self.U0, self.V])
        return SamplingPolicy(self.c, self.k, s_bound=float(scores(pts, self.V).sum(-1).max()))

    def subset_users(self, idx: np.ndarray) -> HarmProblem:
        return HarmProblem(
            self.V, self.harmful, self.U0[idx], self.params, self.c, self.k, self.policy_class, self.allow_harmful
        )


@dataclass
class HarmSolution:
    """θ per user (π over items, over ``sets`` or q), its stationary profile and the metrics there."""

    method: str
    theta: np.ndarray
    profile: StationaryProfile
    policy: Any
    sets: np.ndarray | None = None
    iterations: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def f(self) -> np.ndarray:
        return self.profile.metrics.f

    @property
    def pclk(self) -> np.ndarray:
        return self.profile.metrics.pclk

    @property
    def ph(self) -> np.ndarray:
        return self.profile.metrics.ph

    def item_marginals(self, n: int) -> np.ndarray:
        """Per-user probability that each item is recommended, [m, n]."""
        if self.sets is None:
            return self.theta
        m = self.theta.shape[0]
        out = np.zeros((m, n))
        np.add.at(out, (np.arange(m)[:, None, None], self.sets), self.theta[..., None])
        return out


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------


def project_simplex(x: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row onto {π ≥ 0, Σπ = 1, π = 0 outside ``allowed``} (sort-based)."""
    y = np.where(allowed, x, -np.inf)
    srt = -np.sort(-y, axis=1)
    css = np.cumsum(np.where(np.isfinite(srt), srt, 0.0), axis=1) - 1.0
    j = np.arange(1, x.shape[1] + 1)
    cond = (srt - css / j > 0) & np.isfinite(srt)
    rho = cond.shape[1] - 1 - np.argmax(cond[:, ::-1], axis=1)
    tau = css[np.arange(x.shape[0]), rho] / (rho + 1)
    return np.where(allowed, np.maximum(x - tau[:, None], 0.0), 0.0)


def project_capped_simplex(x: np.ndarray, allowed: np.ndarray, k: float, iters: int = 60) -> np.ndarray:
    """Projection onto {0 ≤ q ≤ 1, Σq ≤ k, q = 0 outside ``allowed``}: q = clip(x − τ, 0, 1), τ ≥ 0 by bisection."""
    x = np.where(allowed, x, -np.inf)
    q0 = np.clip(x, 0.0, 1.0)
    need = q0.sum(1) > k
    if not need.any():
        return q0
    xs = x[need]
    lo = np.zeros(xs.shape[0])
    hi = np.nanmax(np.where(np.isfinite(xs), xs, np.nan), axis=1)
    for _ in range(iters):  # bisection on the threshold, all users at once
        mid = 0.5 * (lo + hi)
        tot = np.clip(xs - mid[:, None], 0.0, 1.0).sum(1)
        lo = np.where(tot > k, mid, lo)
        hi = np.where(tot > k, hi, mid)
    q0[need] = np.clip(xs - hi[:, None], 0.0, 1.0)
    return q0


def _policy_and_projection(prob: HarmProblem, sets: np.ndarray | None = None):
    if prob.policy_class == "sampling":
        pol = prob.sampling_policy()
        return pol, lambda x: project_capped_simplex(x, prob.allowed, prob.k), prob.allowed
    if prob.k == 1:
        return ItemPolicy(prob.c), lambda x: project_simplex(x, prob.allowed), prob.allowed
    pol = SetPolicy(prob.c, sets, prob.n)
    ok = np.ones(sets.shape[1], bool)
    return pol, lambda x: project_simplex(x, ok), ok


def _solve(prob: HarmProblem, pol, theta, **kw) -> StationaryProfile:
    return stationary_profile(pol, theta, prob.U0, prob.V, prob.harmful, prob.params, **kw)


def top_k_items(prob: HarmProblem, U: np.ndarray) -> np.ndarray:
    """The k allowed items with the highest score at profiles U, [m, k] (ties broken by index)."""
    sc = np.where(prob.allowed, U @ prob.V.T, -np.inf)
    return np.argsort(-sc, axis=1, kind="stable")[:, : prob.k]


def _theta_for_sets(prob: HarmProblem, items: np.ndarray):
    """θ (and sets) that recommend exactly ``items`` [m, k] with probability 1."""
    m = items.shape[0]
    if prob.policy_class == "sampling":
        q = np.zeros((m, prob.n))
        q[np.arange(m)[:, None], items] = 1.0
        return q, None
    if prob.k == 1:
        pi = np.zeros((m, prob.n))
        pi[np.arange(m), items[:, 0]] = 1.0
        return pi, None
    return np.ones((m, 1)), items[:, None, :]


def _solution(method, prob, theta, sets=None, t0=None, iterations=0, **kw) -> HarmSolution:
    pol, _, _ = _policy_and_projection(prob, sets)
    sp = _solve(prob, pol, theta, **kw)
    secs = 0.0 if t0 is None else time.perf_counter() - t0
    return HarmSolution(method, theta, sp, pol, sets, iterations, secs)


# ----------------------------------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------------------------------


def uniform(prob: HarmProblem, n_sets: int = 64, seed: int = 0) -> HarmSolution:
    """Uniform: π uniform over allowed items (k = 1); q_v = k / n_allowed (sampling); for k > 1 bounded
    cardinality a uniform distribution over ``n_sets`` uniformly drawn k-sets per user (seeded; documented
    stand-in for the uniform distribution over all C(n, k) sets)."""
    t0 = time.perf_counter()
    m, n = prob.m, prob.n
    allowed = np.flatnonzero(prob.allowed)
    if prob.policy_class == "sampling":
        q = np.zeros((m, n))
        q[:, allowed] = prob.k / allowed.size
        return _solution("uniform", prob, q, t0=t0)
    if prob.k == 1:
        pi = np.zeros((m, n))
        pi[:, allowed] = 1.0 / allowed.size
        return _solution("uniform", prob, pi, t0=t0)
    rng = np.random.default_rng(seed)
    keys = rng.random((m, n_sets, allowed.size))
    sets = allowed[np.argsort(keys, axis=2)[:, :, : prob.k]]
    return _solution("uniform", prob, np.full((m, n_sets), 1.0 / n_sets), sets, t0=t0)


def top_k_u0(prob: HarmProblem) -> HarmSolution:
    """Top-k at the inherent profile u0 (the CTR-optimal policy when preferences do not move)."""
    t0 = time.perf_counter()
    theta, sets = _theta_for_sets(prob, top_k_items(prob, prob.U0))
    return _solution("top-k(u0)", prob, theta, sets, t0=t0)


def alternating(prob: HarmProblem, rounds: int = 10, anchor: str = "u0") -> HarmSolution:
    """Alternating optimisation: profile → top-k at it → its stationary profile, ``rounds`` times.

    ``anchor="u0"`` (default) solves each round's fixed point with the model's u0 anchor; ``"previous"`` anchors
    the β-term at the previous round's profile (the authors' bounded-cardinality code). The returned policy is
    evaluated at its own stationary profile anchored at u0."""
    if anchor not in ("u0", "previous"):
        raise ValueError(f"anchor must be one of ['u0', 'previous'], got {anchor!r}")
    t0 = time.perf_counter()
    U = prob.U0.copy()
    for _ in range(rounds):
        theta, sets = _theta_for_sets(prob, top_k_items(prob, U))
        pol, _, _ = _policy_and_projection(prob, sets)
        sp = _solve(prob, pol, theta, U_init=U, anchor=None if anchor == "u0" else U)
        U = sp.U
    return _solution(f"alternating({anchor})", prob, theta, sets, t0=t0, iterations=rounds)


# ----------------------------------------------------------------------------------------------------------------
# IFT gradient policy
# ----------------------------------------------------------------------------------------------------------------


def _ascent(prob, pol, project, theta, max_iter, ftol):
    """Projected gradient ascent on f(θ, ū(θ)) with per-user backtracking (step ×1.5 on success, ×0.25 on
    failure; only improving, converged steps are accepted). Returns θ and the iteration count."""
    m = theta.shape[0]
    sp = _solve(prob, pol, theta, tol=1e-11, diagnostics=False)
    f = sp.metrics.f.copy()
    U = sp.U.copy()
    eta = np.full(m, np.nan)
    active = np.ones(m, bool)
    it = 0
    while it < max_iter:
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        it += 1
        sub = prob.subset_users(idx)
        p_sub = pol.subset(idx) if hasattr(pol, "subset") else pol
        th = theta[idx]
        g = objective_gradient(p_sub, th, _AtProfile(U[idx]), sub.U0, sub.V, sub.harmful, sub.params)
        gmax = np.abs(g).max(1) + 1e-300
        e = eta[idx]
        e = np.where(np.isnan(e), 0.5 / gmax, e)
        cand = project(th + e[:, None] * g)
        sp_c = _solve(sub, p_sub, cand, U_init=U[idx], tol=1e-11, diagnostics=False)
        fc = sp_c.metrics.f
        gain = fc - f[idx]
        acc = (gain > 0) & sp_c.converged
        ai = idx[acc]
        theta[ai] = cand[acc]
        f[ai] = fc[acc]
        U[ai] = sp_c.U[acc]
        eta[idx] = np.where(acc, e * 1.5, e * 0.25)
        small_gain = acc & (gain <= ftol * (1.0 + np.abs(fc)))
        tiny_step = eta[idx] * gmax < 1e-10
        active[idx[small_gain | tiny_step]] = False
    return theta, it


@dataclass
class _AtProfile:
    """The part of a StationaryProfile the gradient reads (ū), for profiles the optimiser already holds."""

    U: np.ndarray


def _dinkelbach_best_set(prob: HarmProblem, x: np.ndarray, a: np.ndarray, s: np.ndarray, iters: int = 30):
    """argmax over k-sets E of allowed items of (a + Σ_E x_v) / (c + Σ_E s_v), exactly, per user [m, k]."""
    tau = np.zeros(x.shape[0])
    best = None
    for _ in range(iters):  # Dinkelbach: the parametric problem is a top-k, converges finitely
        score = np.where(prob.allowed, x - tau[:, None] * s, -np.inf)
        best = np.argsort(-score, axis=1, kind="stable")[:, : prob.k]
        num = a + np.take_along_axis(x, best, 1).sum(1)
        den = prob.c + np.take_along_axis(s, best, 1).sum(1)
        new = num / den
        if np.allclose(new, tau, rtol=1e-13, atol=1e-15):
            break
        tau = new
    return best


def ift(
    prob: HarmProblem,
    max_iter: int = 300,
    ftol: float = 1e-9,
    starts: tuple[str, ...] = ("uniform", "top-k(u0)"),
    column_rounds: int = 8,
) -> HarmSolution:
    """IFT-gradient policy: projected gradient ascent from each start, best per user (module docstring).

    k > 1 bounded cardinality: column generation over a per-user support of k-sets (``column_rounds`` rounds,
    each adding the Dinkelbach best-gradient set and re-optimising π on the support)."""
    t0 = time.perf_counter()
    if prob.policy_class == "cardinality" and prob.k > 1:
        return _ift_sets(prob, max_iter, ftol, column_rounds, t0)
    # all starts run as one stacked batch of len(starts)·m users (one vectorised ascent)
    inits = [uniform(prob).theta if s == "uniform" else top_k_u0(prob).theta for s in starts]
    ns = len(inits)
    stacked = HarmProblem(
        prob.V,
        prob.harmful,
        np.tile(prob.U0, (ns, 1)),
        prob.params,
        prob.c,
        prob.k,
        prob.policy_class,
        prob.allow_harmful,
    )
    pol, project, _ = _policy_and_projection(stacked)
    theta, it = _ascent(stacked, pol, project, np.concatenate(inits), max_iter, ftol)
    f = _solve(stacked, pol, theta, diagnostics=False).metrics.f.reshape(ns, prob.m)
    pick = np.argmax(f, axis=0)
    theta = theta.reshape(ns, prob.m, -1)[pick, np.arange(prob.m)]
    return _solution("ift", prob, theta, t0=t0, iterations=it)


def _ift_sets(prob, max_iter, ftol, rounds, t0):
    m = prob.m
    start = top_k_items(prob, prob.U0)
    alt = alternating(prob)
    sets = np.concatenate([start[:, None, :], alt.sets], axis=1)  # support: top-k(u0) and alternating's set
    theta = np.full((m, 2), 0.5)
    total = 0
    for _ in range(rounds):
        pol, project, _ = _policy_and_projection(prob, sets)
        theta, it = _ascent(prob, pol, project, theta, max_iter, ftol)
        total += it
        # best-response set from the IFT cotangent: grad_E = (a + Σ_E x_v) / (c + s_E)
        sp = _solve(prob, pol, theta)
        x, a, s = _set_gradient_terms(prob, pol, theta, sp)
        new = np.sort(_dinkelbach_best_set(prob, x, a, s), axis=1)
        present = (np.sort(sets, axis=2) == new[:, None, :]).all(2).any(1)
        if present.all():
            break
        sets = np.concatenate([sets, new[:, None, :]], axis=1)
        theta = np.concatenate([theta, np.zeros((m, 1))], axis=1)
    return _solution("ift", prob, theta, sets, t0=t0, iterations=total)


def _set_gradient_terms(prob, pol, theta, sp):
    """x_v, a with ∂f/∂π_E (total, through ū) = (a + Σ_{v∈E} x_v) / (c + s_E) for any k-set E."""
    zeta_r, zeta_o, s = ift_cotangents(pol, theta, sp, prob.U0, prob.V, prob.harmful, prob.params)
    return zeta_r * s, zeta_o * prob.c, s


# ----------------------------------------------------------------------------------------------------------------
# calibration and evaluation
# ----------------------------------------------------------------------------------------------------------------


def calibrate_c(prob: HarmProblem, target_pclk: float = 0.6, lo: float = 1e-2, hi: float = 1e5, iters: int = 40):
    """Largest outside-option weight c with mean pCLK ≥ ``target_pclk`` under both uniform and alternating
    (bisection in log c; pCLK falls as c grows). Returns (c, {method: (mean pCLK, mean pH)}); pH should be
    clearly non-zero there for harm to matter."""

    def worst(c):
        p = HarmProblem(prob.V, prob.harmful, prob.U0, prob.params, c, prob.k, prob.policy_class, prob.allow_harmful)
        sols = {"uniform": uniform(p), "alternating": alternating(p)}
        return min(s.pclk.mean() for s in sols.values()), {k: (s.pclk.mean(), s.ph.mean()) for k, s in sols.items()}

    a, b = np.log(lo), np.log(hi)
    for _ in range(iters):
        mid = 0.5 * (a + b)
        if worst(np.exp(mid))[0] >= target_pclk:
            a = mid
        else:
            b = mid
    c = float(np.exp(a))
    return c, worst(c)[1]


def summary(sol: HarmSolution) -> dict[str, float]:
    """Mean ± std over users of f, pCLK, pH (the paper's table entries)."""
    return {
        "f_mean": float(sol.f.mean()),
        "f_std": float(sol.f.std()),
        "pclk_mean": float(sol.pclk.mean()),
        "pclk_std": float(sol.pclk.std()),
        "ph_mean": float(sol.ph.mean()),
        "ph_std": float(sol.ph.std()),
        "seconds": sol.seconds,
    }


def relative_improvement(f_new: float, f_base: float) -> float:
    """(f_new − f_base) / |f_base| — the paper's "x % better objective"."""
    return (f_new - f_base) / abs(f_base)


class StationaryPolicy:
    """A :class:`HarmSolution` as an env policy: each step samples the user's recommendation from θ.

    Works with a single env (``info["user"]`` an int) and a native vector env (array). Bounded cardinality returns
    candidate indices ([k] or [num_envs, k]); sampling returns inclusion probabilities over the candidates
    (Σq ≤ k, so the env uses them unchanged). Draws come from a seeded generator.
    """

    def __init__(self, solution: HarmSolution, env, seed: int | None = 0):
        cfg = getattr(getattr(env, "unwrapped", env), "config", None)
        if cfg is None:
            raise ValueError(f"expected a HarmMitigation env, got {env!r}")
        self.sol = solution
        self.cand = cfg.candidates
        self.pos = np.full(cfg.catalogue.n_items, -1, dtype=np.int64)
        self.pos[self.cand] = np.arange(self.cand.size)
        self.sampling = cfg.action_type != "items"
        self.logits = cfg.action_type == "logits"
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self._user = None

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs, info: dict[str, Any]):
        # after a step, "next_user" names the user of the returned observation (a new one after an autoreset)
        user = np.atleast_1d(np.asarray(info.get("next_user", info["user"]), dtype=np.int64))
        batched = np.asarray(obs).ndim == 2
        th = self.sol.theta[user]
        if self.sampling:
            a = th[:, self.cand]
            a = self.cfg.encode_logits(a) if self.logits else a
            return a if batched else a[0]
        u = self.rng.random(len(user))
        idx = np.minimum((np.cumsum(th, 1) <= (u * th.sum(1))[:, None]).sum(1), th.shape[1] - 1)
        items = idx[:, None] if self.sol.sets is None else self.sol.sets[user, idx]
        a = self.pos[items]
        if (a < 0).any():
            raise ValueError("the solution recommends an item the env does not allow (allow_harmful mismatch)")
        return a if batched else a[0]


def compare(prob: HarmProblem, alternating_anchor: str = "u0", **ift_kw) -> dict[str, HarmSolution]:
    """All four methods on one problem."""
    return {
        "uniform": uniform(prob),
        "top-k(u0)": top_k_u0(prob),
        "alternating": alternating(prob, anchor=alternating_anchor),
        "ift": ift(prob, **ift_kw),
    }


__all__ = [
    "HarmProblem",
    "HarmSolution",
    "StationaryPolicy",
    "alternating",
    "calibrate_c",
    "compare",
    "ift",
    "project_capped_simplex",
    "project_simplex",
    "relative_improvement",
    "summary",
    "top_k_u0",
    "uniform",
]
