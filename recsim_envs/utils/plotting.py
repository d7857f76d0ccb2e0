"""Fixed-size, labelled ``rgb_array`` frames shared by every family's renderer.

Every frame is ``FRAME_HEIGHT × FRAME_WIDTH × 3`` uint8 whatever the episode length, so video recorders
(gymnasium's ``RecordVideo``) can stack them. With matplotlib installed (the ``[train]`` extra) frames carry a
title, axis labels, ticks and a legend, drawn on a private ``Figure`` (no pyplot state, any backend). Without it
the family's plain NumPy raster is resampled to the same size, so rendering never needs matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FRAME_WIDTH, FRAME_HEIGHT = 480, 360
_DPI = 100


def resize_nearest(img: np.ndarray, height: int = FRAME_HEIGHT, width: int = FRAME_WIDTH) -> np.ndarray:
    """Nearest-neighbour resample of a uint8 [h, w, 3] image to [height, width, 3]."""
    img = np.asarray(img)
    rows = np.minimum((np.arange(height) * img.shape[0] / height).astype(int), img.shape[0] - 1)
    cols = np.minimum((np.arange(width) * img.shape[1] / width).astype(int), img.shape[1] - 1)
    return np.ascontiguousarray(img[rows][:, cols])


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg


def figure_frame(draw: Callable, fallback: Callable[[], np.ndarray]) -> np.ndarray:
    """``draw(ax)`` on a FRAME_WIDTH × FRAME_HEIGHT figure -> uint8 RGB frame; ``fallback()`` raster (resized)
    when matplotlib is missing."""
    mpl = _matplotlib()
    if mpl is None:
        return resize_nearest(fallback())
    Figure, FigureCanvasAgg = mpl
    fig = Figure(figsize=(FRAME_WIDTH / _DPI, FRAME_HEIGHT / _DPI), dpi=_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout(pad=0.6)
    canvas.draw()
    frame = np.asarray(canvas.buffer_rgba())[..., :3]
    if frame.shape[:2] != (FRAME_HEIGHT, FRAME_WIDTH):  # rounding of the figure size on odd DPI settings
        frame = resize_nearest(frame)
    return np.ascontiguousarray(frame, dtype=np.uint8)


def legend_patches(ax: Axes, items: Sequence[tuple[Sequence[int] | np.ndarray, str]], **kwargs: Any) -> None:
    """A legend of coloured squares: ``items`` = [(rgb uint8 triple, label), ...]."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=(c[0] / 255.0, c[1] / 255.0, c[2] / 255.0), label=label) for c, label in items]
    ax.legend(handles=handles, fontsize=7, framealpha=0.85, **kwargs)
