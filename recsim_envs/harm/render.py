"""Trajectory plots for the harm env drawn with NumPy only: analytic pH, pCLK and the organic harm share σ_H over
time (the paper plots harm and CTR along the profile trajectory), on a white canvas with a light grid.

Frames are fixed-size (:mod:`recsim_envs.utils.plotting`) with labelled axes and a legend naming the three lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recsim_envs.utils.plotting import figure_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_COLOURS = np.array([[214, 39, 40], [31, 119, 180], [255, 127, 14], [44, 160, 44]], dtype=np.uint8)


#: what the harm env's three series are (legend labels, in order)
SERIES_LABELS = ("P(harmful click) $p_H$", "P(click) $p_{CLK}$", "organic harm share $\\sigma_H$")


def trajectory_image(
    series: list[np.ndarray],
    labels: tuple[str, ...] = SERIES_LABELS,
    title: str = "harm and clicks along the trajectory",
    min_steps: int = 10,
) -> np.ndarray:
    """Fixed-size frame: each series (values in [0, 1]) against the time step, with a legend of ``labels``."""
    n = max([len(np.atleast_1d(y)) for y in series] + [int(min_steps)])

    def draw(ax: Axes) -> None:
        for j, y in enumerate(series):
            y = np.asarray(y, dtype=float)
            ax.plot(np.arange(1, y.size + 1), y, color=_COLOURS[j % len(_COLOURS)] / 255.0, lw=1.8,
                    label=labels[j] if j < len(labels) else f"series {j}")  # fmt: skip
        ax.set_xlim(0.5, n + 0.5)
        ax.set_ylim(0.0, 1.0)
        ax.grid(alpha=0.3)
        ax.set_xlabel("time step t")
        ax.set_ylabel("probability / share")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85)

    return figure_frame(draw, lambda: _raster(series))


def _raster(series: list[np.ndarray], height: int = 200, width: int = 400) -> np.ndarray:
    """Polylines of each series (values in [0, 1]) over a common time axis, uint8 [height, width, 3]."""
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    img[:: height // 4, :] = 225
    img[:, :: width // 8] = 225
    img[[0, -1], :] = 120
    img[:, [0, -1]] = 120
    for j, y in enumerate(series):
        y = np.clip(np.nan_to_num(np.asarray(y, dtype=float)), 0.0, 1.0)
        if y.size == 0:
            continue
        if y.size == 1:
            y = np.repeat(y, 2)
        x = np.linspace(0, width - 1, y.size)
        # dense resampling of the polyline, then a 3-pixel-thick stroke
        xs = np.linspace(0, width - 1, 4 * width)
        ys = np.interp(xs, x, y)
        r = np.clip(((1.0 - ys) * (height - 1)).astype(int), 0, height - 1)
        c = xs.astype(int)
        for dr in (-1, 0, 1):
            img[np.clip(r + dr, 0, height - 1), c] = _COLOURS[j % len(_COLOURS)]
    return img
