"""Trajectory plots for the harm env drawn with NumPy only: analytic pH, pCLK and the organic harm share σ_H over
time (the paper plots harm and CTR along the profile trajectory), on a white canvas with a light grid."""

from __future__ import annotations

import numpy as np

_COLOURS = np.array([[214, 39, 40], [31, 119, 180], [255, 127, 14], [44, 160, 44]], dtype=np.uint8)


def trajectory_image(series: list[np.ndarray], height: int = 200, width: int = 400) -> np.ndarray:
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
