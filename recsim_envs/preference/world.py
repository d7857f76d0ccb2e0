"""The circle world of Carroll et al. (2022), appendix H: 36 bins, slates, initial preferences.

Items and preferences both live on the grid θ_k = 10°·k, k = 0..35, as unit vectors x_k = (cos θ_k, sin θ_k);
engagement of a preference u with an item x is uᵀx = cos(θ_u − θ_x). Putting preferences on the same grid is what
makes the NHMM oracle exact.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from recsim_envs.utils.validation import check_choice, check_real

N_BINS = 36
BIN_DEG = 360.0 / N_BINS
THETA_DEG = np.arange(N_BINS) * BIN_DEG
THETA = np.deg2rad(THETA_DEG)
#: unit vectors of the 36 bins, shape [36, 2]
VECTORS = np.stack([np.cos(THETA), np.sin(THETA)], axis=1)
#: engagement matrix COS[u, x] = cos(θ_u − θ_x) = x_uᵀ x_x (symmetric)
COS = VECTORS @ VECTORS.T

SLATE_KERNELS = ("clipped_normal", "von_mises")


def circular_distance_deg(a_deg: np.ndarray | float, b_deg: np.ndarray | float) -> np.ndarray:
    """Absolute angular distance in degrees, in [0, 180]."""
    d = np.abs((np.asarray(a_deg, dtype=float) - np.asarray(b_deg, dtype=float)) % 360.0)
    return np.minimum(d, 360.0 - d)


def _log_bump(d: np.ndarray, std: np.ndarray) -> np.ndarray:
    """−(d² − d_min²) / 2σ² over the last axis: the log of the normal bump exp(−d²/2σ²) up to a constant, with
    0 at the nearest bin(s). Never NaN, however small σ (a bin that is not the nearest gets −inf at worst), so a
    bump whose mean falls between two bins keeps its mass on those two instead of collapsing to 0/0."""
    dmin = d.min(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        far = -0.5 * ((d - dmin) / std) * ((d + dmin) / std)
    return np.where(d == dmin, 0.0, far)


def log_normalise(logw: np.ndarray) -> np.ndarray:
    """Log-weights → log-probabilities over the last axis (log-sum-exp; −inf entries stay −inf)."""
    return logw - logsumexp(logw, axis=-1, keepdims=True)


def softmax(logw: np.ndarray) -> np.ndarray:
    """Log-weights → probabilities over the last axis: exp(logw − max) / Σ (entries at −inf get exactly 0)."""
    w = np.exp(logw - logw.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def _slate_logw(mean_deg, std_deg, kernel: str) -> np.ndarray:
    check_choice("slate_kernel", kernel, SLATE_KERNELS)
    mean = np.asarray(mean_deg, dtype=float)[..., None]
    std = np.asarray(std_deg, dtype=float)[..., None]
    if np.any(std <= 0):
        raise ValueError(f"slate_std_deg must be in (0, inf), got {std_deg!r}")
    if kernel == "clipped_normal":
        return _log_bump(circular_distance_deg(THETA_DEG, mean), std)
    kappa = 1.0 / np.deg2rad(std) ** 2
    return kappa * (np.cos(THETA - np.deg2rad(mean)) - 1.0)


def log_slate_distribution(
    mean_deg: float | np.ndarray, std_deg: float | np.ndarray, kernel: str = "clipped_normal"
) -> np.ndarray:
    """Log-probabilities of :func:`slate_distribution`, finite wherever the bump's log-weight is (no log 0 from
    underflowed probabilities)."""
    return log_normalise(_slate_logw(mean_deg, std_deg, kernel))


def slate_distribution(
    mean_deg: float | np.ndarray, std_deg: float | np.ndarray, kernel: str = "clipped_normal"
) -> np.ndarray:
    """Slate = categorical distribution over the 36 item bins, a circular bump of mean μ and std σ.

    ``clipped_normal``: weights exp(−d²/2σ²) with d the circular distance to μ, clipped to [0°, 180°]
    (the normal density evaluated on the wrapped distance, then normalised). ``von_mises``: weights
    exp(κ cos(θ − μ)) with κ = 1/σ² (σ in radians). Broadcasts over ``mean_deg`` and ``std_deg``; the last axis
    of the result has 36 entries summing to one. Narrow slates underflow to exact zeros far from μ; the model
    tables use :func:`log_slate_distribution` instead.
    """
    return softmax(_slate_logw(mean_deg, std_deg, kernel))


def flat_slate() -> np.ndarray:
    """π_rnd's slate: uniform over the 36 bins (the 'natural preference shift' reference)."""
    return np.full(N_BINS, 1.0 / N_BINS)


#: index of π_rnd's flat slate in the "six" action set (the last action)
FLAT_ACTION = 6


def action_slates(
    action_set: str, slate_std_deg: float = 60.0, kernel: str = "clipped_normal", log: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slates of an action set and their (mean, std) in degrees.

    ``"six"``: Discrete(7): actions 0–5 are the paper's RL slates, μ ∈ {0°, 60°, …, 300°}, σ = ``slate_std_deg``;
    action :data:`FLAT_ACTION` (6) is π_rnd's flat slate (uniform over the 36 bins, :func:`flat_slate`) — the
    "natural shifts" policy that defines the safe-shift reference, appended last so 0–5 keep their meaning; its
    mean is undefined (NaN) and its std infinite.
    ``"fine"``: Discrete(72), μ ∈ {0°, 10°, …, 350°} × σ ∈ {30°, 60°} (the data-collection slates);
    action a ↦ μ = 10°·(a mod 36), σ = 30° if a < 36 else 60°.
    Returns ``(slates [A, 36], means [A], stds [A])``; with ``log=True`` the slates as log-probabilities.
    """
    check_choice("action_set", action_set, ("six", "fine"))
    if action_set == "six":
        means = np.arange(6) * 60.0
        stds = np.full(6, float(slate_std_deg))
        logw = _slate_logw(means, stds, kernel)
        # π_rnd's flat slate last: equal log-weights (uniform over the 36 bins)
        logw = np.concatenate([logw, np.zeros((1, N_BINS))], axis=0)
        means, stds = np.append(means, np.nan), np.append(stds, np.inf)
    else:
        means = np.tile(np.arange(36) * 10.0, 2)
        stds = np.repeat([30.0, 60.0], 36)
        logw = _slate_logw(means, stds, kernel)
    return (log_normalise(logw) if log else softmax(logw)), means, stds


def initial_preference_distribution(mean_deg: float = 130.0, std_deg: float = 20.0) -> np.ndarray:
    """u_0 ~ N(μ0, σ0) on the grid: weights exp(−d²/2σ0²) over circular distance, normalised (paper: 130°, 20°).

    Normalised in log space, so a σ0 far below the bin width puts the mass on the nearest bin (split evenly
    between two equidistant ones) rather than dividing 0 by 0."""
    check_real("initial_mean_deg", mean_deg, 0.0, 360.0, high_inclusive=False)
    check_real("initial_std_deg", std_deg, 0.0, 360.0, low_inclusive=False)
    d = circular_distance_deg(THETA_DEG, mean_deg)
    return softmax(_log_bump(d, np.asarray(float(std_deg))))
