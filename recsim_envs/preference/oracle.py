"""Exact NHMM oracle for the ground-truth preference-shift users (Carroll et al. 2022, §3 and App. H).

Hidden state: the preference bin u_t ∈ {0..35}. Each step the recommender shows slate a_t (open loop given the
history), the user emits a choice x_t ~ E[a_t][u_t, ·] and moves to u_{t+1} ~ T[a_t][u_t, ·]. All inference is
exact on the 36-state chain, batched over users with a leading axis and normalised per step (the per-step
normalisers give the log-likelihood).

Conventions: ``slates`` [n, T] are action indices into the oracle's tables, ``choices`` [n, T] item bins.
``alpha[:, t]`` is the predictive belief over u_t given x_0..x_{t−1} (so ``alpha[:, 0]`` is the prior);
``gamma[:, t]`` the smoothed belief over u_t given all T observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsim_envs.preference.model import choice_probabilities, preference_transition
from recsim_envs.preference.world import COS, N_BINS, VECTORS, flat_slate


@dataclass
class FilterResult:
    alpha: np.ndarray  # [n, T+1, 36] predictive beliefs over u_t
    choice_predictions: np.ndarray  # [n, T, 36] P(x_t | x_<t, slates)
    log_likelihood: np.ndarray  # [n] log P(x_0..x_{T-1} | slates)


class NHMMOracle:
    """Exact inference for users following the tabulated ground-truth model.

    Parameters: ``slates`` [A, 36] (the action set), ``beta_c`` [36], ``beta_d``, ``flexibility`` (λ), the
    ``prior`` over u_0 [36], and optionally the precomputed ``tables`` (emission [A, u, x], transition
    [A, u, u']) for those slates.
    """

    def __init__(
        self,
        slates: np.ndarray,
        beta_c: np.ndarray,
        beta_d: float,
        flexibility: float,
        prior: np.ndarray,
        tables: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.slates = np.asarray(slates, dtype=float)
        self.prior = np.asarray(prior, dtype=float)
        if tables is None:  # the env passes the (emission, transition) tables it built from log-slates
            tables = (
                choice_probabilities(self.slates, beta_c),  # [A, u, x]
                preference_transition(self.slates, beta_c, beta_d, flexibility),  # [A, u, u']
            )
        self.emission, self.transition = tables
        self.transition_natural = preference_transition(flat_slate(), beta_c, beta_d, flexibility)  # [u, u']

    # -- forward ---------------------------------------------------------------------------------------
    def filter(self, slates: np.ndarray, choices: np.ndarray, prior: np.ndarray | None = None) -> FilterResult:
        """Forward filtering: predictive beliefs, one-step choice predictions and the log-likelihood."""
        slates, choices = np.atleast_2d(slates), np.atleast_2d(choices)
        n, horizon = slates.shape
        belief = np.broadcast_to(self.prior if prior is None else prior, (n, N_BINS)).astype(float)
        alpha = np.empty((n, horizon + 1, N_BINS))
        preds = np.empty((n, horizon, N_BINS))
        loglik = np.zeros(n)
        alpha[:, 0] = belief
        rows = np.arange(n)
        for t in range(horizon):
            em = self.emission[slates[:, t]]  # [n, u, x]
            preds[:, t] = np.einsum("nu,nux->nx", belief, em)
            lik = em[rows, :, choices[:, t]]  # [n, u] P(x_t | u)
            post = belief * lik
            z = post.sum(axis=1)
            loglik += np.log(z)
            post /= z[:, None]
            belief = np.einsum("nu,nuv->nv", post, self.transition[slates[:, t]])
            alpha[:, t + 1] = belief
        return FilterResult(alpha, preds, loglik)

    # -- backward --------------------------------------------------------------------------------------
    def smooth(self, slates: np.ndarray, choices: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
        """Smoothed beliefs over u_t for t = 0..T given all T choices; ``[:, 0]`` is the belief over u_0."""
        slates, choices = np.atleast_2d(slates), np.atleast_2d(choices)
        n, horizon = slates.shape
        fwd = self.filter(slates, choices, prior).alpha
        rows = np.arange(n)
        beta = np.ones((n, N_BINS))  # ∝ P(x_t..x_{T-1} | u_t), here t = T
        gamma = np.empty((n, horizon + 1, N_BINS))
        g = fwd[:, horizon] * beta
        gamma[:, horizon] = g / g.sum(axis=1, keepdims=True)
        for t in range(horizon - 1, -1, -1):
            nxt = np.einsum("nuv,nv->nu", self.transition[slates[:, t]], beta)
            beta = self.emission[slates[:, t]][rows, :, choices[:, t]] * nxt
            beta /= beta.sum(axis=1, keepdims=True)
            g = fwd[:, t] * beta
            gamma[:, t] = g / g.sum(axis=1, keepdims=True)
        return gamma

    def initial_preference_belief(self, slates, choices, prior=None) -> np.ndarray:
        """P(u_0 | x_0..x_{T-1}, slates) — the smoothed belief used by the r(u_0, π) penalty."""
        slates = np.atleast_2d(slates)
        if slates.shape[1] == 0:
            n = slates.shape[0]
            return np.broadcast_to(self.prior if prior is None else prior, (n, N_BINS)).copy()
        return self.smooth(slates, choices, prior)[:, 0]

    # -- prediction ------------------------------------------------------------------------------------
    def predict_under_policy(self, belief: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """Distributions of u_t, t = 0..H, under an open-loop slate sequence ``slates`` [n, H] or [H]."""
        belief = np.atleast_2d(belief)
        n = belief.shape[0]
        slates = np.broadcast_to(np.atleast_2d(slates), (n, np.atleast_2d(slates).shape[1]))
        out = np.empty((n, slates.shape[1] + 1, N_BINS))
        out[:, 0] = belief
        for t in range(slates.shape[1]):
            belief = np.einsum("nu,nuv->nv", belief, self.transition[slates[:, t]])
            out[:, t + 1] = belief
        return out

    def natural_shift(self, initial_belief: np.ndarray, horizon: int) -> np.ndarray:
        """P(u_t^rnd | data) = γ_0ᵀ T_rnd^t for t = 0..horizon: the preferences π_rnd would have induced."""
        b = np.atleast_2d(initial_belief).astype(float)
        out = np.empty((b.shape[0], horizon + 1, N_BINS))
        out[:, 0] = b
        for t in range(horizon):
            b = b @ self.transition_natural
            out[:, t + 1] = b
        return out


def natural_shift_powers(transition_natural: np.ndarray, horizon: int) -> np.ndarray:
    """T_rnd^t for t = 0..horizon, shape [horizon+1, 36, 36]."""
    out = np.empty((horizon + 1, N_BINS, N_BINS))
    out[0] = np.eye(N_BINS)
    for t in range(horizon):
        out[t + 1] = out[t] @ transition_natural
    return out


def expected_vector(dist: np.ndarray) -> np.ndarray:
    """E[u] as a 2-vector for distributions over the bins (last axis 36)."""
    return dist @ VECTORS


__all__ = ["NHMMOracle", "FilterResult", "natural_shift_powers", "expected_vector", "COS"]
