"""The circle world of Carroll et al. (2022), appendix H: 36 bins, slates, initial preferences.

Items and preferences both live on the grid θ_k = 10°·k, k = 0..35, as unit vectors x_k = (cos θ_k, sin θ_k);
engagement of a preference u with an item x is uᵀx = cos(θ_u − θ_x). Putting preferences on the same grid is what
makes the NHMM oracle exact.
"""

from __future__ import annotations

import numpy as np

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


def slate_distribution(mean_deg, std_deg, kernel: str = "clipped_normal") -> np.ndarray:
    """Slate = categorical distribution over the 36 item bins, a circular bump of mean μ and std σ.

    ``clipped_normal``: weights exp(−d²/2σ²) with d the circular distance to μ, clipped to [0°, 180°]
    (the normal density evaluated on the wrapped distance, then normalised). ``von_mises``: weights
    exp(κ cos(θ − μ)) with κ = 1/σ² (σ in radians). Broadcasts over ``mean_deg`` and ``std_deg``; the last axis
    of the result has 36 entries summing to one.
    """
    check_choice("slate_kernel", kernel, SLATE_KERNELS)
    mean = np.asarray(mean_deg, dtype=float)[..., None]
    std = np.asarray(std_deg, dtype=float)[..., None]
    if np.any(std <= 0):
        raise ValueError(f"slate_std_deg must be in (0, inf), got {std_deg!r}")
    if kernel == "clipped_normal":
        d = circular_distance_deg(THETA_DEG, mean)
        logw = -0.5 * (d / std) ** 2
    else:
        kappa = 1.0 / np.deg2rad(std) ** 2
        logw = kappa * (np.cos(THETA - np.deg2rad(mean)) - 1.0)
    w = np.exp(logw - logw.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def flat_slate() -> np.ndarray:
    """π_rnd's slate: uniform over the 36 bins (the 'natural preference shift' reference)."""
    return np.full(N_BINS, 1.0 / N_BINS)


#: index of π_rnd's flat slate in the "six" action set (the last action)
FLAT_ACTION = 6


def action_slates(action_set: str, slate_std_deg: float = 60.0, kernel: str = "clipped_normal"):
    """Slates of an action set and their (mean, std) in degrees.

    ``"six"``: Discrete(7): actions 0–5 are the paper's RL slates, μ ∈ {0°, 60°, …, 300°}, σ = ``slate_std_deg``;
    action :data:`FLAT_ACTION` (6) is π_rnd's flat slate (uniform over the 36 bins, :func:`flat_slate`) — the
    "natural shifts" policy that defines the safe-shift reference, appended last so 0–5 keep their meaning; its
    mean is undefined (NaN) and its std infinite.
    ``"fine"``: Discrete(72), μ ∈ {0°, 10°, …, 350°} × σ ∈ {30°, 60°} (the data-collection slates);
    action a ↦ μ = 10°·(a mod 36), σ = 30° if a < 36 else 60°.
    Returns ``(slates [A, 36], means [A], stds [A])``.
    """
    check_choice("action_set", action_set, ("six", "fine"))
    if action_set == "six":
        means = np.arange(6) * 60.0
        stds = np.full(6, float(slate_std_deg))
        slates = np.concatenate([slate_distribution(means, stds, kernel), flat_slate()[None]], axis=0)
        return slates, np.append(means, np.nan), np.append(stds, np.inf)
    means = np.tile(np.arange(36) * 10.0, 2)
    stds = np.repeat([30.0, 60.0], 36)
    return slate_distribution(means, stds, kernel), means, stds


def initial_preference_distribution(mean_deg: float = 130.0, std_deg: float = 20.0) -> np.ndarray:
    """u_0 ~ N(μ0, σ0) on the grid: weights exp(−d²/2σ0²) over circular distance, normalised (paper: 130°, 20°)."""
    check_real("initial_mean_deg", mean_deg, 0.0, 360.0, high_inclusive=False)
    check_real("initial_std_deg", std_deg, 0.0, 360.0, low_inclusive=False)
    d = circular_distance_deg(THETA_DEG, mean_deg)
    w = np.exp(-0.5 * (d / std_deg) ** 2)
    return w / w.sum()
