"""Algorithms 1–3 of Carroll et al. (2022) on the learned user model (NumPy; every draw from a seeded Generator).

- Algorithm 1, :func:`predict_future_preferences`: Monte-Carlo estimate of the preferences a *new* policy would
  induce. Particles start from the observed history; each step the future model P̂_f gives the belief over
  u_t, the policy picks a slate, and a choice is sampled from Σ_u P̂_f(u) P(x | s, u) (the known choice model) and
  appended to the particle's history. The estimate of P(u_t) is the particles' average belief.
- Algorithm 2, :func:`counterfactual_preferences`: the same rollout under the safe policy (the flat slate,
  "natural shifts") with the counterfactual model P̂_c, each particle conditioned on a u_0 drawn from the
  initial-preference belief P̂_i(u_0 | data). Because the safe policy is fixed, P̂(u_t^rnd | u_0) is tabulated
  once per checkpoint (:func:`natural_shift_table`, [T+1, u_0, u]) and any belief b_0 maps to
  Σ_{u0} b_0(u0) table[t, u0] — the Monte-Carlo estimate averaged over u_0 ~ b_0.
- Algorithm 3 (``learned.core.generate_penalised_trajectories``): trajectories simulated from the learned model
  with the penalised reward r̂_t + ν_i r̂_t(u_0) + ν_n r̂_t(u_t^rnd) — the training signal of
  ``PreferenceShiftLearned-v0``; it lives next to ``LearnedUserBatch``, which implements the per-step update
  (so ``core`` imports this module and never the reverse).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recsim_envs.preference.learned.network import LearnedUserModel, start_tokens, step_tokens
from recsim_envs.preference.world import N_BINS, THETA, flat_slate
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_int

#: a policy for Algorithm 1: (slate indices so far [m, t], choices so far [m, t], t) -> slate indices [m]
HistoryPolicy = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def _sample_choices(belief: np.ndarray, emission: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """x ~ Σ_u belief(u) E[u, x] for each row; ``emission`` [m, u, x]."""
    q = np.einsum("mu,mux->mx", belief, emission)
    return crng.categorical(q, rng.random(q.shape[0]))


def predict_future_preferences(
    model: LearnedUserModel,
    slate_table: np.ndarray,
    policy: HistoryPolicy | np.ndarray,
    horizon: int,
    n_users: int = 1,
    n_samples: int = 100,
    rng: np.random.Generator | None = None,
    history: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Algorithm 1: estimated P(u_t) for t = 0..``horizon`` under ``policy``, shape [n_users, horizon+1, 36].

    ``slate_table`` [A, 36] are the policy's slates; ``policy`` is a :data:`HistoryPolicy` or an open-loop
    array of slate indices [horizon]. ``history`` = (slate indices [n, t0], choices [n, t0]) already observed for
    each user (the same t0 for all; rows of ``slate_table``); without it users start at t = 0 from the learned
    population prior. ``n_samples`` particles per user.
    """
    horizon = check_int("horizon", horizon, 0, model.horizon)
    n_samples = check_int("n_samples", n_samples, 1, 10_000_000)
    rng = np.random.default_rng(0) if rng is None else rng
    slate_table = np.asarray(slate_table, dtype=float)
    if history is not None:
        h_slates, h_choices = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in history)
        n_users, t0 = h_slates.shape
    else:
        n_users, t0 = check_int("n_users", n_users, 1, 10_000_000), 0
        h_slates = h_choices = np.zeros((n_users, 0), dtype=np.int64)
    if t0 > horizon:
        raise ValueError(f"history length must be in [0, {horizon}], got {t0}")
    m = n_users * n_samples
    slates = np.zeros((m, model.horizon), dtype=np.int64)
    choices = np.zeros((m, model.horizon), dtype=np.int64)
    slates[:, :t0] = np.repeat(h_slates, n_samples, axis=0)
    choices[:, :t0] = np.repeat(h_choices, n_samples, axis=0)
    emission = model.emission(slate_table)  # [A, u, x]
    out = np.zeros((m, horizon + 1, N_BINS))
    enc = model.encoder("future", m)  # incremental: each step adds one token to the cached history
    heads = enc.append(start_tokens(m))
    for t in range(horizon + 1):
        belief = model.beliefs(heads)
        out[:, t] = belief
        if t == horizon:
            break
        if t >= t0:
            if callable(policy):
                a = np.asarray(policy(slates[:, :t], choices[:, :t], t), dtype=np.int64).reshape(m)
            else:
                a = np.full(m, int(np.asarray(policy)[t]))
            slates[:, t] = a
            choices[:, t] = _sample_choices(belief, emission[a], rng)
        heads = enc.append(step_tokens(slate_table[slates[:, t]], choices[:, t]))
    return out.reshape(n_users, n_samples, horizon + 1, N_BINS).mean(axis=1)


def counterfactual_preferences(
    model: LearnedUserModel,
    initial_belief: np.ndarray,
    horizon: int,
    n_samples: int = 100,
    rng: np.random.Generator | None = None,
    safe_slate: np.ndarray | None = None,
) -> np.ndarray:
    """Algorithm 2: estimated P(u_t^safe) for t = 0..``horizon`` given beliefs over u_0 [n, 36]: [n, H+1, 36].

    Each of ``n_samples`` particles per user draws u_0 ~ ``initial_belief`` and is rolled out under the safe
    policy (``safe_slate``, default the flat slate) with P̂_c(u_t | u_0, simulated history) and choices sampled
    through the known choice model.
    """
    horizon = check_int("horizon", horizon, 0, model.horizon)
    n_samples = check_int("n_samples", n_samples, 1, 10_000_000)
    rng = np.random.default_rng(0) if rng is None else rng
    b0 = np.atleast_2d(np.asarray(initial_belief, dtype=float))
    n = b0.shape[0]
    m = n * n_samples
    u0 = crng.categorical(np.repeat(b0, n_samples, axis=0), rng.random(m))
    safe = flat_slate() if safe_slate is None else np.asarray(safe_slate, dtype=float)
    emission = model.emission(safe)  # [u, x]
    out = np.zeros((m, horizon + 1, N_BINS))
    enc = model.encoder("counterfactual", m)
    heads = enc.append(start_tokens(m, THETA[u0]))
    for t in range(horizon + 1):
        belief = model.beliefs(heads)
        out[:, t] = belief
        if t < horizon:
            choice = crng.categorical(belief @ emission, rng.random(m))
            heads = enc.append(step_tokens(np.broadcast_to(safe, (m, N_BINS)), choice))
    return out.reshape(n, n_samples, horizon + 1, N_BINS).mean(axis=1)


def natural_shift_table(model: LearnedUserModel, n_samples: int = 256, seed: int = 0) -> np.ndarray:
    """Algorithm 2 for every initial bin: table[t, u0, u] = P̂(u_t^rnd = u | u_0 = u0), shape [T+1, 36, 36].

    Row t = 0 is the identity (the counterfactual trajectory starts at the given u_0); rows t ≥ 1 are the
    Monte-Carlo averages of P̂_c over ``n_samples`` simulated flat-slate histories per initial bin.
    """
    rng = np.random.default_rng(seed)
    est = counterfactual_preferences(model, np.eye(N_BINS), model.horizon, n_samples, rng)  # [u0, t, u]
    table = est.transpose(1, 0, 2).copy()
    # u_0^rnd = u_0 by definition: the counterfactual starts from the same initial preference, so t = 0 is exact
    table[0] = np.eye(N_BINS)
    return table
