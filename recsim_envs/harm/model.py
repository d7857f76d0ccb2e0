"""Harm-exposure user model of Chee et al. (KDD 2024), as pure NumPy functions batched over users.

Notation (docs/models/harm.md). Catalogue ``V`` [n, d] with harm flags ``harmful`` [n]; users ``U`` [m, d] (current
profiles) and ``U0`` [m, d] (inherent profiles). Scores s_v = exp(⟨u, v⟩), organic choice σ_v = s_v / s_Ω.

The equations of the paper are each written once here and reused by the batched simulator (``core.py``) and,
in torch, by ``torch_model.py``:

* the choice given a recommended set E, :func:`slate_choice` (click v ∈ E with probability s_v/(s_E + c), else
  organic choice);
* the attraction update of the profile, :func:`attraction_step` (paper eq. 3), and its expectation's fixed-point
  map G, :func:`attraction_map`.

A policy class fixes how θ parametrises a distribution over recommended sets; each is a *click model* object
(:class:`ClickModelClass`, not an agent policy) with the same interface:

* :class:`ItemClickModel` — bounded cardinality with k = 1: π [m, n] a distribution over single items.
* :class:`SetClickModel` — bounded cardinality with k > 1 on an explicit, sparse per-user support of k-sets
  ``sets`` [m, M, k] (never the C(n, k) enumeration): π [m, M] a distribution over those sets.
* :class:`SamplingClickModel` — independent sampling: per-item inclusion probabilities q [m, n], Σq ≤ k.

(``ItemPolicy``, ``SetPolicy``, ``SamplingPolicy`` are deprecated aliases of these names.)

Every class maps (θ, scores) to the per-item *click* probabilities r_v = P(user clicks recommended item v) and
the *organic* probability o = P(no click) — the choice of :func:`slate_choice` averaged over E ~ θ; then

    consumption  p_v = r_v + o · σ_v               (docs/models/harm.md, p(v | E) averaged over E ~ π)
    pCLK = Σ_v r_v = 1 − o,   pH = Σ_{v∈H} p_v,   f = pCLK − λ · pH.

pH counts every harmful consumption; with the default (recommended sets without harmful items) it equals the
paper's (s_H/s_Ω)(1 − pCLK).

Stationary profile: the fixed point ū of F(u) = G(p(u)), G(p) = (β u0 + Σ_v α_v p_v v) / (β + Σ_v α_v p_v) — the
zero of the *expected* attraction update u ← (1 − α_v − β)u + α_v v + β u0. G is invariant to a common rescaling of
(α, β), which the tests use: small steps make the stochastic env concentrate at ū.

IFT gradient (adjoint form): with J = ∂F/∂u (d×d) at ū, solve (I − J)ᵀ w = ∂f/∂u and return
∇_θ f = ∂f/∂θ + (∂p/∂θ)ᵀ ξ,  ξ_v = α_v ⟨v − ū, w⟩ / D,  D = β + Σ α_v p_v.
Only [m, n, d] arrays (∂p/∂u) and d×d systems are ever formed — never n×n or (n·m)×n Jacobians.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from recsim_envs.harm.linalg import batched_solve, exp_scores

# --------------------------------------------------------------------------------------------------------------
# scores and organic choice
# --------------------------------------------------------------------------------------------------------------


def _bmv(a: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Batched vector–matrix product Σ_n a[m, n] B[m, n, ...] (BLAS matmul rather than einsum)."""
    return np.matmul(a[:, None, :], B.reshape(B.shape[0], B.shape[1], -1))[:, 0].reshape((B.shape[0],) + B.shape[2:])


