"""Drawing helpers: the paper's Fig. 1-style heatmap of the preference distribution over time, and ansi text."""

from __future__ import annotations

import numpy as np

# a short perceptual ramp (dark blue → teal → yellow), interpolated; no matplotlib needed for env rendering
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB with a viridis-like ramp."""
    v = np.clip(np.nan_to_num(values), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(v).astype(int)
    hi = np.minimum(lo + 1, len(_RAMP) - 1)
    frac = (v - lo)[..., None]
    return (_RAMP[lo] * (1 - frac) + _RAMP[hi] * frac).astype(np.uint8)


def preference_heatmap(
    distributions: np.ndarray, true_bins: np.ndarray | None = None, cell_h: int = 6, cell_w: int = 24
) -> np.ndarray:
    """Heatmap image: rows = preference bins (0° at the bottom), columns = time steps.

    ``distributions`` [T, 36] (each row a distribution); ``true_bins`` [T] marks the true preference in red.
    """
    d = np.asarray(distributions, dtype=float)
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
