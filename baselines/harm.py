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
(stationary profile → top-k at it, up to 10 rounds) started, as the authors run it, from the stationary profile of
the uniform policy (``start="uniform"``, default), of a seeded random policy (``"random"``) or from u0 (``"u0"``:
its first round is top-k(u0), which for k = 1 is usually a fixed point of the alternation); ``anchor="previous"``
anchors each round's fixed point at the previous profile as the authors' bounded-cardinality code does, ``"u0"`` by
default; ``best_vertex`` — the best vertex of the policy set (k = 1: the best single item, every allowed item's
stationary f computed exactly when n_allowed ≤ 256, else the few most promising by a documented screen,
:func:`screen_single_items`; k > 1: the better of two candidate k-sets); ``ift`` — projected gradient ascent on
f(θ, ū(θ)) with the adjoint IFT gradient, batched across users and starts with per-user backtracking step sizes,
from uniform, top-k(u0), both alternating results and the best vertices, best per user, with a per-user
certificate for k = 1 (best single-item f, KKT projected-gradient norm). Every method is evaluated at its own
stationary profile anchored at u0.

On the harm problems measured so far the k = 1 optimum is (to solver precision) a single item for every user: the
best single item matches a brute-force search of the simplex on small problems, and gradient ascent from
uniform or top-k(u0) alone stops at a worse vertex on a large share of users (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from recsim_envs.harm.core import _score_sum_bound
from recsim_envs.harm.model import (
    HarmParams,
    ItemPolicy,
    SamplingPolicy,
    SetPolicy,
    StationaryProfile,
    ift_cotangents,
    objective_gradient,
    scores,
    single_item_stationary,
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

    def __post_init__(self) -> None:
        self._s_bound: float | None = None
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
        """The sampling policy class with fixed quadrature nodes for the whole problem: profiles stay in the hull
        of {u0} ∪ V, where s_Ω peaks at a vertex, so F is one smooth function whatever subset of users a solver
        step touches. The bound on s_Ω is the env's (exact in row chunks of bounded memory, or the hull's
        bounding-box bound on large problems): O((n_users + n_items)·d) memory, no [points × items] array."""
        if self._s_bound is None:
            pts = np.concatenate([self.U0, self.V])
            self._s_bound = _score_sum_bound(pts, self.V, pts.min(0), pts.max(0))
        return SamplingPolicy(self.c, self.k, s_bound=self._s_bound)

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


def top_k_items(prob: HarmProblem, U: np.ndarray, k: int | None = None) -> np.ndarray:
    """The k (default ``prob.k``) allowed items with the highest score at profiles U, [m, k] (ties by index)."""
    sc = np.where(prob.allowed, U @ prob.V.T, -np.inf)
    k = prob.k if k is None else k
    if k == 1:  # argmax returns the first maximum, as the stable sort does
        return np.argmax(sc, axis=1)[:, None]
    return np.argsort(-sc, axis=1, kind="stable")[:, :k]


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


def uniform(prob: HarmProblem, n_sets: int = 64, seed: int = 0, diagnostics: bool = True) -> HarmSolution:
    """Uniform: π uniform over allowed items (k = 1); q_v = k / n_allowed (sampling); for k > 1 bounded
    cardinality a uniform distribution over ``n_sets`` uniformly drawn k-sets per user (seeded; documented
    stand-in for the uniform distribution over all C(n, k) sets). ``diagnostics=False`` skips the spectral radius
    of the stationary profile (NaN; used where only f and ū are needed)."""
    t0 = time.perf_counter()
    m, n = prob.m, prob.n
    allowed = np.flatnonzero(prob.allowed)
    if prob.policy_class == "sampling":
        q = np.zeros((m, n))
        q[:, allowed] = prob.k / allowed.size
        return _solution("uniform", prob, q, t0=t0, diagnostics=diagnostics)
    if prob.k == 1:
        pi = np.zeros((m, n))
        pi[:, allowed] = 1.0 / allowed.size
        return _solution("uniform", prob, pi, t0=t0, diagnostics=diagnostics)
    rng = np.random.default_rng(seed)
    keys = rng.random((m, n_sets, allowed.size))
    sets = allowed[np.argsort(keys, axis=2)[:, :, : prob.k]]
    return _solution("uniform", prob, np.full((m, n_sets), 1.0 / n_sets), sets, t0=t0, diagnostics=diagnostics)


def top_k_u0(prob: HarmProblem) -> HarmSolution:
    """Top-k at the inherent profile u0 (the CTR-optimal policy when preferences do not move)."""
    t0 = time.perf_counter()
    theta, sets = _theta_for_sets(prob, top_k_items(prob, prob.U0))
    return _solution("top-k(u0)", prob, theta, sets, t0=t0)


ALTERNATING_STARTS = ("uniform", "random", "u0")


def random_policy(prob: HarmProblem, seed: int = 0, n_sets: int = 64) -> HarmSolution:
    """A seeded random policy: π ~ Dirichlet(1, …, 1) over the allowed items (k = 1); for k > 1 a Dirichlet(1)
    distribution over ``n_sets`` uniformly drawn k-sets per user; sampling: q_v ~ U(0, 1) on the allowed items,
    scaled down (never up) so that Σq ≤ k."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    m, n = prob.m, prob.n
    allowed = np.flatnonzero(prob.allowed)
    if prob.policy_class == "sampling":
        q = np.zeros((m, n))
        q[:, allowed] = rng.random((m, allowed.size))
        q *= np.minimum(1.0, prob.k / q.sum(1, keepdims=True))
        return _solution("random", prob, q, t0=t0)
    if prob.k == 1:
        pi = np.zeros((m, n))
        pi[:, allowed] = rng.dirichlet(np.ones(allowed.size), m)
        return _solution("random", prob, pi, t0=t0)
    sets = allowed[np.argsort(rng.random((m, n_sets, allowed.size)), axis=2)[:, :, : prob.k]]
    return _solution("random", prob, rng.dirichlet(np.ones(n_sets), m), sets, t0=t0)


def alternating(
    prob: HarmProblem, rounds: int = 10, anchor: str = "u0", start: str = "uniform", seed: int = 0
) -> HarmSolution:
    """Alternating optimisation: profile → top-k at it → its stationary profile, at most ``rounds`` times.

    ``start`` is the first profile: ``"uniform"`` (default, as the authors run it) the stationary profile of the
    uniform policy; ``"random"`` that of a seeded random policy (:func:`random_policy` with ``seed``); ``"u0"``
    the inherent profile — then the first round *is* top-k(u0), and for k = 1 top-k(u0) is usually a fixed point of
    the alternation, so this start mostly returns top-k(u0). With u0 anchoring the rounds stop early once the
    recommended set repeats (the next round would reproduce it). ``anchor="u0"`` solves each round's fixed point
    with the model's u0 anchor; ``"previous"`` anchors the β-term at the previous round's profile (the authors'
    bounded-cardinality code). The returned policy is evaluated at its own stationary profile anchored at u0; the
    start and anchor are in ``extra`` and in the method name."""
    if anchor not in ("u0", "previous"):
        raise ValueError(f"anchor must be one of ['u0', 'previous'], got {anchor!r}")
    if start not in ALTERNATING_STARTS:
        raise ValueError(f"start must be one of {list(ALTERNATING_STARTS)}, got {start!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be ≥ 1, got {rounds!r}")
    t0 = time.perf_counter()
    if start == "u0":
        U = prob.U0.copy()
    else:
        U = (uniform(prob) if start == "uniform" else random_policy(prob, seed)).profile.U
    prev = None
    done = 0
    while done < rounds:
        items = np.sort(top_k_items(prob, U), axis=1)
        if anchor == "u0" and prev is not None and np.array_equal(items, prev):
            break
        done += 1
        theta, sets = _theta_for_sets(prob, items)
        if prob.k == 1 and prob.policy_class == "cardinality":  # the specialised single-item fixed point
            anc = prob.U0 if anchor == "u0" else U
            U = single_item_stationary(
                items[:, 0], anc, prob.V, prob.harmful, prob.params, prob.c, U_init=U, tol=1e-12
            )[0]
        else:
            pol, _, _ = _policy_and_projection(prob, sets)
            U = _solve(prob, pol, theta, U_init=U, anchor=None if anchor == "u0" else U, diagnostics=False).U
        prev = items
    name = f"alternating[{start} start" + (", previous-profile anchor]" if anchor == "previous" else "]")
    sol = _solution(name, prob, theta, sets, t0=t0, iterations=done)
    sol.extra.update(start=start, anchor=anchor, seed=seed if start == "random" else None)
    return sol


# ----------------------------------------------------------------------------------------------------------------
# vertices: single items (k = 1) and k-sets
# ----------------------------------------------------------------------------------------------------------------


def single_item_values(
    prob: HarmProblem,
    items: np.ndarray,
    chunk_elems: int = 2_000_000,
    return_profiles: bool = False,
    U_init: np.ndarray | None = None,
):
    """Exact stationary f of recommending item ``items[i, j]`` with probability 1 to user i (k = 1 item policy
    with the problem's c), [m, K] (and the stationary profiles [m, K, d] with ``return_profiles``). Users are
    processed in chunks of ≤ ``chunk_elems`` / (K·n) (vectorised inside). ``U_init`` [m, K, d]: starting points
    of the fixed-point solves (default u0; the solution does not depend on it, only the number of Newton steps)."""
    m, K = items.shape
    f = np.empty((m, K))
    U = np.empty((m, K, prob.V.shape[1]))
    per = max(1, chunk_elems // (K * prob.n))
    for a in range(0, m, per):  # memory bound only: each chunk is one batched fixed-point solve
        b = min(m, a + per)
        U0 = np.repeat(prob.U0[a:b], K, axis=0)
        start = None if U_init is None else U_init[a:b].reshape(U0.shape)
        Ub, fb, _ = single_item_stationary(
            items[a:b].reshape(-1), U0, prob.V, prob.harmful, prob.params, prob.c, U_init=start
        )
        f[a:b] = fb.reshape(b - a, K)
        U[a:b] = Ub.reshape(b - a, K, -1)
    return (f, U) if return_profiles else f


@njit(cache=True)
def _screen_kernel(a0, Av, dv, alpha, q, hm, B, sigH, u0d, Ad, beta, c, lam, steps, x_out, f_out):  # pragma: no cover
    """:func:`screen_single_items`'s per-(user, item) scalar recursion, in one compiled pass (no [m, n] temporaries)."""
    m, n = a0.shape
    for i in range(m):
        for v in range(n):
            x = 1.0 / (1.0 + c * np.exp(-min(a0[i, v], 700.0)))
            al = alpha[v]
            for _ in range(steps):
                den = beta + al * x + (1.0 - x) * B[i]
                z = (beta * a0[i, v] + al * x * q[v] + (1.0 - x) * Av[i, v]) / den
                x = 1.0 / (1.0 + c * np.exp(-min(z, 700.0)))
            den = beta + al * x + (1.0 - x) * B[i]
            zd = (beta * u0d[i] + al * x * dv[i, v] + (1.0 - x) * Ad[i]) / den
            x_out[i, v] = x
            f_out[i, v] = x * (1.0 - lam * hm[v]) - lam * (1.0 - x) * sigH[i] * np.exp(min(zd - u0d[i], 700.0))


def screen_single_items(
    prob: HarmProblem,
    K: int,
    fixed_point_steps: int = 4,
    include: np.ndarray | None = None,
    return_profiles: bool = False,
):
    """The K allowed items per user with the highest *approximate* single-item stationary f, [m, K] (and, with
    ``return_profiles``, their approximate stationary profiles u(x) [m, K, d], used to warm-start the exact
    fixed points).

    The screen freezes the organic part of the attraction map at u0 (σ⁰ = σ(u0), A = Σ_w α_w σ⁰_w w,
    B = Σ_w α_w σ⁰_w). Recommending v alone, the profile is then a function of the click probability x = r_v only,
    u(x) = (β u0 + α_v x v + (1 − x) A) / (β + α_v x + (1 − x) B), and x solves x = s_v(u(x)) / (s_v(u(x)) + c)
    (``fixed_point_steps`` plain iterations from the static x at u0). The harmful mass is extrapolated log-linearly,
    σ_H(u) ≈ σ_H(u0) exp⟨u − u0, v̄_H − v̄⟩ (v̄, v̄_H: σ⁰-weighted means of all / harmful items), and
    f ≈ x (1 − λ 1_H(v)) − λ (1 − x) σ_H(u(x)). Cost: O(n d) per user (three [m, d] @ [d, n] products)."""
    V, c, beta, lam = prob.V, prob.c, prob.params.beta, prob.params.lam
    alpha = prob.params.alphas(prob.harmful)
    hm = prob.harmful.astype(float)
    sig = scores(prob.U0, V)
    sig /= sig.sum(-1, keepdims=True)
    asig = alpha * sig
    A, B = asig @ V, asig.sum(-1, keepdims=True)
    sh = sig * hm
    sigH = sh.sum(-1, keepdims=True)
    delta = sh @ V / np.maximum(sigH, 1e-300) - sig @ V
    a0, Av, dv = prob.U0 @ V.T, A @ V.T, delta @ V.T
    q = (V * V).sum(1)
    u0d = (prob.U0 * delta).sum(-1, keepdims=True)
    Ad = (A * delta).sum(-1, keepdims=True)
    x, f_est = np.empty_like(a0), np.empty_like(a0)
    _screen_kernel(a0, Av, dv, alpha, q, hm, B[:, 0], sigH[:, 0], u0d[:, 0], Ad[:, 0], beta, c, lam,
                   fixed_point_steps, x, f_est)  # fmt: skip
    f_est[:, ~prob.allowed] = -np.inf
    if include is not None:  # items that must be kept (e.g. the top item at u0)
        f_est[np.arange(prob.m), include] = np.inf
    K = min(K, int(prob.allowed.sum()))
    items = np.argpartition(-f_est, K - 1, axis=1)[:, :K]
    if not return_profiles:
        return items
    xs = np.take_along_axis(x, items, 1)[..., None]  # [m, K, 1]
    av = alpha[items][..., None]
    num = beta * prob.U0[:, None, :] + av * xs * V[items] + (1.0 - xs) * A[:, None, :]
    return items, num / (beta + av * xs + (1.0 - xs) * B[:, None, :])


def single_item_candidates(prob: HarmProblem, exact_limit: int = 256, screen: int = 8, return_profiles: bool = False):
    """Single-item policies ranked by exact stationary f: (items [m, K], f [m, K], exhaustive), plus their
    stationary profiles [m, K, d] with ``return_profiles``.

    With at most ``exact_limit`` allowed items every one is evaluated exactly (K = n_allowed, ``exhaustive`` True);
    otherwise the ``screen`` most promising items by :func:`screen_single_items` (always including the top item at
    u0) are evaluated exactly (the best single item is then the best *found*, not certified). Either way the exact
    fixed points start from the screen's approximate profiles (one Newton round fewer than from u0)."""
    allowed = np.flatnonzero(prob.allowed)
    exhaustive = allowed.size <= exact_limit
    if exhaustive:  # every allowed item, in index order, warm-started from the screen's approximate profiles
        items, U_start = screen_single_items(prob, allowed.size, return_profiles=True)
        order = np.argsort(items, axis=1)
        items, U_start = np.take_along_axis(items, order, 1), np.take_along_axis(U_start, order[..., None], 1)
    else:
        top_u0 = top_k_items(prob, prob.U0, 1)[:, 0]
        items, U_start = screen_single_items(prob, max(screen, prob.k), include=top_u0, return_profiles=True)
    f, U = single_item_values(prob, items, return_profiles=True, U_init=U_start)
    order = np.argsort(-f, axis=1, kind="stable")
    out = np.take_along_axis(items, order, 1), np.take_along_axis(f, order, 1), exhaustive
    return (*out, np.take_along_axis(U, order[..., None], 1)) if return_profiles else out


def best_vertex(prob: HarmProblem, exact_limit: int = 256, screen: int = 8) -> HarmSolution:
    """The best *vertex* of the policy set per user, evaluated exactly at its stationary profile.

    k = 1 (bounded cardinality): the best single item (:func:`single_item_candidates`: exhaustive when n_allowed ≤
    ``exact_limit``, else screened). k > 1 and sampling: the better of two candidate k-sets recommended with
    probability 1 (q = 1 on the set for sampling) — the k items with the best single-item f, and the top-k at the
    stationary profile of the best single item. ``extra`` holds the single-item ranking."""
    t0 = time.perf_counter()
    items, f_items, exhaustive = single_item_candidates(prob, exact_limit, screen)
    extra = dict(best_single_item=items[:, 0], best_single_item_f=f_items[:, 0], single_items_exhaustive=exhaustive)
    if prob.k == 1 and prob.policy_class == "cardinality":
        theta, sets = _theta_for_sets(prob, items[:, :1])
        sol = _solution("best single item", prob, theta, sets, t0=t0)
        sol.extra.update(extra)
        return sol
    th1 = np.zeros((prob.m, prob.n))
    th1[np.arange(prob.m), items[:, 0]] = 1.0
    U1 = stationary_profile(ItemPolicy(prob.c), th1, prob.U0, prob.V, prob.harmful, prob.params).U
    cands = [np.sort(items[:, : prob.k], 1), np.sort(top_k_items(prob, U1), 1)]
    sols = [_solution("best vertex", prob, *_theta_for_sets(prob, E)) for E in cands]
    pick = np.argmax(np.stack([s.f for s in sols]), axis=0)
    best = np.where(pick[:, None] == 0, cands[0], cands[1])
    sol = _solution("best vertex", prob, *_theta_for_sets(prob, best), t0=t0)
    sol.extra.update(extra)
    return sol


# ----------------------------------------------------------------------------------------------------------------
# IFT gradient policy
# ----------------------------------------------------------------------------------------------------------------


def _ascent(prob, pol, project, theta, max_iter, ftol, f0=None, U0=None):
    """Projected gradient ascent on f(θ, ū(θ)) with per-user backtracking (step ×1.5 on success, ×0.25 on
    failure; only improving, converged steps are accepted). A user stops when its step gains less than ``ftol``
    (relative), when the step size underflows, or at once when the projected step leaves θ unchanged (θ is then a
    KKT point; every vertex start that is already stationary costs one gradient). ``f0``, ``U0``: f and the
    stationary profiles at the starts when the caller has them. Returns θ, f, ū and the iteration count."""
    m = theta.shape[0]
    if f0 is None:
        sp = _solve(prob, pol, theta, tol=1e-11, diagnostics=False)
        f0, U0 = sp.metrics.f, sp.U
    f = np.array(f0, dtype=float)
    U = np.array(U0, dtype=float)
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
        stuck = np.abs(cand - th).max(1) == 0.0  # projected step is a no-op: KKT point
        go = np.flatnonzero(~stuck)
        if go.size < idx.size:
            active[idx[stuck]] = False
            idx, sub, th, cand, e, gmax = idx[go], sub.subset_users(go), th[go], cand[go], e[go], gmax[go]
            p_sub = p_sub.subset(go) if hasattr(p_sub, "subset") else p_sub
            if idx.size == 0:
                continue
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
    return theta, f, U, it


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


IFT_STARTS = ("uniform", "top-k(u0)", "alternating", "vertices")


def ift(
    prob: HarmProblem,
    max_iter: int = 300,
    ftol: float = 1e-9,
    starts: tuple[str, ...] = IFT_STARTS,
    column_rounds: int = 8,
    vertex_starts: int = 2,
    exact_limit: int = 256,
    screen: int = 8,
    kkt_tol: float = 1e-6,
    certify_first: bool = True,
) -> HarmSolution:
    """IFT-gradient policy: multi-start projected gradient ascent, best per user (module docstring).

    ``starts`` (any subset, in one stacked batch of users): ``"uniform"``, ``"top-k(u0)"``, ``"alternating"``
    (the uniform-start and the u0-start alternating results, and the u0-start one with the authors'
    previous-profile anchor) and ``"vertices"`` (k = 1: the
    ``vertex_starts`` best single items of :func:`single_item_candidates`; otherwise :func:`best_vertex`). Each start
    only accepts improving steps, so the result is ≥ every start on every user. ``extra["start"]`` names the start
    that won per user.

    k = 1 bounded cardinality also returns a per-user certificate in ``extra``: ``best_single_item`` and
    ``best_single_item_f`` (exhaustive when n_allowed ≤ ``exact_limit``, flagged by ``single_items_exhaustive``),
    ``kkt_norm`` — the norm of the gradient projected on the tangent cone of the simplex at θ (zero exactly at a
    KKT point; see :func:`kkt_norm`) — and ``kkt_ok`` = kkt_norm ≤ ``kkt_tol`` · (1 + ‖∇f‖∞).

    k = 1 bounded cardinality with every start (the default) and ``certify_first`` (default): every start is scored
    exactly first and the best one — on every problem measured so far a single item — is returned where it meets
    the KKT conditions, the ascent running only for the users where it does not (:func:`_ift_certified_vertex`;
    ``extra["ascended"]`` flags them). An ascent from a KKT vertex stops at once, so this changes the result only
    where another start's ascent would climb above the best start: never on the tested problems (the tests compare
    it with ``certify_first=False``, which ascends from every start on every user). In that path, when the single
    items are screened, the alternating starts are run on the shared table of solved single items
    (:func:`_alternating_chain_k1`) and the previous-profile-anchor alternating start is not used.

    k > 1 bounded cardinality: column generation over a per-user support of k-sets (``column_rounds`` rounds, each
    adding the Dinkelbach best-gradient set and re-optimising π on the support), run from two starts on the initial
    support {top-k(u0), the three alternating results, best vertex}: uniform over it, and all mass on its best set."""
    t0 = time.perf_counter()
    unknown = set(starts) - set(IFT_STARTS)
    if unknown or not starts:
        raise ValueError(f"starts must be a non-empty subset of {list(IFT_STARTS)}, got {starts!r}")
    for name, val, lo in (("vertex_starts", vertex_starts, 1), ("screen", screen, 1), ("exact_limit", exact_limit, 0)):
        if not isinstance(val, (int, np.integer)) or val < lo:
            raise ValueError(f"{name} must be an integer ≥ {lo}, got {val!r}")
    if prob.policy_class == "cardinality" and prob.k > 1:
        return _ift_sets(prob, max_iter, ftol, column_rounds, exact_limit, screen, t0)
    if prob.policy_class == "cardinality" and certify_first and tuple(sorted(starts)) == tuple(sorted(IFT_STARTS)):
        sol = _ift_certified_vertex(prob, max_iter, ftol, vertex_starts, exact_limit, screen, kkt_tol)
    else:
        sol = _ift_multistart(prob, max_iter, ftol, starts, vertex_starts, exact_limit, screen, kkt_tol)
    sol.seconds = time.perf_counter() - t0
    return sol


def _ift_multistart(
    prob: HarmProblem,
    max_iter: int,
    ftol: float,
    starts: tuple[str, ...],
    vertex_starts: int,
    exact_limit: int,
    screen: int,
    kkt_tol: float,
) -> HarmSolution:
    """The ascent from every start, best per user (k = 1 bounded cardinality and sampling)."""
    t0 = time.perf_counter()
    item_k1 = prob.policy_class == "cardinality"
    inits, names, cert = [], [], {}  # inits: (θ, f, ū) per start

    def add(name, sol):
        inits.append((sol.theta, sol.f, sol.profile.U))
        names.append(name)

    for s in starts:
        if s == "uniform":
            add("uniform", uniform(prob))
        elif s == "top-k(u0)":
            add("top-k(u0)", top_k_u0(prob))
        elif s == "alternating":
            for st in ("uniform", "u0"):
                add(f"alternating[{st} start]", alternating(prob, start=st))
            add("alternating[u0 start, previous-profile anchor]", alternating(prob, start="u0", anchor="previous"))
        elif item_k1:
            items, f_items, exhaustive, U_items = single_item_candidates(prob, exact_limit, screen, True)
            cert = dict(best_single_item=items[:, 0], best_single_item_f=f_items[:, 0])
            cert["single_items_exhaustive"] = exhaustive
            for j in range(min(vertex_starts, items.shape[1])):
                inits.append((_theta_for_sets(prob, items[:, j : j + 1])[0], f_items[:, j], U_items[:, j]))
                names.append(f"single item #{j + 1}")
        else:
            add("best vertex", best_vertex(prob, exact_limit, screen))
    ns, m = len(inits), prob.m
    TH = np.stack([t for t, _, _ in inits])  # [ns, m, n]
    # identical starts of one user (e.g. top-k(u0) and the u0-start alternating) are ascended once
    dup = np.zeros((ns, m), bool)
    for j in range(1, ns):  # over the few starts, vectorised over users
        dup[j] = np.any([(TH[j] == TH[i]).all(-1) for i in range(j)], axis=0)
    keep = np.flatnonzero(~dup.reshape(-1))  # row j·m + user
    stacked = prob.subset_users(keep % m)
    pol, project, _ = _policy_and_projection(stacked)
    F0 = np.stack([f for _, f, _ in inits]).reshape(-1)[keep]
    U0 = np.stack([u for _, _, u in inits]).reshape(ns * m, -1)[keep]
    theta, f_k, U_k, it = _ascent(stacked, pol, project, TH.reshape(ns * m, -1)[keep], max_iter, ftol, F0, U0)
    f = np.full(ns * m, -np.inf)
    f[keep] = f_k
    pick = np.argmax(f.reshape(ns, m), axis=0)
    rows = np.searchsorted(keep, pick * m + np.arange(m))
    sol = _solution("ift", prob, theta[rows], t0=t0, iterations=it, U_init=U_k[rows])
    sol.extra["start"] = np.asarray(names)[pick]
    if item_k1:
        if not cert:
            items, f_items, exhaustive = single_item_candidates(prob, exact_limit, screen)
            cert = dict(best_single_item=items[:, 0], best_single_item_f=f_items[:, 0])
            cert["single_items_exhaustive"] = exhaustive
        kkt, gmax = kkt_norm(prob, sol)
        cert.update(kkt_norm=kkt, kkt_ok=kkt <= kkt_tol * (1.0 + gmax))
        sol.extra.update(cert)
    return sol


def _ift_certified_vertex(
    prob: HarmProblem, max_iter: int, ftol: float, vertex_starts: int, exact_limit: int, screen: int, kkt_tol: float
) -> HarmSolution:
    """k = 1 bounded cardinality, all starts: certify the best start first, ascend only where that fails.

    Every start is scored exactly at its stationary profile — every single item (exhaustive when n_allowed ≤
    ``exact_limit``, else the screened ones), uniform, and, when the single items are screened, top-k(u0) and the
    three alternating results (with an exhaustive search those are single items, dominated by the best one). Where
    the best start is a single item satisfying the KKT conditions on the simplex (:func:`kkt_norm`, one IFT
    gradient), it is returned as it is: a projected-gradient ascent from it would stop at once. The full
    multi-start ascent (:func:`_ift_multistart`) runs only for the remaining users (uniform best, or the KKT test
    failed), so those get exactly the previous optimiser's result. ``extra["ascended"]`` flags them."""
    m = prob.m
    items, f_items, exhaustive, U_items = single_item_candidates(prob, exact_limit, screen, True)
    cand = [(items[:, 0], f_items[:, 0], U_items[:, 0], "single item #1")]
    uni = uniform(prob, diagnostics=False)  # only its f and ū are used
    if not exhaustive:  # the alternating chains may name items outside the screen (top-k(u0) is in it)
        table = (items, f_items, U_items)
        for name, U_start in (("alternating[uniform start]", uni.profile.U), ("alternating[u0 start]", prob.U0)):
            table, it_a, f_a, U_a = _alternating_chain_k1(prob, table, U_start)
            cand.append((it_a, f_a, U_a, name))
    fs = np.stack([c[1] for c in cand])  # [starts, m]
    pick = np.argmax(fs, axis=0)
    best_item = np.stack([c[0] for c in cand])[pick, np.arange(m)]
    U_best = np.stack([c[2] for c in cand])[pick, np.arange(m)]
    theta = _theta_for_sets(prob, best_item[:, None])[0]
    sol = _solution("ift", prob, theta, U_init=U_best)
    sol.extra["start"] = np.asarray([c[3] for c in cand])[pick]
    kkt, gmax = kkt_norm(prob, sol)
    ok = (kkt <= kkt_tol * (1.0 + gmax)) & (sol.f >= uni.f) & sol.profile.converged
    redo = np.flatnonzero(~ok)
    if redo.size:
        sub = _ift_multistart(
            prob.subset_users(redo), max_iter, ftol, IFT_STARTS, vertex_starts, exact_limit, screen, kkt_tol
        )
        better = sub.f > sol.f[redo]  # the ascent includes the vertex starts: never worse, kept only if better
        r = redo[better]
        sol.theta[r] = sub.theta[better]
        sol = _solution("ift", prob, sol.theta, U_init=_merge_rows(sol.profile.U, r, sub.profile.U[better]))
        sol.extra["start"] = np.asarray([c[3] for c in cand])[pick]
        sol.extra["start"][r] = sub.extra["start"][better]
        kkt, gmax = kkt_norm(prob, sol)
    sol.extra.update(
        best_single_item=items[:, 0], best_single_item_f=f_items[:, 0], single_items_exhaustive=exhaustive,
        kkt_norm=kkt, kkt_ok=kkt <= kkt_tol * (1.0 + gmax), ascended=np.isin(np.arange(m), redo),
    )  # fmt: skip
    return sol


def _alternating_chain_k1(
    prob: HarmProblem, table: tuple[np.ndarray, np.ndarray, np.ndarray], U_start: np.ndarray, rounds: int = 10
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """k = 1 alternating optimisation (u0 anchor) from profiles ``U_start``, on a per-user table of exactly solved
    single items (items [m, K], f [m, K], ū [m, K, d]; −1 marks an empty slot): item ← top item at the stationary
    profile of the current item, ``rounds`` items at most, stopping at a repeat — :func:`alternating`'s sequence,
    with each single-item fixed point solved once and shared by every chain. Items missing from the table are
    solved (batched over the users that need them) and added. Returns the grown table and the final item, f, ū."""
    items, f_tab, U_tab = table
    m = prob.m
    rows = np.arange(m)
    cur = top_k_items(prob, U_start, 1)[:, 0]
    active = np.ones(m, bool)
    for r in range(rounds):
        match = items == cur[:, None]
        missing = np.flatnonzero(~match.any(1))
        if missing.size:  # one new column, filled for the users that need it
            f_new, U_new = single_item_values(prob.subset_users(missing), cur[missing, None], return_profiles=True)
            col_i = np.full((m, 1), -1, dtype=items.dtype)
            col_f = np.full((m, 1), -np.inf)
            col_U = np.full((m, 1, U_tab.shape[2]), np.nan)
            col_i[missing, 0], col_f[missing, 0], col_U[missing, 0] = cur[missing], f_new[:, 0], U_new[:, 0]
            items = np.concatenate([items, col_i], 1)
            f_tab = np.concatenate([f_tab, col_f], 1)
            U_tab = np.concatenate([U_tab, col_U], 1)
            match = items == cur[:, None]
        j = np.argmax(match, axis=1)
        if r == rounds - 1:
            break
        nxt = top_k_items(prob, U_tab[rows, j], 1)[:, 0]
        active &= nxt != cur
        if not active.any():
            break
        cur = np.where(active, nxt, cur)
    return (items, f_tab, U_tab), cur, f_tab[rows, j], U_tab[rows, j]


def _merge_rows(A: np.ndarray, rows: np.ndarray, B: np.ndarray) -> np.ndarray:
    out = A.copy()
    out[rows] = B
    return out


def kkt_norm(prob: HarmProblem, sol: HarmSolution) -> tuple[np.ndarray, np.ndarray]:
    """k = 1: ‖Π_T(∇f)‖₂ per user — the IFT gradient projected on the tangent cone T of the feasible simplex at θ
    (computed as (P(θ + t∇f) − θ)/t with t = 1e-7/‖∇f‖∞, exact for the sort-based projection once t is below the
    smallest support gap) — and ‖∇f‖∞. Zero iff θ satisfies the KKT conditions on the simplex."""
    pol = ItemPolicy(prob.c)
    g = objective_gradient(pol, sol.theta, sol.profile, prob.U0, prob.V, prob.harmful, prob.params)
    gmax = np.abs(np.where(prob.allowed, g, 0.0)).max(1)
    t = 1e-7 / (gmax + 1e-300)
    step = project_simplex(sol.theta + t[:, None] * g, prob.allowed) - sol.theta
    return np.linalg.norm(step, axis=1) / t, gmax


def _ift_sets(prob, max_iter, ftol, rounds, exact_limit, screen, t0):
    m = prob.m
    base = [top_k_u0(prob), alternating(prob, start="u0"), alternating(prob, start="uniform")]
    base += [alternating(prob, start="u0", anchor="previous"), best_vertex(prob, exact_limit, screen)]
    sets0 = np.concatenate([np.sort(b.sets[:, :1, :], axis=2) for b in base], axis=1)  # [m, 5, k]
    best0 = np.argmax(np.stack([b.f for b in base], 1), axis=1)
    # two starts stacked as 2m users: uniform over the initial support, and all mass on its best set
    th_mix = np.full((m, sets0.shape[1]), 1.0 / sets0.shape[1])
    th_best = np.zeros((m, sets0.shape[1]))
    th_best[np.arange(m), best0] = 1.0
    stacked = prob.subset_users(np.tile(np.arange(m), 2))
    sets = np.concatenate([sets0, sets0])
    theta = np.concatenate([th_mix, th_best])
    total = 0
    for _ in range(rounds):
        pol, project, _ = _policy_and_projection(stacked, sets)
        theta, _, _, it = _ascent(stacked, pol, project, theta, max_iter, ftol)
        total += it
        # best-response set from the IFT cotangent: grad_E = (a + Σ_E x_v) / (c + s_E)
        sp = _solve(stacked, pol, theta)
        x, a, s = _set_gradient_terms(stacked, pol, theta, sp)
        new = np.sort(_dinkelbach_best_set(stacked, x, a, s), axis=1)
        present = (np.sort(sets, axis=2) == new[:, None, :]).all(2).any(1)
        if present.all():
            break
        sets = np.concatenate([sets, new[:, None, :]], axis=1)
        theta = np.concatenate([theta, np.zeros((2 * m, 1))], axis=1)
    pol, _, _ = _policy_and_projection(stacked, sets)
    f = _solve(stacked, pol, theta, diagnostics=False).metrics.f.reshape(2, m)
    pick = np.argmax(f, axis=0)
    rows = pick * m + np.arange(m)
    sol = _solution("ift", prob, theta[rows], sets[rows], t0=t0, iterations=total)
    sol.extra["start"] = np.asarray(["uniform over initial support", "best initial set"])[pick]
    return sol


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
    """(f_new − f_base) / abs(f_base) — the paper's "x % better objective"."""
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


COMPARE_METHODS = (
    "uniform",
    "top-k(u0)",
    "alternating",
    "alternating(u0 start)",
    "alternating(random start)",
    "best vertex",
    "ift",
)


def compare(prob: HarmProblem, alternating_anchor: str = "u0", seed: int = 0, **ift_kw) -> dict[str, HarmSolution]:
    """Every method on one problem, keyed by :data:`COMPARE_METHODS`: ``uniform``, ``top-k(u0)``, ``alternating``
    (uniform start, as the authors run it), ``alternating(u0 start)``, ``alternating(random start)`` (seeded by
    ``seed``), ``best vertex`` (k = 1: the best single item) and ``ift`` (multi-start)."""
    alt = {
        f"alternating{'' if st == 'uniform' else f'({st} start)'}": alternating(
            prob, anchor=alternating_anchor, start=st, seed=seed
        )
        for st in ("uniform", "u0", "random")
    }
    out = {"uniform": uniform(prob), "top-k(u0)": top_k_u0(prob), **alt, "best vertex": best_vertex(prob)}
    out["ift"] = ift(prob, **ift_kw)
    return {k: out[k] for k in COMPARE_METHODS}


__all__ = [
    "ALTERNATING_STARTS",
    "COMPARE_METHODS",
    "IFT_STARTS",
    "HarmProblem",
    "HarmSolution",
    "StationaryPolicy",
    "alternating",
    "best_vertex",
    "calibrate_c",
    "compare",
    "ift",
    "kkt_norm",
    "project_capped_simplex",
    "random_policy",
    "project_simplex",
    "relative_improvement",
    "screen_single_items",
    "single_item_candidates",
    "single_item_values",
    "summary",
    "top_k_u0",
    "uniform",
]