def scores(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """s_v = exp(⟨u, v⟩) for every user and item, [m, n] (exponent clipped at 700 against overflow); 2-D
    float inputs take the compiled :func:`recsim_envs.harm.linalg.exp_scores` (same values to ≈ 1e-15 relative)."""
    if np.ndim(U) == 2 and np.ndim(V) == 2 and np.result_type(U, V) == np.float64:
        return exp_scores(U, V)
    return np.exp(np.minimum(U @ V.T, 700.0))


def organic_choice(s: np.ndarray) -> np.ndarray:
    """σ_v = s_v / s_Ω: the organic (search) choice distribution over the whole catalogue, [m, n]."""
    return s / s.sum(axis=-1, keepdims=True)


def slate_choice(s_E: Any, c: float) -> tuple[Any, Any]:
    """The user's choice given a recommended set E (Chee et al., KDD 2024, choice model with an outside option):
    with s_E = Σ_{v∈E} s_v, the user clicks item v ∈ E with probability s_v / (s_E + c) and otherwise, with
    probability c / (s_E + c), chooses organically from the whole catalogue (σ).

    ``s_E`` [..., k]: the scores of the set's items (entries outside the set may be passed as 0). Returns (click
    probabilities [..., k], organic probability [...]). Plain array operations, so the same function serves
    NumPy arrays and torch tensors (``torch_model.py``).
    """
    den = s_E.sum(-1) + c
    return s_E / den[..., None], c / den


# --------------------------------------------------------------------------------------------------------------
# policy classes (click models)
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ClickProbabilities:
    """What a click model returns at given scores: click probabilities r [m, n], organic probability o [m]."""

    r: np.ndarray
    o: np.ndarray


class ClickModelClass(Protocol):
    """Interface of a policy class's click model (what :func:`stationary_profile` and the gradients call)."""

    c: float

    def clicks(self, theta: np.ndarray, s: np.ndarray) -> ClickProbabilities: ...

    def jac_u(self, theta: np.ndarray, s: np.ndarray, sV: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def vjp_theta(self, theta: np.ndarray, s: np.ndarray, zeta_r: np.ndarray, zeta_o: np.ndarray) -> np.ndarray: ...

    def subset(self, idx: np.ndarray) -> ClickModelClass: ...


@runtime_checkable
class DiagonalClickJacobian(Protocol):
    """A click model whose ∂r_v/∂u is a multiple of v (item-diagonal): :func:`_jac_F` then avoids [m, n, d] arrays."""

    def diag_jac_u(self, theta: np.ndarray, s: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class ItemClickModel:
    """Bounded cardinality, k = 1: π [m, n] is a distribution over single items (π_v = 0 for excluded items).

    :func:`slate_choice` with E = {v}: r_v = π_v s_v / (s_v + c),  o = Σ_v π_v c / (s_v + c).
    """

    k = 1

    def __init__(self, c: float):
        self.c = float(c)

    def subset(self, idx: np.ndarray) -> ItemClickModel:
        """The same click model for users ``idx`` (it holds nothing per user)."""
        return self

    def clicks(self, theta: np.ndarray, s: np.ndarray) -> ClickProbabilities:
        click, organic = slate_choice(s[..., None], self.c)
        return ClickProbabilities(r=theta * click[..., 0], o=(theta * organic).sum(-1))

    def jac_u(self, theta: np.ndarray, s: np.ndarray, sV: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(∂r/∂u [m, n, d], ∂o/∂u [m, d]); ``sV`` = s[..., None] · V."""
        c = self.c
        den = s + c
        # r_v = π_v s_v/(s_v + c): dr_v/ds_v = π_v c/(s_v+c)²
        dr_ds = theta * c / den**2
        do_ds = -c * theta / den**2
        return dr_ds[..., None] * sV, _bmv(do_ds, sV)

    def diag_jac_u(self, theta: np.ndarray, s: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∂r_v/∂u = a_v v (a [m, n]) and ∂o/∂u [m, d], without [m, n, d] arrays."""
        c = self.c
        den2 = (s + c) ** 2
        a = theta * c * s / den2
        return a, -(a @ V)

    def vjp_theta(self, theta: np.ndarray, s: np.ndarray, zeta_r: np.ndarray, zeta_o: np.ndarray) -> np.ndarray:
        """ζ_rᵀ ∂r/∂π + ζ_o ∂o/∂π, [m, n]."""
        den = s + self.c
        return (zeta_r * s + zeta_o[:, None] * self.c) / den


class SetClickModel:
    """Bounded cardinality, k ≥ 1 on a sparse support: π [m, M] over the per-user k-sets ``sets`` [m, M, k].

    The support is explicit (e.g. grown by column generation, see ``baselines.harm``), so the C(n, k) sets are
    never enumerated. :func:`slate_choice` averaged over π: s_E = Σ_{v∈E} s_v,
    r_v = s_v Σ_{E∋v} π_E / (s_E + c),  o = Σ_E π_E c / (s_E + c).
    """

    def __init__(self, c: float, sets: np.ndarray, n_items: int):
        self.c = float(c)
        self.sets = np.asarray(sets, dtype=np.int64)
        if self.sets.ndim != 3:
            raise ValueError(f"sets must have shape [m, M, k], got shape {self.sets.shape}")
        self.k = self.sets.shape[-1]
        self.n = int(n_items)
        m = self.sets.shape[0]
        self._flat = (np.arange(m)[:, None, None] * self.n + self.sets).reshape(-1)

    def subset(self, idx: np.ndarray) -> SetClickModel:
        """The same policy class restricted to users ``idx``."""
        return SetClickModel(self.c, self.sets[idx], self.n)

    def _scatter(self, vals: np.ndarray) -> np.ndarray:
        """Sum [m, M, k] (or [m, M, k, d]) values into items: [m, n] (or [m, n, d])."""
        m = self.sets.shape[0]
        if vals.ndim == 3:
            return np.bincount(self._flat, vals.reshape(-1), minlength=m * self.n).reshape(m, self.n)
        d = vals.shape[-1]
        flat = vals.reshape(-1, d)
        out = np.stack([np.bincount(self._flat, flat[:, j], minlength=m * self.n) for j in range(d)], -1)
        return out.reshape(m, self.n, d)

    def _gather(self, x: np.ndarray) -> np.ndarray:
        m = x.shape[0]
        return x[np.arange(m)[:, None, None], self.sets]

    def clicks(self, theta: np.ndarray, s: np.ndarray) -> ClickProbabilities:
        click, organic = slate_choice(self._gather(s), self.c)  # [m, M, k], [m, M]
        return ClickProbabilities(r=self._scatter(theta[..., None] * click), o=(theta * organic).sum(-1))

    def jac_u(self, theta: np.ndarray, s: np.ndarray, sV: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.c
        sE = self._gather(s).sum(-1)
        h = theta / (sE + c)
        e = theta / (sE + c) ** 2
        sigE = self._gather(sV).sum(-2)  # Σ_E = Σ_{w∈E} s_w w, [m, M, d]
        a = self._scatter(np.broadcast_to(h[..., None], self.sets.shape))  # Σ_{E∋v} h_E
        b = self._scatter(np.broadcast_to((e[..., None] * sigE)[:, :, None, :], self.sets.shape + sigE.shape[-1:]))
        jr = a[..., None] * sV - s[..., None] * b
        jo = -c * _bmv(e, sigE)
        return jr, jo

    def vjp_theta(self, theta: np.ndarray, s: np.ndarray, zeta_r: np.ndarray, zeta_o: np.ndarray) -> np.ndarray:
        sE = self._gather(s).sum(-1)
        return (self._gather(zeta_r * s).sum(-1) + zeta_o[:, None] * self.c) / (sE + self.c)


def laplace_nodes(c: float, s_total_max: float, step: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights for ∫_0^∞ e^{-tc} g(t) dt with smooth g ∈ [0, 1]: trapezoid in z = log t (exponentially
    convergent for such integrands), t from 1e-9/(c + s_total_max) to 60/c, plus the [0, t_min] sliver."""
    t_lo = 1e-9 / (c + s_total_max)
    t_hi = 60.0 / c
    z = np.arange(np.log(t_lo), np.log(t_hi) + step, step)
    t = np.exp(z)
    w = step * t
    t = np.concatenate([[0.5 * t_lo], t])
    w = np.concatenate([[t_lo], w]) * np.exp(-t * c)
    # normalise so the rule integrates e^{-tc} exactly (c Σ w = 1): then q = 0 gives o = 1, pCLK = 0 exactly
    return t, w / (c * w.sum())


class SamplingClickModel:
    """Independent sampling: item v is recommended independently with probability q_v (Σ q ≤ k, q_H = 0).

    The expectation of :func:`slate_choice` over the 2^n random sets is exact through the Laplace identity
    1/(x + c) = ∫_0^∞ e^{-t(x + c)} dt, which factorises over independent items:

        o   = c  ∫ e^{-tc} Φ(t) dt,                      Φ(t) = Π_w φ_w(t),  φ_w = 1 − q_w + q_w e^{-t s_w}
        r_v = q_v s_v ∫ e^{-tc} ρ_v(t) Φ(t) dt,          ρ_v = e^{-t s_v} / φ_v  (∈ [0, 1])

    evaluated by a log-t trapezoid rule (``laplace_nodes``; verified against enumeration of all sets in the
    tests). All factors are kept in [0, 1] (P_v = Φ/φ_v, ρ_v) so q_v = 1 with e^{-t s} → 0 stays finite.
    """

    def __init__(self, c: float, k: float, step: float = 0.4, s_bound: float | None = None):
        self.c = float(c)
        self.k = k
        self.step = step  # 0.4: ≈ 80 nodes, |error| ≈ 1e-12 against a 4× finer rule on the synthetic default
        # a fixed upper bound on s_Ω makes the nodes independent of the batch (vector env = single envs)
        self.s_bound = s_bound
        self._memo: tuple | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_memo": None}

    def subset(self, idx: np.ndarray) -> SamplingClickModel:
        """The same click model for users ``idx`` (it holds nothing per user)."""
        return self

    def _parts(self, q: np.ndarray, s: np.ndarray) -> tuple:
        # clicks, jac_u and vjp_theta are called on the same (q, s) arrays within one gradient: reuse the tables
        memo = self._memo
        if memo is not None and memo[0].shape == q.shape and memo[1].shape == s.shape:
            if np.array_equal(memo[0], q) and np.array_equal(memo[1], s):
                return memo[2]
        out = self._compute_parts(q, s)
        self._memo = (q.copy(), s.copy(), out)
        return out

    def _compute_parts(self, q: np.ndarray, s: np.ndarray) -> tuple:
        bound = float(s.sum(-1).max()) if self.s_bound is None else max(self.s_bound, float(s.sum(-1).max()))
        t, w = laplace_nodes(self.c, bound, self.step)
        ts = s[..., None] * t  # [m, n, T]
        e = np.exp(-ts)
        with np.errstate(divide="ignore", invalid="ignore"):
            logphi = np.logaddexp(np.log1p(-q)[..., None], np.log(q)[..., None] - ts)
        L = logphi.sum(-2)  # [m, T]
        Phi = np.exp(L)
        rho = np.exp(-ts - logphi)
        P = np.exp(L[:, None, :] - logphi)
        return t, w, e, rho, Phi, P

    def organic_probability(self, q: np.ndarray, s: np.ndarray) -> np.ndarray:
        """o = c ∫ e^{-tc} Π_w φ_w(t) dt alone (what pCLK = 1 − o and pH = o σ_H need when q_H = 0): one exp and
        one log per (item, node), only over items with q > 0 — the env's per-step analytic info."""
        bound = float(s.sum(-1).max()) if self.s_bound is None else max(self.s_bound, float(s.sum(-1).max()))
        t, w = laplace_nodes(self.c, bound, self.step)
        cols = np.flatnonzero((q > 0).any(0))
        qc, sc = q[:, cols, None], s[:, cols, None]
        with np.errstate(divide="ignore"):
            L = np.log(1.0 - qc + qc * np.exp(-sc * t)).sum(1)  # [m, T]; log 0 = −inf ⇒ Φ = 0, exact
        return self.c * (np.exp(L) * w).sum(-1)

    def clicks(self, theta: np.ndarray, s: np.ndarray) -> ClickProbabilities:
        t, w, e, rho, Phi, P = self._parts(theta, s)
        o = self.c * (Phi * w).sum(-1)
        r = theta * s * (rho @ (Phi * w)[..., None])[..., 0]
        return ClickProbabilities(r=r, o=o)

    def jac_u(self, theta: np.ndarray, s: np.ndarray, sV: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = theta
        t, w, e, rho, Phi, P = self._parts(q, s)
        wPhi = w * Phi  # [m, T]
        K = rho * wPhi[:, None, :]  # K_vj = ω_j Φ_j ρ_vj
        # ∂r_v/∂s_v (own) = q_v Σ K_vj (1 − s_v t_j);  cross (w ≠ v): −q_v s_v q_w Σ_j ω_j t_j Φ_j ρ_vj ρ_wj
        own = q * (K.sum(-1) - s * (K * t).sum(-1))
        wtPhi = wPhi * t  # [m, T]
        Z = np.matmul(np.swapaxes(q[..., None] * rho, 1, 2), sV)  # Σ_w q_w ρ_wj s_w w, [m, T, d]
        cross = -(q * s)[..., None] * np.matmul(rho * wtPhi[:, None, :], Z)
        self_cross = -(q * s * q * (rho**2 * wtPhi[:, None, :]).sum(-1))[..., None] * sV
        jr = own[..., None] * sV + cross - self_cross
        # ∂o/∂s_w = −c q_w Σ_j ω_j t_j Φ_j ρ_wj
        do_ds = -self.c * q * (rho @ wtPhi[..., None])[..., 0]
        return jr, _bmv(do_ds, sV)

    def vjp_theta(self, theta: np.ndarray, s: np.ndarray, zeta_r: np.ndarray, zeta_o: np.ndarray) -> np.ndarray:
        q = theta
        t, w, e, rho, Phi, P = self._parts(q, s)
        wPhi = w * Phi
        K = rho * wPhi[:, None, :]
        xi = zeta_r * q * s  # ξ'_v
        A = _bmv(xi, rho)  # Σ_v ξ'_v ρ_vj
        # ζᵀ∂r/∂q_w = ζ_w s_w Σ_j K_wj + Σ_j ω_j (e_wj − 1) P_wj (A_j − ξ'_w ρ_wj)
        dP = w[None, None, :] * (e - 1.0) * P  # ω_j (e_wj − 1) P_wj = ∂(ωΦ)/∂q_w
        g = zeta_r * s * K.sum(-1) + (dP * (A[:, None, :] - xi[..., None] * rho)).sum(-1)
        g += zeta_o[:, None] * self.c * dP.sum(-1)
        return g


#: deprecated aliases (the classes are click models, not agent policies); use the ``*ClickModel`` names
ItemPolicy = ItemClickModel
SetPolicy = SetClickModel
SamplingPolicy = SamplingClickModel


# --------------------------------------------------------------------------------------------------------------
# consumption, metrics, dynamics
# --------------------------------------------------------------------------------------------------------------


@dataclass
class HarmParams:
    """Model constants: outside option c, harm weight λ, attraction α_H/α_NH, anchoring β."""

    lam: float = 100.0
    alpha_harmful: float = 0.5
    alpha_benign: float = 0.25
    beta: float = 0.2

    def alphas(self, harmful: np.ndarray) -> np.ndarray:
        """α_v per item: α_H for harmful items, α_NH otherwise."""
        return np.where(harmful, self.alpha_harmful, self.alpha_benign)


@dataclass
class Metrics:
    """Per-user analytic quantities at a profile: pCLK, pH, f and the consumption distribution p [m, n]."""

    pclk: np.ndarray
    ph: np.ndarray
    f: np.ndarray
    p: np.ndarray


def evaluate(
    policy: ClickModelClass, theta: np.ndarray, U: np.ndarray, V: np.ndarray, harmful: np.ndarray, lam: float
) -> Metrics:
    """pCLK, pH, f = pCLK − λ pH and p at profiles ``U`` (docs/models/harm.md equations)."""
    s = scores(U, V)
    sig = organic_choice(s)
    cm = policy.clicks(theta, s)
    p = cm.r + cm.o[:, None] * sig
    ph = p[:, harmful].sum(-1)
    pclk = 1.0 - cm.o
    return Metrics(pclk=pclk, ph=ph, f=pclk - lam * ph, p=p)


def attraction_step(
    U: np.ndarray, U0: np.ndarray, V: np.ndarray, item: np.ndarray, alpha_item: np.ndarray, beta: float
) -> np.ndarray:
    """The attraction update of the profile (Chee et al., KDD 2024, eq. 3), one realised step for each user:
    u ← (1 − α_v − β) u + α_v v + β u0, with v = ``item`` the consumed item and α_v = ``alpha_item`` (α_H for a
    harmful item, α_NH otherwise). The batched simulator (``core.py``) steps its users with this function."""
    a = alpha_item[:, None]
    return (1.0 - a - beta) * U + a * V[item] + beta * U0


def attraction_map(p: Any, U0: Any, V: Any, alpha: Any, beta: float) -> Any:
    """G(p) = (β u0 + Σ_v α_v p_v v) / (β + Σ_v α_v p_v), [m, d]: the zero of the *expected*
    :func:`attraction_step` when item v is consumed with probability p_v (F(u) = G(p(u)) is the stationary map).
    Plain array operations, so the same function serves NumPy arrays and torch tensors (``torch_model.py``)."""
    ap = p * alpha
    return (beta * U0 + ap @ V) / (beta + ap.sum(-1)[..., None])


@dataclass
class StationaryProfile:
    """Result of :func:`stationary_profile`: profiles ū [m, d], iterations, residual ‖ū − F(ū)‖∞ per user,
    spectral radius of ∂F/∂u at ū per user, ``converged`` per user, and the metrics at ū."""

    U: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    spectral_radius: np.ndarray
    converged: np.ndarray
    metrics: Metrics

    @property
    def ok(self) -> bool:
        return bool(np.all(self.converged) and np.all(self.spectral_radius < 1.0))


class StationaryProfileError(RuntimeError):
    """The fixed-point solve did not reach the tolerance, or the fixed point is not locally stable."""


def _jac_F(
    policy: ClickModelClass,
    theta: np.ndarray,
    U: np.ndarray,
    U0: np.ndarray,
    V: np.ndarray,
    alpha: np.ndarray,
    beta: float,
    hmask: np.ndarray | None = None,
) -> dict[str, Any]:
    """F(U), ∂F/∂u [m, d, d] and the pieces reused by the gradient (``jrH`` = Σ_{v∈H} ∂r_v/∂u when ``hmask``).

    J = (1/D) Σ_v α_v (v − F) (∂p_v/∂u)ᵀ with ∂p/∂u = J_r + σ (∂o/∂u)ᵀ + o (diag σ − σσᵀ) V. Policies whose
    J_r is item-diagonal (J_r,v = a_v v: the item policy) take a path with only [m, n] arrays and matmuls.
    """
    s = scores(U, V)
    sig = organic_choice(s)
    cm = policy.clicks(theta, s)
    p = cm.r + cm.o[:, None] * sig
    ap = alpha * p
    D = beta + ap.sum(-1)
    F = (beta * U0 + ap @ V) / D[:, None]
    vbar = sig @ V  # [m, d]
    m, d = U.shape
    out = dict(F=F, s=s, sig=sig, cm=cm, p=p, D=D, vbar=vbar)
    if isinstance(policy, DiagonalClickJacobian):
        a, jo = policy.diag_jac_u(theta, s, V)
        # ∂p_v/∂u = b_v v + σ_v g,  b = a + oσ,  g = ∂o/∂u − o v̄
        b = a + cm.o[:, None] * sig
        g = jo - cm.o[:, None] * vbar
        ab = alpha * b
        iu, ju = np.triu_indices(d)
        Mu = ab @ (V[:, iu] * V[:, ju])  # Σ_v ab_v v vᵀ is symmetric: its upper triangle, mirrored
        M = np.empty((m, d, d))
        M[:, iu, ju] = Mu
        M[:, ju, iu] = Mu
        asig = alpha * sig
        J = M - F[:, :, None] * (ab @ V)[:, None, :]
        J += (asig @ V - asig.sum(-1, keepdims=True) * F)[:, :, None] * g[:, None, :]
        out.update(J=J / D[:, None, None], jo=jo)
        if hmask is not None:
            out["jrH"] = (a * hmask) @ V
        return out
    sV = s[..., None] * V[None]
    jr, jo = policy.jac_u(theta, s, sV)
    Jp = jr + sig[..., None] * jo[:, None, :] + (cm.o[:, None] * sig)[..., None] * (V[None] - vbar[:, None, :])
    Wt = alpha[None, :, None] * (V[None] - F[:, None, :])  # α_v (v − F), [m, n, d]
    out.update(J=np.matmul(np.swapaxes(Wt, 1, 2), Jp) / D[:, None, None], jo=jo)
    if hmask is not None:
        out["jrH"] = hmask @ jr
    return out


def stationary_profile(
    policy: ClickModelClass,
    theta: np.ndarray,
    U0: np.ndarray,
    V: np.ndarray,
    harmful: np.ndarray,
    params: HarmParams,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
    method: str = "newton",
    U_init: np.ndarray | None = None,
    anchor: np.ndarray | None = None,
    strict: bool = False,
    diagnostics: bool = True,
) -> StationaryProfile:
    """Fixed point ū = F(ū) for every user, to ``tol`` in ‖·‖∞ (docs/models/harm.md).

    ``method="newton"`` solves (I − J)Δ = F(u) − u with the d×d Jacobian J = ∂F/∂u and falls back to a plain
    step where Newton does not reduce the residual; ``"picard"`` iterates u ← F(u) (the paper's scheme, to
    tolerance instead of 10 fixed rounds). ``diagnostics=False`` skips the spectral radius (NaN; inner loops of
    the optimisers re-check it on their result). ``anchor`` replaces u0 in the β-term (the authors' alternating code
    anchors at the previous profile). Non-convergence or a spectral radius ≥ 1 is reported per user in the
    result and raises :class:`StationaryProfileError` when ``strict``.
    """
    alpha = params.alphas(harmful)
    A = U0 if anchor is None else anchor
    U = (U0 if U_init is None else U_init).copy()
    m = U.shape[0]
    iters = np.zeros(m, dtype=np.int64)
    res = np.full(m, np.inf)
    active = np.ones(m, dtype=bool)
    # Newton with a lagged safeguard: each round evaluates F and J once at the current point; a user whose residual
    # did not fall below the previous round's returns to its previous point and takes the plain step F there
    prevU = U.copy()
    prevF = U.copy()
    prev_res = np.full(m, np.inf)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th = theta[idx]
        pol = policy.subset(idx)
        if method == "newton":
            jf = _jac_F(pol, th, U[idx], A[idx], V, alpha, params.beta)
            G = jf["F"] - U[idx]
            r = np.abs(G).max(-1)
            worse = ~(r < prev_res[idx]) & np.isfinite(prev_res[idx]) | ~np.isfinite(r)
            done = (r <= tol) & ~worse
            res[idx] = np.where(worse, prev_res[idx], r)
            step = batched_solve(np.eye(U.shape[1]) - jf["J"], G)
            bad_step = ~np.isfinite(step).all(-1)
            step[bad_step] = G[bad_step]
            new = U[idx] + step
            # worse: plain step from the previous point (its F is stored), then accept whatever comes next
            new[worse] = prevF[idx][worse]
            new[done] = U[idx][done]
            ok = ~worse
            gi = idx[ok]
            prevU[gi], prevF[gi], prev_res[gi] = U[gi], jf["F"][ok], r[ok]
            prev_res[idx[worse]] = np.inf
            U[idx] = new
            iters[idx] += 1
            active[idx[done]] = False
            continue
        p = evaluate(pol, th, U[idx], V, harmful, params.lam).p
        Fu = attraction_map(p, A[idx], V, alpha, params.beta)
        res[idx] = np.abs(Fu - U[idx]).max(-1)
        U[idx] = Fu
        iters[idx] += 1
        active[idx] = res[idx] > tol
    # final residual and stability at the returned point (one batched pass)
    metrics = evaluate(policy, theta, U, V, harmful, params.lam)
    res = np.abs(attraction_map(metrics.p, A, V, alpha, params.beta) - U).max(-1)
    converged = res <= tol
    if diagnostics:
        J = _jac_F(policy, theta, U, A, V, alpha, params.beta)["J"]
        rad = np.abs(np.linalg.eigvals(J)).max(-1)
    else:
        rad = np.full(m, np.nan)
    out = StationaryProfile(
        U=U, iterations=iters, residual=res, spectral_radius=rad, converged=converged, metrics=metrics
    )
    if strict and not out.ok:
        bad = np.flatnonzero(~converged | ~(rad < 1.0))
        raise StationaryProfileError(
            f"stationary profile failed for {bad.size} user(s) (first {bad[:5].tolist()}): residual "
            f"{res[bad[:5]].tolist()}, spectral radius {rad[bad[:5]].tolist()} (need residual ≤ {tol} and < 1)"
        )
    return out


def ift_cotangents(
    policy: ClickModelClass,
    theta: np.ndarray,
    sp: StationaryProfile,
    U0: np.ndarray,
    V: np.ndarray,
    harmful: np.ndarray,
    params: HarmParams,
    anchor: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cotangents (ζ_r [m, n], ζ_o [m]) on the click model such that ∇_θ f = ζ_rᵀ ∂r/∂θ + ζ_o ∂o/∂θ, and the scores.

    ∂f/∂u and J = ∂F/∂u are d-dimensional; (I − J)ᵀ w = ∂f/∂u is one batched d×d solve; the implicit part enters
    through p with cotangent ξ_v = α_v ⟨v − ū, w⟩ / D, added to the direct part (ζ_r = −λ 1_H, ζ_o = −1 − λσ_H).
    """
    lam = params.lam
    alpha = params.alphas(harmful)
    A = U0 if anchor is None else anchor
    hmask = harmful.astype(float)
    jf = _jac_F(policy, theta, sp.U, A, V, alpha, params.beta, hmask)
    sig, cm, jo, vbar = jf["sig"], jf["cm"], jf["jo"], jf["vbar"]
    sigH = sig @ hmask
    # f = (1 − o) − λ [1_Hᵀ r + o σ_H]
    sh = sig * hmask
    dsigH = sh @ V - sh.sum(-1, keepdims=True) * vbar
    df_du = -jo - lam * (jf["jrH"] + sigH[:, None] * jo + cm.o[:, None] * dsigH)
    d = V.shape[1]
    IJ = np.eye(d)[None] - jf["J"]
    w = batched_solve(np.swapaxes(IJ, -1, -2), df_du)
    xi = alpha[None, :] * (w @ V.T - (jf["F"] * w).sum(-1, keepdims=True)) / jf["D"][:, None]
    zeta_r = xi - lam * hmask[None, :]
    zeta_o = (xi * sig).sum(-1) - 1.0 - lam * sigH
    return zeta_r, zeta_o, jf["s"]


def objective_gradient(
    policy: ClickModelClass, theta: np.ndarray, sp: StationaryProfile, U0: np.ndarray, V: np.ndarray,
    harmful: np.ndarray, params: HarmParams, anchor: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """∇_θ f(θ, ū(θ)) by the implicit function theorem in adjoint form (docs/models/harm.md), shape [m, dim θ].

    Only [m, n, d] arrays and a batched d×d solve (:func:`ift_cotangents`), then one vector–Jacobian product
    through the policy class — never an n×n or (n·m)×n Jacobian.
    """
    zeta_r, zeta_o, s = ift_cotangents(policy, theta, sp, U0, V, harmful, params, anchor)
    return policy.vjp_theta(theta, s, zeta_r, zeta_o)


def single_item_stationary(
    items: np.ndarray,
    U0: np.ndarray,
    V: np.ndarray,
    harmful: np.ndarray,
    params: HarmParams,
    c: float,
    *,
    U_init: np.ndarray | None = None,
    tol: float = 1e-11,
    max_iter: int = 60,
    chord_below: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stationary profile and f of *single-item* policies (k = 1, item ``items[i]`` recommended with probability 1
    to user row i), batched over rows: (ū [P, d], f [P], converged [P]).

    The same fixed point as :func:`stationary_profile` with a one-hot :class:`ItemClickModel`, specialised: with
    r = s_v/(s_v + c), o = 1 − r, A = Σ_w α_w σ_w w, B = Σ_w α_w σ_w, F(u) = (β u0 + o A + α_v r v) / (β + o B + α_v r)
    and ∂F/∂u = (1/D)[o(M − A v̄ᵀ) + r(1−r)(α_v v − A)vᵀ − F(o(A − B v̄) + r(1−r)(α_v − B) v)ᵀ], M = Σ α σ w wᵀ,
    v̄ = Σ σ w — Newton steps with the same lagged safeguard (plain step where the residual did not fall). Rows whose
    residual ‖F(u) − u‖∞ is at most ``chord_below`` reuse their last Jacobian (chord steps: no O(n d²) build of M;
    0 = Newton throughout)."""
    alpha = params.alphas(harmful)
    beta = params.beta
    P, d = U0.shape
    iu, ju = np.triu_indices(d)
    # the upper triangle of α_w w wᵀ per item (M is symmetric), in float32: M only enters the Newton matrix, whose
    # rounding changes the step, not the fixed point (the residual F(u) − u and the stopping test are float64)
    aVVu = (alpha[:, None] * V[:, iu] * V[:, ju]).astype(np.float32)
    # one product s @ W per round gives every catalogue sum, unnormalised: Σαs w, Σαs, Σ s 1_H, Σ s w, Σ s
    hm = harmful.astype(float)
    W = np.concatenate([alpha[:, None] * V, alpha[:, None], hm[:, None], V, np.ones((len(V), 1))], 1)
    vi = V[items]
    av = alpha[items]
    U = (U0 if U_init is None else U_init).copy()
    res = np.full(P, np.inf)
    prevF, prev_res = U.copy(), np.full(P, np.inf)
    active = np.ones(P, bool)
    f = np.full(P, np.nan)
    IJ = np.empty((P, d, d))  # I − J at each row's last Jacobian build
    have = np.zeros(P, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        u, v, a_v = U[idx], vi[idx], av[idx]
        s = scores(u, V)
        sums = s @ W
        sums[:, :-1] /= sums[:, -1:]  # σ-weighted: A = Σ α σ w, B = Σ α σ, σ_H = Σ σ 1_H, v̄ = Σ σ w
        A, B, sigH, vbar_all = sums[:, :d], sums[:, d], sums[:, d + 1], sums[:, d + 2 : 2 * d + 2]
        sv = s[np.arange(idx.size), items[idx]]
        click, o = slate_choice(sv[:, None], c)  # the one-item slate
        r = click[:, 0]
        D = beta + o * B + a_v * r
        F = (beta * U0[idx] + o[:, None] * A + (a_v * r)[:, None] * v) / D[:, None]
        G = F - u
        rr = np.abs(G).max(-1)
        worse = (~(rr < prev_res[idx]) & np.isfinite(prev_res[idx])) | ~np.isfinite(rr)
        done = (rr <= tol) & ~worse
        # f at the current point (kept for users that stop here): pCLK − λ pH with p = o σ + r e_v
        f[idx] = r - params.lam * (o * sigH + r * hm[items[idx]])
        res[idx] = np.where(worse, prev_res[idx], rr)
        b = (~(have[idx] & (rr <= chord_below)) | worse) & ~done  # rows that build a fresh Jacobian
        if b.any():
            vbar = vbar_all[b]
            Ab, Fb, ob, vb = A[b], F[b], o[b], v[b]
            sb = s if b.all() else s[b]
            sig32 = np.multiply(sb, 1.0 / sums[b, -1:], out=np.empty(sb.shape, np.float32))  # σ ≤ 1: no overflow
            Mu = (sig32 @ aVVu).astype(np.float64)
            M = np.empty((Mu.shape[0], d, d))
            M[:, iu, ju] = Mu
            M[:, ju, iu] = Mu
            rq = r[b] * ob
            dN = ob[:, None, None] * (M - Ab[:, :, None] * vbar[:, None, :])
            dN += rq[:, None, None] * (a_v[b][:, None] * vb - Ab)[:, :, None] * vb[:, None, :]
            dD = ob[:, None] * (Ab - B[b][:, None] * vbar) + (rq * (a_v[b] - B[b]))[:, None] * vb
            IJ[idx[b]] = np.eye(d) - (dN - Fb[:, :, None] * dD[:, None, :]) / D[b][:, None, None]
            have[idx[b]] = True
        step = np.zeros_like(G)
        nd = ~done
        step[nd] = batched_solve(IJ[idx[nd]], G[nd])
        bad = ~np.isfinite(step).all(-1)
        step[bad] = G[bad]
        new = u + step
        new[worse] = prevF[idx][worse]
        new[done] = u[done]
        ok = ~worse
        prevF[idx[ok]], prev_res[idx[ok]] = F[ok], rr[ok]
        prev_res[idx[worse]] = np.inf
        U[idx] = new
        active[idx[done]] = False
    return U, f, res <= tol
