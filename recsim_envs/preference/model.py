"""Ground-truth user model of Carroll et al. (2022), appendix H, as pure functions on arrays.

- Choice (eq. H.1): P(x | s, u) ∝ s(x) · exp(β_c(u) xᵀu).
- Feed belief: b(x) ∝ s(x)³.
- Chosen-preference shift (after Bernheim et al. 2021):
  P(u' | u, b) ∝ exp(β_d · V(u')),  V(u') = Σ_x P(x | b, u') [λ xᵀu + (1 − λ) xᵀu'].
  The user adopts preferences whose induced choices under the feed belief the *current* preference values
  (weight λ, the flexibility) — the transition depends on the slate only, not on the chosen item.

Everything is tabulated per slate: emission E[a, u, x] = P(x | s_a, u) and transition T[a, u, u'], so a
batched step is a gather plus an inverse-CDF draw, and the NHMM oracle is exact.
"""

from __future__ import annotations

import numpy as np

from recsim_envs.preference.world import COS, N_BINS, THETA, log_normalise, softmax
from recsim_envs.utils.validation import check_array, check_choice, check_real

BETA_C_PRESETS = ("two_bumps", "constant")


def beta_c_profile(preset: object = "two_bumps", width: float = 2.0) -> np.ndarray:
    """Choice-stochasticity profile β_c(u) over the 36 preference bins (paper Fig. 9).

    ``"two_bumps"`` (default): β_c(θ) = 1·exp(w(cos(θ − 80°) − 1)) + 4·exp(w(cos(θ − 270°) − 1)), local maxima
    ≈ 1 at 80° and ≈ 4 at 270° (the exact curve is unpublished; ``width`` w is the bump sharpness).
    ``"constant"``: β_c ≡ 1 (no predictability attractor). An array of 36 non-negative floats overrides.
    """
    if isinstance(preset, str):
        check_choice("beta_c", preset, BETA_C_PRESETS)
        check_real("beta_c_width", width, 0.0, 100.0, low_inclusive=False)
        if preset == "constant":
            return np.ones(N_BINS)
        return 1.0 * np.exp(width * (np.cos(THETA - np.deg2rad(80.0)) - 1.0)) + 4.0 * np.exp(
            width * (np.cos(THETA - np.deg2rad(270.0)) - 1.0)
        )
    return check_array("beta_c", preset, shape=(N_BINS,), low=0.0, high=1e3)


def _log_of(slates: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(slates, dtype=float))


def choice_probabilities(
    slates: np.ndarray | None, beta_c: np.ndarray, *, log_slates: np.ndarray | None = None
) -> np.ndarray:
    """Emission tables E[..., u, x] = P(x | s, u) ∝ s(x) exp(β_c(u) cos(θ_x − θ_u)).

    ``slates``: [..., 36] distributions; returns [..., 36 (u), 36 (x)], rows summing to one. Pass
    ``log_slates`` (e.g. from ``world.action_slates(..., log=True)``) when slates are narrow: bins that
    underflowed to 0 in ``slates`` may still carry the choice once multiplied by exp(β_c xᵀu).
    """
    if log_slates is not None:
        ls = np.asarray(log_slates, dtype=float)
    elif slates is not None:
        ls = _log_of(slates)
    else:
        raise ValueError("choice_probabilities needs slates or log_slates, got neither")
    return softmax(ls[..., None, :] + np.asarray(beta_c)[:, None] * COS)


def feed_log_belief(log_slates: np.ndarray) -> np.ndarray:
    """log b with b ∝ s³, normalised over the last axis."""
    return log_normalise(3.0 * np.asarray(log_slates, dtype=float))


def preference_transition(
    slates: np.ndarray,
    beta_c: np.ndarray,
    beta_d: float,
    flexibility: float,
    *,
    log_slates: np.ndarray | None = None,
) -> np.ndarray:
    """Transition tables T[..., u, u'] = P(u_{t+1} = u' | u_t = u, slate s) of the chosen-preference shift.

    V[u, u'] = λ Σ_x Q[u', x] cos(θ_x − θ_u) + (1 − λ) Σ_x Q[u', x] cos(θ_x − θ_u'), with Q = P(x | b, u') the
    choices candidate u' would make under the feed belief b ∝ s³; T = softmax_{u'}(β_d V). ``log_slates`` as in
    :func:`choice_probabilities`.
    """
    ls = _log_of(slates) if log_slates is None else log_slates
    q = choice_probabilities(None, beta_c, log_slates=feed_log_belief(ls))  # [..., u', x]
    value_current = np.einsum("...px,ux->...up", q, COS)  # Σ_x Q[u',x] cos(x,u)  -> [..., u, u']
    value_self = np.einsum("...px,px->...p", q, COS)  # Σ_x Q[u',x] cos(x,u')   -> [..., u']
    v = flexibility * value_current + (1.0 - flexibility) * value_self[..., None, :]
    return softmax(beta_d * v)


def expected_engagement(emission: np.ndarray) -> np.ndarray:
    """Choice-marginalised engagement EXP[.., u, y] = Σ_x P(x | s, u) xᵀy for every pair of bins (u, y): the
    engagement xᵀy (Carroll et al. 2022) of the item x a user of preference u chooses from the slate, averaged
    over the choice (``emission`` [.., u, x] from :func:`choice_probabilities`), scored against preference y.
    y = u is the engagement under the user's current preference (``numpy.diagonal(..., axis1=-2, axis2=-1)``),
    y = u0 under the initial one."""
    return emission @ COS


def beta_c_two_bumps(
    width_80: float = 2.0, width_270: float = 2.0, floor: float = 0.0, peak_80: float = 1.0, peak_270: float = 4.0
) -> np.ndarray:
    """A family of β_c profiles within what the paper's Fig. 9 shows: local maxima ≈ ``peak_80`` at 80° and
    ≈ ``peak_270`` at 270° (von Mises-shaped bumps of sharpness ``width_80`` / ``width_270``, possibly
    asymmetric), and a ``floor`` the profile does not fall below between them:
    β_c(θ) = f + (p₈₀ − f)·exp(w₈₀(cos(θ − 80°) − 1)) + (p₂₇₀ − f)·exp(w₂₇₀(cos(θ − 270°) − 1)).
    ``beta_c_two_bumps(w, w, 0)`` equals ``beta_c_profile("two_bumps", w)``.
    """
    check_real("width_80", width_80, 0.0, 100.0, low_inclusive=False)
    check_real("width_270", width_270, 0.0, 100.0, low_inclusive=False)
    check_real("peak_80", peak_80, 0.0, 100.0)
    check_real("peak_270", peak_270, 0.0, 100.0)
    check_real("floor", floor, 0.0, min(peak_80, peak_270))
    bump_80 = np.exp(width_80 * (np.cos(THETA - np.deg2rad(80.0)) - 1.0))
    bump_270 = np.exp(width_270 * (np.cos(THETA - np.deg2rad(270.0)) - 1.0))
    return floor + (peak_80 - floor) * bump_80 + (peak_270 - floor) * bump_270


def feed_equivalent_slates(slates: np.ndarray, exponent: float) -> np.ndarray:
    """Slates s' with s'³ ∝ s^k, so that ``preference_transition`` (whose feed belief is b ∝ s³) gives the
    transition under the feed belief b ∝ s^k. Exponent 3 returns ``slates`` unchanged."""
    if exponent == 3.0:
        return slates
    w = np.asarray(slates, dtype=float) ** (exponent / 3.0)
    return w / w.sum(axis=-1, keepdims=True)
