"""Drawing helpers: the paper's Fig. 1-style heatmap of the preference distribution over time, and ansi text.

Frames are fixed-size (:mod:`recsim_envs.utils.plotting`): preference angle (°) against time step, colour = the
probability of each 10° bin, red marks = the user's true preference, axes, labels and a legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recsim_envs.utils.plotting import figure_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# a short perceptual ramp (dark blue → teal → yellow), interpolated; no matplotlib needed for env rendering
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB with a viridis-like ramp."""
    v = np.clip(np.nan_to_num(values), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(v).astype(int)
    hi = np.minimum(lo + 1, len(_RAMP) - 1)
    frac = (v - lo)[..., None]
    return (_RAMP[lo] * (1 - frac) + _RAMP[hi] * frac).astype(np.uint8)


def _heatmap_raster(d: np.ndarray, true_bins: np.ndarray | None, cell_h: int, cell_w: int) -> np.ndarray:
    scale = d.max() if d.max() > 0 else 1.0
    img = colormap((d / scale).T[::-1])  # [36, T, 3], highest angle on top
    img = np.repeat(np.repeat(img, cell_h, axis=0), cell_w, axis=1)
    if true_bins is not None:
        n_bins = d.shape[1]
        for t, b in enumerate(np.asarray(true_bins)):
            r = (n_bins - 1 - int(b)) * cell_h
            c = t * cell_w
            img[r + 1 : r + cell_h - 1, c + cell_w // 3 : c + 2 * cell_w // 3] = (230, 30, 30)
    return img


def preference_heatmap(
    distributions: np.ndarray,
    true_bins: np.ndarray | None = None,
    cell_h: int = 6,
    cell_w: int = 24,
    min_steps: int = 11,
    title: str = "preference distribution over time",
) -> np.ndarray:
    """Fixed-size heatmap frame: y = preference angle (0° at the bottom), x = time step, colour = probability.

    ``distributions`` [T, 36] (each row a distribution); ``true_bins`` [T] marks the true preference in red.
    The time axis spans at least ``min_steps`` steps (the paper's 10-step episode plus t = 0), so frames of one
    episode share their layout. ``cell_h``/``cell_w`` size the NumPy raster used when matplotlib is missing.
    """
    d = np.asarray(distributions, dtype=float)
    n_t, n_bins = d.shape
    width = max(n_t, int(min_steps))

    def draw(ax: Axes) -> None:
        full = np.full((width, n_bins), np.nan)
        full[:n_t] = d
        im = ax.imshow(
            full.T, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest",
            extent=(-0.5, width - 0.5, -5.0, 355.0), vmin=0.0, vmax=max(float(np.nanmax(d)), 1e-12),
        )  # fmt: skip
        ax.figure.colorbar(im, ax=ax, label="probability of the 10° bin", fraction=0.05, pad=0.02)
        if true_bins is not None:
            tb = np.asarray(true_bins)
            ax.plot(np.arange(len(tb)), tb * 10.0, "s", color="#e61e1e", ms=5, label="true preference $u_t$")
            ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
        ax.set_yticks(np.arange(0, 361, 60))
        ax.set_xlabel("time step t")
        ax.set_ylabel("preference angle (°)")
        ax.set_title(title, fontsize=10)

    def raster() -> np.ndarray:
        padded = np.zeros((width, n_bins))
        padded[:n_t] = d
        return _heatmap_raster(padded, true_bins, cell_h, cell_w)

    return figure_frame(draw, raster)
